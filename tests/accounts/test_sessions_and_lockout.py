"""Passwords, brute-force lockout, session lifetime, disabled accounts (issue 7)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import sessions
from audit.actions import Action
from audit.models import AuditEntry
from tests.config.test_env import PRODUCTION, ROOT
from tests.factories import TEST_PASSWORD, UserFactory


def login(client, username, password=TEST_PASSWORD, ip="10.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip)


@pytest.mark.parametrize("password", ["court123", "1qaz2wsx3edc", "123456789012"])
def test_short_or_common_passwords_refused(password):
    with pytest.raises(ValidationError):
        validate_password(password)


def test_long_uncommon_password_without_composition_rule_accepted():
    validate_password("le chat dort sur le radiateur")


@pytest.mark.django_db
def test_login_gives_a_new_session_key(client, social_worker):
    client.get(reverse("login"))
    session = client.session
    session["before_login"] = True
    session.save()
    before = session.session_key
    assert login(client, "ts").status_code == 302
    assert client.session.session_key != before
    assert not Session.objects.filter(session_key=before).exists()


@pytest.mark.django_db
def test_account_locked_after_repeated_failures(client, social_worker, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        login(client, "ts", "pas-le-bon-mot-de-passe")
    response = login(client, "ts", ip="10.0.0.2")  # right password, other address: account locked
    assert response.status_code == 429
    assert "Connexion temporairement bloquée" in response.content.decode()
    assert "_auth_user_id" not in client.session
    failures = AuditEntry.objects.filter(action=Action.LOGIN_FAILED, user=social_worker)
    assert failures.count() == 4
    assert failures.filter(extra__locked_out=True).exists()


@pytest.mark.django_db
def test_address_locked_after_failures_on_several_accounts(client, social_worker, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for name in ("inconnu1", "inconnu2", "inconnu3"):
        login(client, name, "pas-le-bon-mot-de-passe", ip="10.0.0.9")
    assert login(client, "ts", ip="10.0.0.9").status_code == 429
    # The account itself is not locked: from another address it works.
    assert login(client, "ts", ip="10.0.0.10").status_code == 302
    unknown = AuditEntry.objects.filter(action=Action.LOGIN_FAILED, user=None)
    assert unknown.count() == 3
    assert not unknown.exclude(username="").exists()  # a typed unknown name is never kept


@pytest.mark.django_db
def test_login_and_logout_are_audited(client, social_worker):
    login(client, "ts", ip="10.1.2.3")
    client.post(reverse("logout"))
    actions = list(AuditEntry.objects.order_by("id").values_list("action", "username", "ip_address"))
    assert actions == [(Action.LOGGED_IN, "ts", "10.1.2.3"), (Action.LOGGED_OUT, "ts", "127.0.0.1")]


def signed_in(client, user):
    login(client, user.username)
    assert client.get(reverse("home")).status_code == 200


def age_session(client, *, started_ago: float, seen_ago: float):
    session = client.session
    now = sessions.now()
    session[sessions.STARTED_AT] = now - started_ago
    session[sessions.LAST_SEEN] = now - seen_ago
    session.save()


@pytest.mark.django_db
def test_idle_session_expires(client, social_worker, settings):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    signed_in(client, social_worker)
    age_session(client, started_ago=31 * 60, seen_ago=31 * 60)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "/connexion/" in response["Location"]
    assert client.get(reverse("home")).status_code == 302
    assert AuditEntry.objects.filter(action=Action.LOGGED_OUT, user=social_worker).exists()


@pytest.mark.django_db
def test_active_session_is_kept_and_refreshed(client, social_worker, settings):
    settings.SESSION_IDLE_TIMEOUT = 30 * 60
    signed_in(client, social_worker)
    age_session(client, started_ago=3600, seen_ago=29 * 60)
    assert client.get(reverse("home")).status_code == 200
    assert sessions.now() - client.session[sessions.LAST_SEEN] < 60


@pytest.mark.django_db
def test_a_short_idle_timeout_keeps_an_active_user(client, social_worker, settings):
    """With a one-minute timeout, activity is written down often enough to count."""
    settings.SESSION_IDLE_TIMEOUT = settings.SESSION_COOKIE_AGE = 60
    signed_in(client, social_worker)
    age_session(client, started_ago=600, seen_ago=40)  # active 40 s after the last write
    assert client.get(reverse("home")).status_code == 200
    session = client.session
    for key in (sessions.STARTED_AT, sessions.LAST_SEEN):
        session[key] -= 40  # 40 s later: 80 s after the last write, 40 s after the last request
    session.save()
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_absolute_lifetime_ends_even_an_active_session(client, social_worker, settings):
    settings.SESSION_ABSOLUTE_LIFETIME = 10 * 3600
    signed_in(client, social_worker)
    age_session(client, started_ago=10 * 3600 + 60, seen_ago=10)
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "/connexion/" in response["Location"]


def test_idle_timeout_settings_default_to_30_minutes(settings):
    assert settings.SESSION_COOKIE_AGE == 30 * 60 == settings.SESSION_IDLE_TIMEOUT
    assert not settings.SESSION_SAVE_EVERY_REQUEST  # the middleware saves once a minute at most


@pytest.mark.django_db
def test_session_is_written_once_a_minute_at_most(client, social_worker):
    signed_in(client, social_worker)
    age_session(client, started_ago=600, seen_ago=10)
    expiry = Session.objects.get().expire_date
    client.get(reverse("home"))
    client.get(reverse("home"))
    # Seen 10 s ago: nothing written, the store's expiry is the one set above.
    assert Session.objects.get().expire_date == expiry
    assert sessions.now() - client.session[sessions.LAST_SEEN] >= 10
    age_session(client, started_ago=600, seen_ago=sessions.activity_resolution() + 5)
    expiry = Session.objects.get().expire_date
    client.get(reverse("home"))
    # A minute old: the last-seen time and the store's expiry move forward.
    assert sessions.now() - client.session[sessions.LAST_SEEN] < 5
    assert Session.objects.get().expire_date > expiry


@pytest.mark.django_db
def test_disabling_an_account_ends_its_sessions(client, social_worker):
    signed_in(client, social_worker)
    other = UserFactory(username="autre")
    other_client = client.__class__()
    other_client.force_login(other)
    assert Session.objects.count() == 2
    social_worker.is_active = False
    social_worker.save()
    assert Session.objects.count() == 1
    assert client.get(reverse("home")).status_code == 302
    assert other_client.get(reverse("home")).status_code == 200


def test_production_cookies_are_secure_and_admins_need_a_second_factor():
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_HSTS_SECONDS > 0, s.SECURE_SSL_REDIRECT, s.OTP_REQUIRED_FOR_ADMINS,"
        " s.SESSION_COOKIE_NAME, s.CSRF_COOKIE_NAME)"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings", **PRODUCTION},
        capture_output=True,
        text=True,
    )
    assert result.stdout.split() == ["True"] * 5 + ["__Host-sessionid", "__Host-csrftoken"], result.stderr
