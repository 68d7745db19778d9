"""Exchange runs through the Celery tasks (eager here), the commands and the transfers.

The simulator is real (HTTPS, in-process); PECGM files are written by the
synthetic generator. The worker-process scenarios are in test_e2e.py.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from exchanges.models import FollowUp, ImportRun, ImportStatus
from exchanges.runs import LOCKS, Direction, ExchangeRun, RunStatus
from exchanges.simulator import free_port
from exchanges.tasks import fetch_pecgm
from tests.exchanges.conftest import USER
from tests.exchanges.import_files import pecgm_file, record_for
from tests.exchanges.locks import held_elsewhere
from tests.factories import BeneficiaryFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

JAN, FEB = date(2025, 1, 31), date(2025, 2, 28)


def publish(
    server, tmp_path, day: date, records: list[dict], periodicity: str = "M", name: str | None = None
):
    path = pecgm_file(tmp_path / "made", records, day, periodicity)
    server.publish("082", name or path.name, path.read_bytes())
    return path


@pytest.fixture
def two_monthly_files(exchange_server, tmp_path):
    (tmp_path / "made").mkdir()
    people = BeneficiaryFactory.create_batch(3)
    records = [record_for(person) for person in people]
    publish(exchange_server, tmp_path, FEB, records)
    publish(exchange_server, tmp_path, JAN, records[:2])
    return people


def test_fetch_imports_both_monthly_files_in_reference_date_order(
    exchange_settings, exchange_server, two_monthly_files, monkeypatch
):
    from django.core.cache import cache

    from exchanges import table_statistics
    from pages import versioned_cache, warming

    warmed = []

    def warm():
        warmed.append((ExchangeRun.objects.get().status, cache.get(versioned_cache._AFTER_IMPORT_KEY)))
        return 1

    monkeypatch.setattr(warming, "warm_counts", warm)
    monkeypatch.setattr(table_statistics, "analyze_outgrown", lambda models, rows: warmed.append(rows) or [])
    summary = fetch_pecgm.delay(started_by="beat").get()
    # The planner's statistics, then the pages' counts, once for the two files, the run already
    # shown as done; until then the pages kept the previous counts.
    assert warmed == [5, (RunStatus.SUCCEEDED, 1)]
    assert cache.get(versioned_cache._AFTER_IMPORT_KEY) is None
    run = ExchangeRun.objects.get()
    assert summary["status"] == "succeeded", summary
    assert run.status == RunStatus.SUCCEEDED and run.started_by == "beat" and run.finished_at
    assert [entry["name"] for entry in run.files] == ["PECGM_082_20250131_M.xml", "PECGM_082_20250228_M.xml"]
    imports = list(ImportRun.objects.order_by("id"))
    assert [(i.file_name, i.status) for i in imports] == [
        ("PECGM_082_20250131_M.xml", ImportStatus.IMPORTED),
        ("PECGM_082_20250228_M.xml", ImportStatus.IMPORTED),
    ]
    assert run.counts["imported"] == 2 and run.counts["records"] == 5
    assert run.progress_done == run.progress_total > 0 and run.progress_percent == 100
    # the raw files are archived for download, the temporary ones are gone
    root = exchange_settings.EXCHANGE_FILES_DIR
    for entry in run.files:
        served = exchange_server.root / "082" / "PECGM" / entry["name"]
        assert (root / entry["archive"]).read_bytes() == served.read_bytes()
        assert stat.S_IMODE((root / entry["archive"]).stat().st_mode) == 0o600  # NIRs inside
    assert not any((root / "incoming").iterdir())


def test_the_same_file_offered_twice_is_imported_once(exchange_settings, exchange_server, tmp_path):
    (tmp_path / "made").mkdir()
    path = publish(exchange_server, tmp_path, JAN, [record_for(BeneficiaryFactory())])
    fetch_pecgm.delay(started_by="beat").get()
    # again under the same name (still on the server), and under another name
    exchange_server.publish("082", "PECGM_082_20250131_Q.xml", path.read_bytes())
    second = fetch_pecgm.delay(started_by="beat").get()
    assert second["status"] == "succeeded"
    assert second["counts"]["skipped"] == 1 and second["counts"]["duplicates"] == 1
    assert second["counts"]["imported"] == 0
    assert ImportRun.objects.filter(status__in=["imported", "imported_with_rejects"]).count() == 1


def test_wrong_password_fails_clearly_and_imports_nothing(exchange_settings, two_monthly_files):
    exchange_settings.EXCHANGE_PASSWORD = "pas-le-bon"
    summary = fetch_pecgm.delay(started_by="beat").get()
    run = ExchangeRun.objects.get()
    assert run.status == RunStatus.FAILED == summary["status"]
    assert "401" in run.error_message and "EXCHANGE_PASSWORD" in run.error_message
    assert "pas-le-bon" not in run.error_message
    assert not ImportRun.objects.exists()


def test_server_down_fails_after_retries_in_eager_mode(exchange_settings):
    exchange_settings.EXCHANGE_URL = f"https://127.0.0.1:{free_port()}"
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "failed"
    assert "injoignable" in summary["error"]


def test_rejected_file_fails_the_run_and_names_the_file(exchange_settings, exchange_server):
    exchange_server.publish("082", "PECGM_082_20250131_M.xml", b"<PECGM><ENTETE>")
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "failed"
    assert "PECGM_082_20250131_M.xml" in summary["error"]
    assert summary["files"][0]["status"] == "rejected"
    # the same broken bytes are not imported again on the next fetch
    fetch_pecgm.delay(started_by="beat").get()
    assert ImportRun.objects.count() == 1


def test_a_collapsed_stock_is_refused_by_the_exchange_run_with_what_to_do(
    exchange_settings, exchange_server, tmp_path
):
    (tmp_path / "made").mkdir()
    records = [record_for(person) for person in BeneficiaryFactory.create_batch(4)]
    publish(exchange_server, tmp_path, JAN, records)
    publish(exchange_server, tmp_path, FEB, records[:1])
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "failed" and "PECGM_082_20250228_M.xml" in summary["error"]
    refused = summary["files"][1]
    assert refused["status"] == "rejected" and "--force-small-stock" in refused["message"]
    assert not FollowUp.objects.filter(absent_from_last_stock=True).exists()


def test_an_import_interrupted_by_our_fault_is_taken_again_by_the_next_fetch(
    exchange_settings, exchange_server, tmp_path, monkeypatch
):
    """A full disk is not the file's fault: the attempt is « interrompu » and the file is retried.

    The interrupted attempt's message is whatever it is: the next fetch decides on its status.
    """
    from exchanges import pecgm_import

    (tmp_path / "made").mkdir()
    publish(
        exchange_server, tmp_path, JAN, [record_for(person) for person in BeneficiaryFactory.create_batch(3)]
    )
    real_add = pecgm_import._Batches.add

    def disk_full(self, record):
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/liaison/data")

    monkeypatch.setattr(pecgm_import._Batches, "add", disk_full)
    first = fetch_pecgm.delay(started_by="beat").get()
    assert first["status"] == "interrupted"
    assert "Disque plein" in first["error"] and "/srv/liaison/data" in first["error"]
    interrupted = ImportRun.objects.get()
    assert interrupted.status == ImportStatus.INTERRUPTED
    ImportRun.objects.filter(pk=interrupted.pk).update(error_message="Un message quelconque.")

    monkeypatch.setattr(pecgm_import._Batches, "add", real_add)
    second = fetch_pecgm.delay(started_by="beat").get()
    assert second["status"] == "succeeded", second
    assert second["counts"]["imported"] == 1 and second["counts"]["rejected"] == 0
    assert list(ImportRun.objects.order_by("id").values_list("status", flat=True)) == [
        "interrupted",
        "imported",
    ]
    assert FollowUp.objects.count() == 3


def test_finished_run_is_not_done_again(exchange_settings, two_monthly_files):
    fetch_pecgm.delay(started_by="beat").get()
    run = ExchangeRun.objects.get()
    fetch_pecgm.delay(run_id=run.pk).get()
    assert ImportRun.objects.count() == 2
    run.refresh_from_db()
    assert run.attempts == 1


def test_a_running_fetch_blocks_another_without_failure_nor_alert(exchange_settings, two_monthly_files):
    UserFactory(username="a1", role="admin", email="a1@example.fr")
    exchange_settings.EXCHANGE_ALERT_EMAIL = True
    exchange_settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    other = ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.RUNNING, heartbeat_at=timezone.now()
    )
    # The lock of a live run is its worker's (PostgreSQL: advisory lock; SQLite: file lock).
    with held_elsewhere(LOCKS[Direction.FETCH]):
        summary = fetch_pecgm.delay(started_by="beat").get()
    # Not a failure: the run already going does the work; nobody is alerted.
    assert summary["status"] == "interrupted"
    assert "déjà en cours" in summary["error"]
    assert mail.outbox == []
    assert not ImportRun.objects.exists()
    other.refresh_from_db()
    assert other.status == RunStatus.RUNNING


def test_a_dead_running_fetch_is_taken_over(exchange_settings, two_monthly_files):
    stale = timezone.now() - timedelta(seconds=exchange_settings.EXCHANGE_LOCK_LEASE_SECONDS + 5)
    dead = ExchangeRun.objects.create(direction=Direction.FETCH, status=RunStatus.RUNNING, heartbeat_at=stale)
    assert fetch_pecgm.delay(started_by="beat").get()["status"] == "succeeded"
    dead.refresh_from_db()
    assert dead.status == RunStatus.INTERRUPTED and "Interrompu" in dead.error_message


# --- Commands --------------------------------------------------------------------


def test_fetch_command_json(exchange_settings, two_monthly_files, capsys):
    call_command("fetch_pecgm", "--json")
    summary = json.loads(capsys.readouterr().out)
    assert summary["status"] == "succeeded" and summary["counts"]["imported"] == 2
    assert ExchangeRun.objects.get().started_by == "command"


def test_fetch_command_fails_with_exit_status(exchange_settings):
    exchange_settings.EXCHANGE_PASSWORD = "faux"
    with pytest.raises(CommandError) as info:
        call_command("fetch_pecgm")
    assert info.value.returncode == 1 and "401" in str(info.value)


# --- Failure email ------------------------------------------------------------------


def test_failure_email_to_admins_when_switched_on(exchange_settings):
    UserFactory(username="a1", role="admin", email="a1@example.fr")
    UserFactory(username="s1", role="social_worker", email="s1@example.fr")
    exchange_settings.EXCHANGE_ALERT_EMAIL = True
    exchange_settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    exchange_settings.EXCHANGE_PASSWORD = "faux"
    fetch_pecgm.delay(started_by="beat").get()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["a1@example.fr"]
    assert "401" in mail.outbox[0].body and "faux" not in mail.outbox[0].body
    assert USER.password not in mail.outbox[0].body


def _beat_schedule_with(tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("EXCHANGE_", "DATABASE_URL"))
    }
    environment.update(DATA_DIR=str(tmp_path), **env)
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({k: [v['task'], v.get('kwargs'), str(v['schedule'])] "
        "for k, v in s.CELERY_BEAT_SCHEDULE.items() if k.startswith(('pecgm-', 'cgpem-'))}))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        env={**environment, "DJANGO_SETTINGS_MODULE": "config.settings"},
        capture_output=True,
        text=True,
    )


def test_beat_schedule_from_the_environment(tmp_path):
    default = json.loads(_beat_schedule_with(tmp_path).stdout)
    assert sorted(default) == ["cgpem-monthly-stock", "pecgm-monthly-stock"]
    # Every day: the task polls from PECGM_POLL_FROM_DAY until the month's stock is imported.
    assert default["pecgm-monthly-stock"][:2] == [
        "exchanges.tasks.fetch_pecgm",
        {"periodicities": ["M"], "started_by": "beat", "until_imported": True},
    ]
    assert "0 6 * * *" in default["pecgm-monthly-stock"][2]
    changed = json.loads(
        _beat_schedule_with(
            tmp_path,
            PECGM_POLL_FROM_DAY="3",
            EXCHANGE_SCHEDULE_HOUR="7",
            EXCHANGE_DAILY_FETCH="true",
            EXCHANGE_DAILY_DEPOSIT="on",
            EXCHANGE_MONTHLY_DEPOSIT="false",
        ).stdout
    )
    assert sorted(changed) == ["cgpem-daily-flux", "pecgm-daily-flux", "pecgm-monthly-stock"]
    assert "0 7 * * *" in changed["pecgm-monthly-stock"][2]
    assert changed["cgpem-daily-flux"][1] == {"periodicity": "Q", "started_by": "beat"}
    refused = _beat_schedule_with(tmp_path, EXCHANGE_URL="http://echanges.example.fr")
    assert refused.returncode != 0 and "EXCHANGE_URL must start with https://" in refused.stderr
