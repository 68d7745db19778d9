"""CGPEM deposits through the Celery task (eager), the command and the transfers, against the simulator."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from django.core.management import call_command

from exchanges import transfers
from exchanges.runs import ExchangeRun, RunStatus
from exchanges.tasks import deposit_cgpem
from orientations.models import CgpemExport

pytestmark = pytest.mark.django_db(transaction=True)


def test_deposit_generates_once_and_puts_the_file(exchange_settings, exchange_server):
    summary = deposit_cgpem.delay(periodicity="M", period_end="2025-01-31", started_by="beat").get()
    assert summary["status"] == "succeeded", summary
    export = CgpemExport.objects.get()
    assert export.deposited_at is not None
    on_server = exchange_server.root / "082" / "CGPEM" / "CGPEM_082_20250131_M.xml"
    assert on_server.read_bytes() == Path(export.path).read_bytes()
    # again: nothing generated, nothing sent
    again = deposit_cgpem.delay(periodicity="M", period_end="2025-01-31", started_by="beat").get()
    assert again["status"] == "succeeded" and again["files"][0]["status"] == "already_deposited"
    assert CgpemExport.objects.count() == 1


def test_deposit_409_after_our_own_put_is_success(exchange_settings, exchange_server):
    # A worker died after the server stored the file, before we recorded it.
    summary = deposit_cgpem.delay(periodicity="M", period_end="2025-01-31").get()
    assert summary["status"] == "succeeded"
    CgpemExport.objects.update(deposited_at=None)
    run = ExchangeRun.objects.get()
    ExchangeRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED, finished_at=None)
    # the redelivered message runs the same run again
    transfers.execute(run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert run.files[0]["status"] == "already_deposited" and run.attempts == 2
    assert CgpemExport.objects.get().deposited_at is not None


def test_deposit_409_with_other_content_is_an_error(exchange_settings, exchange_server):
    folder = exchange_server.folder("082", "CGPEM")
    (folder / "CGPEM_082_20250131_M.xml").write_bytes(b"<CGPEM>autre</CGPEM>")
    summary = deposit_cgpem.delay(periodicity="M", period_end="2025-01-31").get()
    assert summary["status"] == "failed"
    assert "CGPEM_082_20250131_M.xml" in summary["error"] and "contenu" in summary["error"]
    assert CgpemExport.objects.get().deposited_at is None


def test_default_periods():
    assert transfers.default_period_end("M", date(2025, 3, 1)) == date(2025, 2, 28)
    assert transfers.default_period_end("Q", date(2025, 3, 1)) == date(2025, 2, 28)
    assert transfers.default_period_end("M", date(2025, 1, 15)) == date(2024, 12, 31)


def test_deposit_command(exchange_settings, exchange_server, capsys):
    call_command("deposit_cgpem", "--json", "--date", "2025-01-31")
    assert json.loads(capsys.readouterr().out)["status"] == "succeeded"
    assert (exchange_server.root / "082" / "CGPEM" / "CGPEM_082_20250131_M.xml").exists()


def test_deposit_of_an_unknown_periodicity_fails_with_the_generator_message(exchange_settings):
    summary = deposit_cgpem.delay(periodicity="X", period_end="2025-01-31").get()
    assert summary["status"] == "failed"
    assert summary["error"].startswith("Fichier CGPEM non produit : ")
    assert not CgpemExport.objects.exists()


@pytest.mark.parametrize("period_end", ["2099-01-31", "2025-01-15"])
def test_deposit_of_a_future_or_mid_month_period_fails_and_sends_nothing(
    exchange_settings, exchange_server, period_end
):
    # The task takes any date (beat, deposit_cgpem --date): the generator's check applies.
    summary = deposit_cgpem.delay(periodicity="M", period_end=period_end).get()
    assert summary["status"] == "failed"
    assert summary["error"].startswith("Fichier CGPEM non produit : ")
    assert not CgpemExport.objects.exists()
    folder = exchange_server.root / "082" / "CGPEM"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_deposit_without_a_server_configured_produces_no_file(settings):
    settings.EXCHANGE_URL = ""
    summary = deposit_cgpem.delay(periodicity="M", period_end="2025-01-31").get()
    assert summary["status"] == "failed" and "Échanges non configurés" in summary["error"]
    # Nothing generated nor archived: the next deposit, once configured, produces the file then.
    assert not CgpemExport.objects.exists()
