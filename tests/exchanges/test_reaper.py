"""The reaper (exchanges.reaper): runs a fault left behind are ended, with the reason, and started again.

Eager tasks here (the fresh run is executed at once against the simulator);
the worker-process scenarios (a killed worker, a lost message) are in test_faults_e2e.py.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from exchanges.models import ImportRun
from exchanges.reaper import reap
from exchanges.runs import LOCKS, Direction, ExchangeRun, RunStatus
from exchanges.tasks import fetch_pecgm, reap_exchanges
from exchanges.transfers import incoming_dir
from tests.exchanges.import_files import pecgm_file, record_for
from tests.exchanges.locks import held_elsewhere
from tests.factories import BeneficiaryFactory

pytestmark = pytest.mark.django_db(transaction=True)

JAN = date(2025, 1, 31)


@pytest.fixture
def one_monthly_file(exchange_server, tmp_path):
    (tmp_path / "made").mkdir()
    path = pecgm_file(tmp_path / "made", [record_for(p) for p in BeneficiaryFactory.create_batch(2)], JAN)
    exchange_server.publish("082", path.name, path.read_bytes())


def _silent_for(minutes: int):
    return timezone.now() - timedelta(minutes=minutes)


def test_a_silent_running_fetch_is_interrupted_and_started_again(exchange_settings, one_monthly_file):
    exchange_settings.EXCHANGE_STALE_RUN_MINUTES = 5
    dead = ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.RUNNING, periodicities="M", heartbeat_at=_silent_for(6)
    )
    reap_exchanges.delay().get()
    dead.refresh_from_db()
    assert dead.status == RunStatus.INTERRUPTED and dead.finished_at
    assert "ne donne plus signe de vie" in dead.error_message
    fresh = ExchangeRun.objects.exclude(pk=dead.pk).get()
    assert fresh.started_by == "reaper" and fresh.periodicities == "M"
    assert fresh.status == RunStatus.SUCCEEDED, fresh.error_message  # eager: done at once
    assert ImportRun.objects.filter(status="imported").count() == 1


def test_a_running_fetch_with_a_recent_heartbeat_is_left_alone(exchange_settings, one_monthly_file):
    exchange_settings.EXCHANGE_STALE_RUN_MINUTES = 5
    alive = ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.RUNNING, heartbeat_at=_silent_for(4)
    )
    assert reap() == []
    alive.refresh_from_db()
    assert alive.status == RunStatus.RUNNING
    assert ExchangeRun.objects.count() == 1


def test_a_silent_run_whose_lock_is_held_is_alive(exchange_settings, one_monthly_file):
    """Its worker holds the direction's lock: slow, not dead (advisory lock, or SQLite's file lock)."""
    late = ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.RUNNING, heartbeat_at=_silent_for(60)
    )
    with held_elsewhere(LOCKS[Direction.FETCH]):
        assert reap(at_worker_start=True) == []
    late.refresh_from_db()
    assert late.status == RunStatus.RUNNING
    # Once its holder is gone, it is dead.
    assert reap() == [late.pk]


def test_at_a_workers_start_every_running_run_is_dead_and_one_fresh_run_per_kind_is_sent(
    exchange_settings, one_monthly_file
):
    """At a worker's start, a free lock tells a dead run, however recent its heartbeat."""
    first = ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.RUNNING, heartbeat_at=timezone.now()
    )
    second = ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.RUNNING, heartbeat_at=None
    )
    assert sorted(reap(at_worker_start=True)) == [first.pk, second.pk]
    assert ExchangeRun.objects.filter(started_by="reaper").count() == 1


def test_a_fetch_removes_the_partial_downloads_dead_fetches_left(exchange_settings, one_monthly_file):
    folder = incoming_dir()
    folder.mkdir(parents=True)
    stale = folder / ".PECGM_082_20250131_M.xml.abc123.part"
    stale.write_bytes(b"<PECGM>... a dead fetch's copy")
    fetch_pecgm.delay(started_by="beat").get()
    assert not stale.exists()
    assert list(folder.iterdir()) == []
