import os

import pytest
from django.db import connection


@pytest.mark.django_db
def test_suite_runs_on_the_configured_database():
    """Under CI the suite must really run on PostgreSQL, not fall back to SQLite."""
    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_sessions_are_tuned_for_short_page_queries():
    """JIT off, no parallel workers, an SSD's random read cost (config/settings.py says why)."""
    with connection.cursor() as cursor:
        settings = {}
        for name in ("jit", "max_parallel_workers_per_gather", "random_page_cost"):
            cursor.execute(f"SHOW {name}")
            settings[name] = cursor.fetchone()[0]
    assert settings == {"jit": "off", "max_parallel_workers_per_gather": "0", "random_page_cost": "1.1"}
