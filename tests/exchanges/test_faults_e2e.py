"""Faults delay an exchange, never lose it: a real worker, PostgreSQL, Redis and the simulator.

Each scenario cuts something under a running import and checks that, with no
manual step, the file ends imported exactly once and the run in a truthful
final state.

PostgreSQL is shared with the rest of the machine, so "restarting" it is done
on the test database only: every connection of the worker terminated, and new
ones refused (`ALLOW_CONNECTIONS false`) for a few seconds, which is what a
restart looks like from the worker.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from beneficiaries.models import Beneficiary
from exchanges.models import ImportRun, ImportStatus, JobSeekerSnapshot
from exchanges.runs import Direction, ExchangeRun, RunStatus
from exchanges.synthetic import fake_pecgm_records, write_pecgm
from tests.exchanges.import_files import pecgm_file, record_for
from tests.exchanges.worker import wait_for_run
from tests.factories import BeneficiaryFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

JAN = date(2025, 1, 31)


def _publish_big_file(server, tmp_path, count: int) -> None:
    path = tmp_path / "PECGM_082_20250131_M.xml"
    write_pecgm(path, fake_pecgm_records(None, count, seed=11, reference_date=JAN), reference_date=JAN)
    server.publish("082", path.name, path.read_bytes())


def _wait_until_the_import_is_going(count: int) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ImportRun.objects.filter(status="running", progress_done__gt=count // 5).exists():
            return
        time.sleep(0.05)
    raise AssertionError("the import never got going")


def _worker_backends(cursor) -> list[tuple[int, bool]]:
    """(pid, holds an advisory lock) of every other session on the test database."""
    cursor.execute(
        """
        SELECT a.pid, EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory')
        FROM pg_stat_activity a
        WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
          AND a.backend_type = 'client backend'
        """
    )
    return cursor.fetchall()


def _assert_imported_exactly_once(count: int) -> None:
    (run,) = wait_for_run(Direction.FETCH, timeout=240)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.attempts >= 2
    statuses = list(ImportRun.objects.order_by("id").values_list("status", flat=True))
    # The cut attempt is « interrompu » (not the file's fault), then the file is imported.
    assert statuses[-1] == ImportStatus.IMPORTED
    assert set(statuses[:-1]) == {ImportStatus.INTERRUPTED}, statuses
    assert ImportRun.objects.filter(status=ImportStatus.REJECTED).count() == 0
    imported = ImportRun.objects.get(status=ImportStatus.IMPORTED)
    assert imported.records == count
    assert JobSeekerSnapshot.objects.count() == count
    assert set(JobSeekerSnapshot.objects.values_list("run_id", flat=True).distinct()) == {imported.pk}
    assert Beneficiary.objects.count() == imported.created


def test_the_imports_second_connection_terminated_the_file_is_imported_once(
    start_worker, exchange_server, tmp_path
):
    count = 20000
    _publish_big_file(exchange_server, tmp_path, count)
    worker = start_worker(exchange_server)
    worker.send("pecgm-monthly-stock")
    _wait_until_the_import_is_going(count)
    with connection.cursor() as cursor:
        # The import's side connection (progress, ids): not the one holding the locks.
        side = [pid for pid, locks in _worker_backends(cursor) if not locks]
        assert side, _worker_backends(cursor)
        for pid in side:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    _assert_imported_exactly_once(count)
    interrupted = ImportRun.objects.get(status=ImportStatus.INTERRUPTED)
    assert "base de données" in interrupted.error_message


def test_postgresql_restarting_mid_import_the_file_is_imported_once(start_worker, exchange_server, tmp_path):
    count = 20000
    _publish_big_file(exchange_server, tmp_path, count)
    worker = start_worker(exchange_server)
    worker.send("pecgm-monthly-stock")
    _wait_until_the_import_is_going(count)
    db = connection.settings_dict
    # A database cannot refuse connections from one of its own sessions: done from "postgres".
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"],
        dbname="postgres",
        autocommit=True,
    ) as admin:
        admin.execute(f'ALTER DATABASE "{db["NAME"]}" ALLOW_CONNECTIONS false')
        try:
            with connection.cursor() as cursor:
                for pid, _locks in _worker_backends(cursor):
                    cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            # The worker finds the database gone for a while, as during a restart.
            time.sleep(4)
        finally:
            admin.execute(f'ALTER DATABASE "{db["NAME"]}" ALLOW_CONNECTIONS true')
    _assert_imported_exactly_once(count)
    log = worker.log.read_text(errors="replace")
    assert "database unavailable" in log


def test_the_worker_group_killed_mid_import_a_restarted_worker_takes_the_run_over(
    start_worker, exchange_server, tmp_path
):
    """Killed as a whole (no redelivery before Redis's hour): the next worker's start reaps the run."""
    count = 20000
    _publish_big_file(exchange_server, tmp_path, count)
    worker = start_worker(exchange_server)
    worker.send("pecgm-monthly-stock")
    _wait_until_the_import_is_going(count)
    incoming = Path(settings.EXCHANGE_FILES_DIR) / "incoming"
    assert list(incoming.glob(".*.part"))  # the download being imported
    for pid in [*worker.children(), worker.process.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.process.wait(10)
    (dead,) = ExchangeRun.objects.all()
    assert dead.status == RunStatus.RUNNING

    start_worker(exchange_server, queue=worker.queue)  # what systemd's Restart=always does
    runs = wait_for_run(Direction.FETCH, timeout=240, count=2)
    dead.refresh_from_db()
    assert dead.status == RunStatus.INTERRUPTED and "signe de vie" in dead.error_message
    fresh = runs[-1]
    assert fresh.started_by == "reaper" and fresh.status == RunStatus.SUCCEEDED, fresh.error_message
    assert list(ImportRun.objects.order_by("id").values_list("status", flat=True)) == [
        ImportStatus.INTERRUPTED,
        ImportStatus.IMPORTED,
    ]
    assert JobSeekerSnapshot.objects.count() == count
    assert not list(incoming.glob(".*.part"))  # the dead fetch's copy (every NIR) is gone


def test_a_queued_run_whose_message_redis_lost_is_sent_again(start_worker, exchange_server, tmp_path):
    path = pecgm_file(tmp_path, [record_for(p) for p in BeneficiaryFactory.create_batch(3)], JAN)
    exchange_server.publish("082", path.name, path.read_bytes())
    queue = f"e2e-{uuid.uuid4().hex[:12]}"
    run = ExchangeRun.objects.create(direction=Direction.FETCH, task_id=str(uuid.uuid4()), periodicities="M")
    broker = redis.Redis.from_url(os.environ["TEST_REDIS_URL"])
    # Sent, then lost: the queue emptied as a flush or a restart without persistence does.
    sender = Celery(broker=os.environ["TEST_REDIS_URL"], set_as_current=False)
    sender.send_task(
        "exchanges.tasks.fetch_pecgm", kwargs={"run_id": run.pk}, task_id=run.task_id, queue=queue
    )
    sender.close()
    assert broker.llen(queue) == 1
    broker.delete(queue)
    ExchangeRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=10))

    start_worker(exchange_server, queue=queue, EXCHANGE_STALE_RUN_MINUTES="5")
    lost, fresh = wait_for_run(Direction.FETCH, timeout=120, count=2)
    assert lost.pk == run.pk and lost.status == RunStatus.INTERRUPTED
    assert "perdue" in lost.error_message
    assert fresh.started_by == "reaper" and fresh.status == RunStatus.SUCCEEDED, fresh.error_message
    assert ImportRun.objects.filter(status="imported").count() == 1


def test_redis_restarting_while_a_task_runs_the_worker_survives_and_the_run_ends(
    start_worker, exchange_server, tmp_path, redis_server
):
    """Redis gone for five seconds mid-import (a restart): the worker stays up and reconnects.

    The worker is started as in production (gossip, mingle, heartbeat on). With celery and
    kombu 5.7.0 and redis-py 8.2.0, without the work-around in config/celery.py, its main
    process stopped as "unrecoverable" (`Error on stopping Hub: AttributeError: 'NoneType'
    object has no attribute 'hostname'`) and no exchange ran again until someone restarted it.
    """
    count = 20000
    _publish_big_file(exchange_server, tmp_path, count)
    worker = start_worker(exchange_server, as_in_production=True, REDIS_URL=redis_server.url)
    worker.send("pecgm-monthly-stock")
    _wait_until_the_import_is_going(count)
    redis_server.stop()
    time.sleep(5)
    redis_server.start()
    (run,) = wait_for_run(Direction.FETCH, timeout=240)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert ImportRun.objects.filter(status=ImportStatus.IMPORTED).count() == 1
    assert JobSeekerSnapshot.objects.count() == count
    # Still there for the next exchange: a task sent after the restart runs.
    time.sleep(3)
    assert worker.process.poll() is None, worker.log.read_text(errors="replace")[-3000:]
    worker.send("pecgm-monthly-stock")
    first, second = wait_for_run(Direction.FETCH, timeout=120, count=2)
    assert second.status == RunStatus.SUCCEEDED and second.counts["skipped"] == 1
    assert "'NoneType' object has no attribute 'hostname'" not in worker.log.read_text(errors="replace")
