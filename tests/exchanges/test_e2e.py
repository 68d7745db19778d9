"""End to end: a real Celery worker process, Redis, PostgreSQL and the simulator over HTTPS.

Each test starts `celery -A config worker` in a subprocess (`start_worker`,
tests/exchanges/worker.py), on the test database and on a queue of its own,
then sends tasks through Redis exactly as beat does (the kwargs of the beat
schedule). Nothing is mocked.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import date
from pathlib import Path

import pytest
from django.urls import reverse

from beneficiaries.models import Beneficiary
from exchanges.models import ImportRun, JobSeekerSnapshot
from exchanges.pecgm_import import INTERRUPTED_MESSAGE
from exchanges.runs import Direction, RunStatus
from exchanges.simulator import free_port
from exchanges.synthetic import fake_pecgm_records, write_pecgm
from orientations.models import CgpemExport
from tests.exchanges.import_files import pecgm_file, record_for
from tests.exchanges.worker import wait_for_run
from tests.factories import TEST_PASSWORD, BeneficiaryFactory

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

JAN, FEB = date(2025, 1, 31), date(2025, 2, 28)


def publish(server, folder: Path, day: date, records: list[dict], name: str | None = None) -> bytes:
    path = pecgm_file(folder, records, day)
    server.publish("082", name or path.name, path.read_bytes())
    return path.read_bytes()


def test_beat_tasks_fetch_two_stocks_deposit_cgpem_and_the_page_shows_them(
    start_worker, exchange_server, tmp_path, client, admin_user
):
    people = BeneficiaryFactory.create_batch(4)
    records = [record_for(person) for person in people]
    publish(exchange_server, tmp_path, JAN, records[:3])
    publish(exchange_server, tmp_path, FEB, records)
    worker = start_worker(exchange_server)

    worker.send("pecgm-monthly-stock")
    (fetch,) = wait_for_run(Direction.FETCH)
    assert fetch.status == RunStatus.SUCCEEDED, fetch.error_message
    assert fetch.started_by == "beat" and fetch.task_id
    assert [f["name"] for f in fetch.files] == ["PECGM_082_20250131_M.xml", "PECGM_082_20250228_M.xml"]
    assert list(ImportRun.objects.order_by("id").values_list("file_name", "status")) == [
        ("PECGM_082_20250131_M.xml", "imported"),
        ("PECGM_082_20250228_M.xml", "imported"),
    ]
    # January's three, and February's fourth person: February repeats the three (confirmed, not stored).
    assert JobSeekerSnapshot.objects.count() == 4

    worker.send("cgpem-monthly-stock", period_end="2025-02-28")
    (deposit,) = wait_for_run(Direction.DEPOSIT)
    assert deposit.status == RunStatus.SUCCEEDED, deposit.error_message
    export = CgpemExport.objects.get()
    assert export.deposited_at is not None
    deposited = exchange_server.root / "082" / "CGPEM" / "CGPEM_082_20250228_M.xml"
    assert deposited.read_bytes() == Path(export.path).read_bytes()

    client.login(username=admin_user.username, password=TEST_PASSWORD)
    page = client.get(reverse("exchange_runs")).content.decode()
    assert "PECGM_082_20250228_M.xml" in page and "CGPEM_082_20250228_M.xml" in page
    assert page.count("réussi") >= 2 and "2 importés" in page


def test_wrong_password_fails_the_run_clearly_and_imports_nothing(start_worker, exchange_server, tmp_path):
    publish(exchange_server, tmp_path, JAN, [record_for(BeneficiaryFactory())])
    worker = start_worker(exchange_server, EXCHANGE_PASSWORD="ce-n-est-pas-le-bon")
    worker.send("pecgm-monthly-stock")
    (run,) = wait_for_run(Direction.FETCH)
    assert run.status == RunStatus.FAILED
    assert "401" in run.error_message and "EXCHANGE_PASSWORD" in run.error_message
    assert "ce-n-est-pas-le-bon" not in run.error_message + worker.log.read_text(errors="replace")
    assert run.attempts == 1  # final: not retried
    assert not ImportRun.objects.exists() and not JobSeekerSnapshot.objects.exists()


def test_server_down_is_retried_then_fails(start_worker, tmp_path):
    worker = start_worker(None, EXCHANGE_URL=f"https://127.0.0.1:{free_port()}")
    worker.send("pecgm-monthly-stock")
    (run,) = wait_for_run(Direction.FETCH)
    assert run.status == RunStatus.FAILED
    assert "injoignable" in run.error_message
    assert run.attempts == 3  # the first try and EXCHANGE_TASK_MAX_RETRIES=2 retries
    assert "Retry in" in worker.log.read_text(errors="replace")


def test_the_same_file_offered_twice_is_imported_once(start_worker, exchange_server, tmp_path):
    content = publish(exchange_server, tmp_path, JAN, [record_for(BeneficiaryFactory()) for _ in range(3)])
    exchange_server.publish("082", "PECGM_082_20250131_Q.xml", content)
    worker = start_worker(exchange_server)
    worker.send_fetch(["M", "Q"])
    (first,) = wait_for_run(Direction.FETCH)
    worker.send_fetch(["M", "Q"])
    first_again, second = wait_for_run(Direction.FETCH, count=2)
    assert first.status == second.status == RunStatus.SUCCEEDED
    assert first.counts["imported"] == 1 and first.counts["duplicates"] == 1
    assert (
        second.counts["imported"] == 0 and second.counts["skipped"] == 1 and second.counts["duplicates"] == 1
    )
    assert ImportRun.objects.filter(status="imported").count() == 1
    assert JobSeekerSnapshot.objects.count() == 3


def test_worker_killed_during_an_import_completes_exactly_once(start_worker, exchange_server, tmp_path):
    count = 30000
    path = tmp_path / "PECGM_082_20250131_M.xml"
    write_pecgm(path, fake_pecgm_records(None, count, seed=7, reference_date=JAN), reference_date=JAN)
    exchange_server.publish("082", path.name, path.read_bytes())
    worker = start_worker(exchange_server)
    worker.send("pecgm-monthly-stock")

    # Wait until the import is well into the file (it writes as it reads, in one
    # transaction), then kill the pool process that runs it.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ImportRun.objects.filter(status="running", progress_done__gt=count // 5).exists():
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the import never got going")
    children = worker.children()
    assert children
    for pid in children:
        os.kill(pid, signal.SIGKILL)

    (run,) = wait_for_run(Direction.FETCH, timeout=240)
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.attempts == 2
    statuses = list(ImportRun.objects.order_by("id").values_list("status", flat=True))
    assert statuses == ["interrupted", "imported"]  # the interrupted attempt, then the real one
    assert ImportRun.objects.get(status="interrupted").error_message == INTERRUPTED_MESSAGE
    imported = ImportRun.objects.get(status="imported")
    assert imported.records == count
    # nothing of the killed attempt survived, nothing twice
    assert JobSeekerSnapshot.objects.count() == count
    assert set(JobSeekerSnapshot.objects.values_list("run_id", flat=True).distinct()) == {imported.pk}
    assert Beneficiary.objects.count() == imported.created
