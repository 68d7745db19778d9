"""The production guards are system checks (`check --deploy`), and production refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from config import checks
from tests.config.test_env import PRODUCTION

ROOT = Path(__file__).resolve().parents[2]


def run(tmp_path, args: list[str], **variables) -> subprocess.CompletedProcess:
    environment = {"PATH": os.environ["PATH"], "DATA_DIR": str(tmp_path), **PRODUCTION, **variables}
    return subprocess.run(args, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


def ids(messages) -> list[str]:
    return [message.id for message in messages]


@pytest.fixture
def production(settings):
    settings.PRODUCTION = True
    settings.SECRET_KEY = PRODUCTION["SECRET_KEY"]
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["rsa.example.fr"]
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.TRUSTED_PROXY_COUNT = 1
    settings.TRUSTED_PROXIES = ["127.0.0.1/32"]
    settings.EXCHANGE_URL = ""
    settings.EXCHANGE_CA_BUNDLE = ""
    return settings


@pytest.mark.parametrize(
    "check, changes, expected",
    [
        (checks.check_secret_key, {"SECRET_KEY": "django-insecure-" + "abcdefghij" * 5}, "liaison.E002"),
        (checks.check_secret_key, {"SECRET_KEY": "changeme" * 7}, "liaison.E002"),
        (checks.check_debug, {"DEBUG": True}, "liaison.E003"),
        (checks.check_allowed_hosts, {"ALLOWED_HOSTS": []}, "liaison.E004"),
        (checks.check_allowed_hosts, {"ALLOWED_HOSTS": ["rsa.example.fr", "*"]}, "liaison.E005"),
        (checks.check_redis, {"REDIS_URL": ""}, "liaison.E008"),
        (checks.check_trusted_proxies, {"TRUSTED_PROXIES": []}, "liaison.E009"),
        (
            checks.check_exchange_server,
            {"EXCHANGE_URL": "https://ft.example", "EXCHANGE_USERNAME": ""},
            "liaison.E010",
        ),
    ],
)
def test_each_guard_fails_on_its_unsafe_value_only(production, check, changes, expected):
    assert check() == []
    for name, value in changes.items():
        setattr(production, name, value)
    assert ids(check()) == [expected]
    assert all(message.is_serious() for message in check())


@pytest.mark.parametrize(
    "engine, expected",
    [
        ("django.db.backends.dummy", ["liaison.E006"]),  # production without DATABASE_URL
        ("django.db.backends.sqlite3", ["liaison.E007"]),
        ("django.db.backends.postgresql", []),
    ],
)
def test_the_database_guard(monkeypatch, engine, expected):
    # Not through the settings fixture: overriding DATABASES would reach the test database.
    databases = {"default": {"ENGINE": engine, "NAME": "x"}}
    monkeypatch.setattr(checks, "settings", SimpleNamespace(PRODUCTION=True, DATABASES=databases))
    assert ids(checks.check_database()) == expected


def test_the_guards_hold_only_in_production(production):
    production.PRODUCTION = False
    production.DEBUG = True
    production.ALLOWED_HOSTS = ["*"]
    production.REDIS_URL = ""
    assert checks.production_errors() == []
    checks.refuse_unsafe_production()  # the embedded mode starts
    # Outside production a proxy count without its list is a warning, not an error.
    production.TRUSTED_PROXIES = []
    assert ids(checks.check_trusted_proxies()) == ["liaison.W002"]


def test_an_exchange_ca_bundle_that_is_no_file(production, tmp_path):
    production.EXCHANGE_URL = "https://ft.example"
    production.EXCHANGE_USERNAME = production.EXCHANGE_PASSWORD = "x"
    production.EXCHANGE_CA_BUNDLE = str(tmp_path / "absent.pem")
    assert ids(checks.check_exchange_server()) == ["liaison.E011"]
    (tmp_path / "absent.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    assert checks.check_exchange_server() == []


def test_check_deploy_lists_every_failing_guard_with_its_id(tmp_path):
    result = run(
        tmp_path,
        [sys.executable, "manage.py", "check", "--deploy"],
        SECRET_KEY="",
        DEBUG="true",
        ALLOWED_HOSTS="*",
        REDIS_URL="",
        EXCHANGE_URL="https://ft.example",
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    for expected in ("E001", "E003", "E005", "E008", "E010"):
        assert f"liaison.{expected}" in output, output
    assert "SECRET_KEY must be set when APP_MODE=production" in output


def test_check_deploy_is_clean_on_safe_production_settings(tmp_path):
    result = run(tmp_path, [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "liaison." not in result.stdout + result.stderr


def test_the_web_process_refuses_unsafe_production_settings(tmp_path):
    code = "import config.wsgi"
    refused = run(tmp_path, [sys.executable, "-c", code], SECRET_KEY="changeme" * 7)
    assert refused.returncode != 0
    assert "liaison.E002: SECRET_KEY is too weak" in refused.stderr


def test_the_worker_refuses_unsafe_production_settings(tmp_path):
    celery = Path(sys.executable).with_name("celery")
    # A broker nobody listens on: the worker stops before it would try it.
    refused = run(
        tmp_path,
        [str(celery), "-A", "config", "worker", "--pool=solo"],
        DEBUG="true",
        REDIS_URL="redis://127.0.0.1:9/0",
    )
    assert refused.returncode != 0
    assert "liaison.E003: DEBUG must be off" in refused.stdout + refused.stderr
