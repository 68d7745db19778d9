"""Degraded, not down: without Redis the pages answer; /healthz says what is down; /livez stays simple."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse

from config import cache as cache_module
from exchanges.runs import worker_seen
from exchanges.simulator import free_port
from tests.factories import TEST_PASSWORD, BeneficiaryFactory

pytestmark = pytest.mark.django_db


def _redis_cache(settings, url: str) -> None:
    """Production's cache and sessions (config/settings.py), on `url`."""
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": "liaison",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2},
        }
    }
    settings.SESSION_ENGINE = "accounts.session_store"


@pytest.fixture(autouse=True)
def _cache_up_again():
    cache_module._state.update(down_until=0.0, down_since=None)
    yield
    cache_module._state.update(down_until=0.0, down_since=None)


def test_without_redis_the_pages_answer_and_admins_see_a_banner(client, settings, admin_user, social_worker):
    _redis_cache(settings, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    BeneficiaryFactory.create_batch(3)
    assert client.login(username=social_worker.username, password=TEST_PASSWORD)
    for name in ("home", "beneficiary_list"):
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        assert "Mode dégradé" not in response.content.decode()  # for admins only
    client.logout()
    assert client.login(username=admin_user.username, password=TEST_PASSWORD)
    page = client.get(reverse("home")).content.decode()
    assert "Mode dégradé : Redis ne répond pas." in page


def test_a_session_ended_while_redis_was_down_does_not_come_back_with_it(
    client, settings, redis_server, social_worker
):
    """The logout could not reach Redis: the key is deleted once Redis answers again."""
    _redis_cache(settings, redis_server.url)
    assert client.login(username=social_worker.username, password=TEST_PASSWORD)
    assert client.get(reverse("beneficiary_list")).status_code == 200
    old_cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    redis_server.stop()
    client.logout()  # the database row goes; Redis, down, keeps its copy (on disk)
    redis_server.start()
    cache_module._state["down_until"] = 0.0  # not waiting DOWN_SECONDS
    client.cookies[settings.SESSION_COOKIE_NAME] = old_cookie
    response = client.get(reverse("beneficiary_list"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


def test_counts_cached_while_redis_was_down_are_computed_again(settings, redis_server):
    _redis_cache(settings, redis_server.url)
    cache.set("liaison-test", "before")
    redis_server.stop()
    assert cache.get("liaison-test") is None  # a miss, not an error
    cache.set("liaison-test", "during")  # dropped, and remembered
    assert cache_module.cache_is_down()
    redis_server.start()
    cache_module._state["down_until"] = 0.0
    assert cache.get("liaison-test") is None  # the outdated "before" was deleted first


def test_healthz_reports_each_dependency_and_fails_the_roles_that_need_what_is_down(client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False
    web = client.get(reverse("healthz"))
    assert web.status_code == 200  # the pages go on without Redis
    body = web.json()
    assert body["status"] == "degraded" and body["role"] == "web"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["redis"] == {"status": "down"}
    assert body["checks"]["worker"] == {"status": "down", "last_seen": None}
    assert body["last_successful_exchange"] == {"fetch": None, "deposit": None}
    assert "redis://" not in web.content.decode()
    for role in ("worker", "beat", "exchanges"):
        assert client.get(reverse("healthz"), {"role": role}).status_code == 503, role
    assert client.get(reverse("healthz"), {"role": "n'importe"}).status_code == 400


@pytest.mark.redis
def test_healthz_for_exchanges_needs_a_worker_seen_lately(client, settings):
    import os

    settings.REDIS_URL = os.environ["TEST_REDIS_URL"]
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert client.get(reverse("healthz"), {"role": "worker"}).status_code == 200
    assert client.get(reverse("healthz"), {"role": "exchanges"}).status_code == 503
    worker_seen("celery@app")
    answer = client.get(reverse("healthz"), {"role": "exchanges"})
    assert answer.status_code == 200 and answer.json()["status"] == "ok"


def test_livez_asks_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("livez"))
    assert response.status_code == 200 and response.json() == {"status": "alive"}
