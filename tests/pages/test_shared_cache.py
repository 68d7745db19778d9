"""Production's cache: Redis, shared by gunicorn's workers and Celery (config/settings.py, "Cache")."""

from __future__ import annotations

import os

import pytest
import redis
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.urls import reverse

from pages.versioned_cache import invalidate_dashboard
from tests.beneficiaries.factories import followup, registered
from tests.factories import TEST_PASSWORD, BeneficiaryFactory

pytestmark = [pytest.mark.redis, pytest.mark.django_db]


@pytest.fixture
def redis_cache(_require_redis, settings):
    """The settings production derives from REDIS_URL, on a database of its own (emptied after)."""
    url = os.environ["TEST_REDIS_URL"].rsplit("/", 1)[0] + "/5"
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "liaison",
        }
    }
    settings.SESSION_ENGINE = "accounts.session_store"
    cache.clear()
    invalidate_dashboard()
    yield redis.Redis.from_url(url)
    cache.clear()


def test_lists_dashboard_and_sessions_live_in_redis(client, orientation_officer, redis_cache):
    for index in range(3):
        followup(BeneficiaryFactory(birth_name=f"Nom{index}", usage_name=""), **registered())
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    url = reverse("beneficiary_list")

    first = client.get(url, {"statut": "inscrit", "tri": "-inscription"})
    assert first.context["page"].count == 3
    keys = {key.decode() for key in redis_cache.keys("liaison:*")}
    # The ids of the list, sorted, and the session: what another worker will read.
    assert any(":beneficiaries:ids" in key for key in keys), keys
    assert any(":beneficiaries:sorted--inscription:" in key for key in keys), keys
    assert any("django.contrib.sessions.cached_db" in key for key in keys), keys

    again = client.get(url, {"statut": "inscrit", "tri": "-inscription"})
    assert [row.pk for row in again.context["page"]] == [row.pk for row in first.context["page"]]

    dashboard = client.get(reverse("dashboard"))
    assert dashboard.status_code == 200
    assert any("template.cache" in key.decode() for key in redis_cache.keys("liaison:*"))


def test_one_redis_client_serves_every_call(redis_cache):
    client = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is client
    cache.set("essai", {"valeur": 1})
    assert cache.get("essai") == {"valeur": 1}
    assert redis_cache.exists(cache.make_key("essai"))


def test_a_disabled_account_s_session_leaves_redis_too(client, social_worker, redis_cache):
    client.login(username=social_worker.username, password=TEST_PASSWORD)
    assert client.get(reverse("home")).status_code == 200
    session_keys = lambda: [key for key in redis_cache.keys("liaison:*") if b"sessions.cached_db" in key]  # noqa: E731
    assert len(session_keys()) == 1
    social_worker.is_active = False
    social_worker.save()
    assert session_keys() == []
    assert not Session.objects.exists()
