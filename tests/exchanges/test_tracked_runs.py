"""The machinery every tracked run shares (exchanges.tracked_runs): lock, progress, sweep, error kind.

The lock and the sweep run on both backends (advisory lock on PostgreSQL, file
lock on SQLite); the side connection of the progress is PostgreSQL's.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from exchanges import pecgm_import
from exchanges.models import ImportRun, ImportStatus
from exchanges.pecgm_import import IMPORT_LOCK, ImportBusy, import_pecgm, reap_imports
from exchanges.reaper import reap
from exchanges.runs import LOCKS, Direction, ExchangeRun, RunStatus, interrupted_runs_over
from exchanges.tasks import fetch_pecgm
from exchanges.tracked_runs import ErrorKind, LockBusy, NamedLock, ProgressPublisher
from tests.exchanges.import_files import pecgm_file, record_for
from tests.exchanges.locks import held_elsewhere
from tests.factories import BeneficiaryFactory

JAN = date(2025, 1, 31)


# --- The named lock ------------------------------------------------------------------------


def test_the_lock_keys_are_the_names_bytes_as_before():
    """Processes of the previous version and this one exclude each other (PostgreSQL keys)."""
    assert IMPORT_LOCK.key == 0x5045_4347_4D
    assert LOCKS[Direction.FETCH].key == 0x4558_4348_46
    assert LOCKS[Direction.DEPOSIT].key == 0x4558_4348_44
    with pytest.raises(ValueError):
        NamedLock("TOO-LONG", "x.lock")


@pytest.mark.django_db(transaction=True)
def test_a_second_holder_is_refused_until_the_first_releases():
    lock = NamedLock("TESTL", "test.lock")
    with held_elsewhere(lock):
        assert lock.acquire() is False
        with pytest.raises(LockBusy), lock.held():
            pytest.fail("the block ran without the lock")
        with lock.if_free() as free:
            assert free is False
    # Re-entrant for its holder (the reaper runs the fresh run it sends, eager tasks).
    with lock.held(), lock.if_free() as again:
        assert again is True
    # Released as many times as taken: another holder takes it now.
    with held_elsewhere(lock):
        pass


@pytest.mark.django_db(transaction=True)
def test_the_import_and_an_exchange_take_the_same_kind_of_lock(tmp_path):
    with held_elsewhere(IMPORT_LOCK), pytest.raises(ImportBusy, match="Un autre import PECGM"):
        import_pecgm(pecgm_file(tmp_path, [record_for(None)], JAN))
    assert not ImportRun.objects.exists()
    run = ExchangeRun.objects.create(direction=Direction.DEPOSIT)
    from exchanges.runs import RunBusy, run_lock

    with held_elsewhere(LOCKS[Direction.DEPOSIT]), pytest.raises(RunBusy), run_lock(run):
        pytest.fail("the block ran without the lock")
    # The other direction's lock is another lock.
    with held_elsewhere(LOCKS[Direction.FETCH]), run_lock(run):
        pass


# --- The interrupted sweep, both kinds of run --------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_imports_left_running_are_interrupted_by_the_reaper_once_the_import_lock_is_free():
    dead = ImportRun.objects.create(file_name="PECGM_082_20250131_M.xml", sha256="d" * 64)
    done = ImportRun.objects.create(file_name="b.xml", sha256="b" * 64, status=ImportStatus.IMPORTED)
    with held_elsewhere(IMPORT_LOCK):
        assert reap_imports() == 0  # an import holds it: alive
        reap()
    dead.refresh_from_db()
    assert dead.status == ImportStatus.RUNNING
    reap()
    dead.refresh_from_db()
    assert dead.status == ImportStatus.INTERRUPTED and dead.error_kind == ErrorKind.CRASH
    assert dead.error_message == pecgm_import.INTERRUPTED_MESSAGE and dead.finished_at
    done.refresh_from_db()
    assert done.status == ImportStatus.IMPORTED and done.error_kind == ""


@pytest.mark.django_db
def test_exchanges_left_running_are_interrupted_under_their_directions_lock():
    alive = ExchangeRun.objects.create(direction=Direction.FETCH, status=RunStatus.RUNNING)
    dead = ExchangeRun.objects.create(direction=Direction.FETCH, status=RunStatus.RUNNING)
    other = ExchangeRun.objects.create(direction=Direction.DEPOSIT, status=RunStatus.RUNNING)
    queued = ExchangeRun.objects.create(direction=Direction.FETCH, status=RunStatus.QUEUED)
    interrupted_runs_over(alive)
    statuses = dict(ExchangeRun.objects.values_list("pk", "status"))
    assert statuses == {
        alive.pk: RunStatus.RUNNING,
        dead.pk: RunStatus.INTERRUPTED,
        other.pk: RunStatus.RUNNING,
        queued.pk: RunStatus.QUEUED,
    }
    dead.refresh_from_db()
    assert dead.error_kind == ErrorKind.CRASH and "s'est arrêté" in dead.error_message


# --- Rejection or crash: told by the kind, never by the message -----------------------------------


@pytest.mark.django_db
def test_an_import_says_rejection_or_crash(tmp_path, monkeypatch):
    rejected = import_pecgm(pecgm_file(tmp_path, [record_for(None)], JAN, departement="31"))
    assert rejected.status == ImportStatus.REJECTED and rejected.error_kind == ErrorKind.REJECTION

    def crash(self, record):
        raise MemoryError

    monkeypatch.setattr(pecgm_import._Batches, "add", crash)
    with pytest.raises(MemoryError):
        import_pecgm(pecgm_file(tmp_path, [record_for(None)], date(2025, 2, 28)))
    crashed = ImportRun.objects.get(status=ImportStatus.INTERRUPTED)
    assert crashed.error_kind == ErrorKind.CRASH and crashed.is_crash and not crashed.is_rejection


@pytest.mark.django_db(transaction=True)
def test_a_fetch_takes_an_earlier_verdict_from_its_kind_not_its_message(
    exchange_settings, exchange_server, tmp_path
):
    """Same bytes, same (empty) message: a crash is no verdict, a rejection is one."""
    (tmp_path / "made").mkdir()
    path = pecgm_file(tmp_path / "made", [record_for(BeneficiaryFactory())], JAN)
    exchange_server.publish("082", path.name, path.read_bytes())
    sha256 = pecgm_import._fingerprint(path)[0]
    earlier = ImportRun.objects.create(
        file_name="other-name.xml",
        sha256=sha256,
        status=ImportStatus.REJECTED,
        error_kind=ErrorKind.REJECTION,
        finished_at=None,
    )
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["files"][0]["status"] == "rejected" and summary["files"][0]["import_run"] == earlier.pk
    assert summary["status"] == "failed"
    assert ExchangeRun.objects.get().error_kind == ErrorKind.REJECTION

    ImportRun.objects.filter(pk=earlier.pk).update(
        status=ImportStatus.INTERRUPTED, error_kind=ErrorKind.CRASH
    )
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "succeeded", summary
    assert summary["files"][0]["status"] == ImportStatus.IMPORTED


# --- The progress publisher ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_progress_outside_a_transaction_is_an_ordinary_update():
    run = ExchangeRun.objects.create(direction=Direction.FETCH, status=RunStatus.RUNNING)
    with ProgressPublisher(run) as publisher:
        publisher.publish(progress_done=3, progress_total=4)
        assert not publisher.side.opened  # no second connection for that
    run.refresh_from_db()
    assert (run.progress_done, run.progress_total, run.progress_percent) == (3, 4, 75)
    assert run.heartbeat_at is not None


@pytest.mark.django_db(transaction=True)
def test_progress_inside_a_transaction_shows_at_once_on_postgresql_and_at_its_end_on_sqlite():
    run = ImportRun.objects.create(file_name="x.xml", sha256="x" * 64)
    postgres = connection.vendor == "postgresql"
    with ProgressPublisher(run) as publisher, transaction.atomic():
        publisher.publish(progress_done=50, progress_total=200)
        assert run.progress_done == 50  # on the object, for the end of the run
        # SQLite: one writer at a time, no second connection; the run's own save shows it.
        assert publisher.side.opened is postgres
    assert ImportRun.objects.get(pk=run.pk).progress_done == (50 if postgres else 0)


def _sessions(watcher) -> set[int]:
    """The sessions on the test database, seen from outside any transaction (inside one,
    pg_stat_activity is a snapshot taken at its first reading)."""
    with watcher.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_progress_inside_a_transaction_goes_through_one_side_connection_for_the_runs_life():
    run = ExchangeRun.objects.create(direction=Direction.FETCH, status=RunStatus.RUNNING)
    watcher = connections.create_connection("default")  # the pages' view of the run
    watcher.ensure_connection()
    before = _sessions(watcher)
    seen: set[int] = set()
    try:
        with ProgressPublisher(run) as publisher, transaction.atomic():
            for done in range(1, 11):
                publisher.publish(progress_done=done, progress_total=10)
                with watcher.cursor() as cursor:
                    cursor.execute("SELECT progress_done FROM exchanges_exchangerun WHERE id = %s", [run.pk])
                    # Visible outside the transaction at once.
                    assert cursor.fetchone() == (done,)
                seen |= _sessions(watcher) - before
        # Ten publishes, one connection (the exchange used to open one per publish).
        assert len(seen) == 1, seen
        assert not publisher.side.opened
        assert _sessions(watcher) - before == set()
    finally:
        watcher.close()


# --- The migration: existing rows keep their meaning ---------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_progress_and_gives_each_ended_run_its_kind():
    before, after = (
        [("exchanges", "0015_stuck_alerts_and_workers_seen")],
        [("exchanges", "0016_tracked_runs")],
    )
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldImportRun, OldExchangeRun = (
        old.get_model("exchanges", "ImportRun"),
        old.get_model("exchanges", "ExchangeRun"),
    )
    imports = {
        status: OldImportRun.objects.create(
            file_name=f"{status}.xml", sha256=status[0] * 64, status=status, progress_processed=7
        ).pk
        for status in ("imported", "rejected", "interrupted", "running")
    }
    exchanges = {
        message: OldExchangeRun.objects.create(direction="fetch", status=status, error_message=message).pk
        for status, message in [
            ("failed", "Identifiant ou mot de passe refusé (401)"),
            ("failed", "Erreur inattendue : voir le journal du serveur (échange n° 3)."),
            ("interrupted", "Interrompu : le processus qui l'exécutait s'est arrêté."),
            ("succeeded", ""),
        ]
    }
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    NewImportRun, NewExchangeRun = (
        new.get_model("exchanges", "ImportRun"),
        new.get_model("exchanges", "ExchangeRun"),
    )
    kinds = dict(NewImportRun.objects.values_list("pk", "error_kind"))
    assert kinds == {
        imports["imported"]: "",
        imports["rejected"]: "rejection",
        imports["interrupted"]: "crash",
        imports["running"]: "",
    }
    assert set(NewImportRun.objects.values_list("progress_done", flat=True)) == {7}
    assert [NewExchangeRun.objects.get(pk=pk).error_kind for pk in exchanges.values()] == [
        "rejection",
        "crash",
        "crash",
        "",
    ]
    # Back to the latest state for the rest of the session.
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
