"""Shared fixtures: one user per role, service detection.

A test that needs a service this machine lacks is skipped with the reason;
under CI (`REQUIRE_SERVICES=1`, set by .ci/services.sh) the same situation is
an error, so that a broken CI setup cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest
from django.db import connection

from beneficiaries.demo import DEMO_COMMUNES
from tests.factories import TerritoryFactory, UserFactory

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"


def need_service(available: bool, reason: str) -> None:
    if available:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"CI requires this service but it is missing: {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("postgres"):
            item.fixturenames.append("_require_postgres")
        if item.get_closest_marker("browser"):
            item.fixturenames.append("_require_chromium")
        if item.get_closest_marker("redis"):
            item.fixturenames.append("_require_redis")


@pytest.fixture
def _require_postgres():
    need_service(connection.vendor == "postgresql", "needs PostgreSQL: set DATABASE_URL")


@pytest.fixture
def _require_chromium():
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    need_service(shutil.which(path) is not None, f"needs Chromium at {path}")


@pytest.fixture
def _require_redis():
    need_service(bool(os.environ.get("TEST_REDIS_URL")), "needs Redis: set TEST_REDIS_URL")


@pytest.fixture(autouse=True)
def _data_dirs(settings, tmp_path):
    """Every test writes its files under its own temporary folder (and takes its import lock there)."""
    settings.DATA_DIR = tmp_path
    settings.EXCHANGE_FILES_DIR = tmp_path / "files"


@pytest.fixture
def social_worker(db):
    """Assigned to a territory covering every commune the factories use (see beneficiaries/scoping.py)."""
    user = UserFactory(username="ts", role="social_worker")
    user.territories.add(
        TerritoryFactory(name="Tout le territoire de test", communes=" ".join(DEMO_COMMUNES))
    )
    return user


@pytest.fixture
def orientation_officer(db):
    return UserFactory(username="co", role="orientation_officer")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="adm", role="admin")


@pytest.fixture
def users(social_worker, orientation_officer, admin_user):
    """One user per role, keyed by role (None: anonymous)."""
    return {
        None: None,
        "social_worker": social_worker,
        "orientation_officer": orientation_officer,
        "admin": admin_user,
    }


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache: counts cached under a data version must not leak
    from one test's (rolled back) data into the next, whose ids may repeat."""
    from django.core.cache import cache

    from pages.versioned_cache import invalidate_dashboard

    cache.clear()
    invalidate_dashboard()


# A private redis-server that tests may stop and restart (tests/redis_server.py).
from tests.redis_server import redis_server  # noqa: E402, F401
