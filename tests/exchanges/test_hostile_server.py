"""A hostile or broken exchange server (issue 26): the real simulator over HTTPS, bent.

Each test makes the server do one thing a careless or malicious server could
do, and checks the fetch refuses it with a French cause naming the file,
without importing, archiving or fetching again what it refused.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from exchanges.models import ImportRun, ImportStatus
from exchanges.runs import ExchangeRun
from exchanges.tasks import fetch_pecgm
from tests.exchanges.import_files import pecgm_file, record_for
from tests.factories import BeneficiaryFactory

pytestmark = pytest.mark.django_db(transaction=True)

JAN = date(2025, 1, 31)


def archived() -> list[str]:
    folder = Path(settings.EXCHANGE_FILES_DIR) / "pecgm"
    return sorted(p.name for p in folder.glob("*.xml")) if folder.exists() else []


def test_a_monthly_stock_under_a_daily_flux_name_is_refused(exchange_settings, exchange_server, tmp_path):
    stock = pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN, "M")
    name = "PECGM_082_20250131_Q.xml"
    exchange_server.publish("082", name, stock.read_bytes())
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "failed"
    entry = summary["files"][0]
    assert entry["status"] == "rejected" and "archive" not in entry
    assert name in entry["message"] and "ne correspond pas à son nom" in entry["message"]
    assert "périodicité mensuel (stock) dans l'en-tête, quotidien (flux) dans le nom" in entry["message"]
    run = ImportRun.objects.get()
    assert run.status == ImportStatus.REJECTED and run.imported == 0
    assert archived() == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PECGM_082_20250228_M.xml", "date de référence 31/01/2025 dans l'en-tête, 20250228 dans le nom"),
        ("PECGM_081_20250131_M.xml", None),  # another département's folder: not even listed
    ],
)
def test_a_header_date_other_than_the_name_is_refused(
    exchange_settings, exchange_server, tmp_path, name, expected
):
    stock = pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN, "M")
    exchange_server.publish("082", name, stock.read_bytes())
    summary = fetch_pecgm.delay(started_by="beat").get()
    if expected is None:
        assert summary["files"] == []
        return
    assert summary["files"][0]["status"] == "rejected"
    assert expected in summary["files"][0]["message"]
    assert not ImportRun.objects.filter(status__in=["imported", "imported_with_rejects"]).exists()


def test_a_departement_other_than_the_name_is_refused(tmp_path, settings):
    from exchanges.pecgm_import import import_pecgm

    settings.DEPARTEMENT = "82"
    path = pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN, "M")
    run = import_pecgm(path, file_name="PECGM_02A_20250131_M.xml")
    assert run.status == ImportStatus.REJECTED
    assert "département 82 dans l'en-tête, 02A dans le nom" in run.error_message


# --- Encodings ------------------------------------------------------------------------


def test_the_client_asks_for_the_bytes_as_stored(exchange_settings):
    from exchanges.client import ExchangeClient, ExchangeConfig

    client = ExchangeClient(ExchangeConfig.from_settings())
    assert client.session.headers["Accept-Encoding"] == "identity"


def test_a_gzip_encoded_file_is_refused_with_its_cause_not_retried(
    exchange_settings, exchange_server, tmp_path
):
    stock = pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN, "M")
    exchange_server.publish("082", stock.name, stock.read_bytes())
    exchange_server.hostile.gzip = True
    summary = fetch_pecgm.delay(started_by="beat").get()
    run = ExchangeRun.objects.get()
    assert summary["status"] == "failed" == run.status
    assert run.attempts == 1  # final at once: the same answer would come every time
    assert "compressé (Content-Encoding : gzip)" in run.error_message
    assert stock.name in run.error_message and "incomplet" not in run.error_message
    assert not ImportRun.objects.exists() and archived() == []


def test_a_charset_outside_the_contract_is_named_not_an_unexpected_error(exchange_settings, exchange_server):
    exchange_server.publish("082", "PECGM_082_20250131_M.xml", b"<PECGM/>")
    exchange_server.hostile.charset = "rot13"
    summary = fetch_pecgm.delay(started_by="beat").get()
    assert summary["status"] == "failed"
    assert "jeu de caractères" in summary["error"] and "rot13" in summary["error"]
    assert "inattendue" not in summary["error"]


@pytest.mark.parametrize("charset", ["ISO-8859-1", "utf-8", "us-ascii"])
def test_the_charsets_of_the_contract_are_read(exchange_settings, exchange_server, charset):
    from exchanges.client import ExchangeClient, ExchangeConfig

    exchange_server.publish("082", "PECGM_082_20250131_M.xml", b"<PECGM/>")
    exchange_server.hostile.charset = charset
    names = [f.name for f in ExchangeClient(ExchangeConfig.from_settings()).list_pecgm()]
    assert names == ["PECGM_082_20250131_M.xml"]


# --- Time -----------------------------------------------------------------------------


def trickling(exchange_server, config, size: int = 4000, **limits):
    """A server sending one byte every 20 ms: each read is well inside the 5 s timeout."""
    from exchanges.client import ExchangeClient

    exchange_server.publish("082", "PECGM_082_20250131_M.xml", b"x" * size)
    exchange_server.hostile.trickle_seconds = 0.02
    return ExchangeClient(replace(config, min_bytes_per_second=0, **limits))


def test_a_trickling_server_is_cut_at_the_file_deadline(exchange_settings, exchange_server, tmp_path):
    from exchanges.client import ExchangeConfig, TransientExchangeError

    client = trickling(exchange_server, ExchangeConfig.from_settings(), file_deadline=1)
    started = time.monotonic()
    with pytest.raises(TransientExchangeError, match="EXCHANGE_FILE_DEADLINE_SECONDS") as info:
        client.download("PECGM_082_20250131_M.xml", tmp_path / "in")
    assert time.monotonic() - started < 4
    assert "PECGM_082_20250131_M.xml" in str(info.value)
    assert list((tmp_path / "in").iterdir()) == []


def test_a_trickling_server_is_cut_at_the_run_deadline(exchange_settings, exchange_server, tmp_path):
    from exchanges.client import ExchangeConfig, TransientExchangeError

    client = trickling(exchange_server, ExchangeConfig.from_settings(), run_deadline=1)
    started = time.monotonic()
    with pytest.raises(TransientExchangeError, match="EXCHANGE_RUN_DEADLINE_SECONDS"):
        client.download("PECGM_082_20250131_M.xml", tmp_path / "in")
    assert time.monotonic() - started < 4
    # and no further file is even asked for in this run
    with pytest.raises(TransientExchangeError, match="avant le fichier"):
        client.download("PECGM_082_20250131_M.xml", tmp_path / "in")


def test_a_server_below_the_minimum_throughput_is_cut(exchange_settings, exchange_server, tmp_path):
    from exchanges.client import ExchangeConfig, TransientExchangeError

    config = replace(ExchangeConfig.from_settings(), timeout=0.5)
    client = trickling(exchange_server, config)
    client = type(client)(replace(client.config, min_bytes_per_second=1000))
    started = time.monotonic()
    with pytest.raises(TransientExchangeError, match="EXCHANGE_MIN_BYTES_PER_SECOND"):
        client.download("PECGM_082_20250131_M.xml", tmp_path / "in")
    assert time.monotonic() - started < 4


# --- Disk -----------------------------------------------------------------------------


def publish_flux(exchange_server, tmp_path, day: date, name: str | None = None) -> str:
    path = pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], day, "Q")
    exchange_server.publish("082", name or path.name, path.read_bytes())
    return name or path.name


def test_names_dated_before_the_retention_or_in_the_future_are_not_fetched(
    exchange_settings, exchange_server, tmp_path
):
    exchange_settings.EXCHANGE_MAX_FILE_AGE_DAYS = 62
    today = timezone.localdate()
    recent = publish_flux(exchange_server, tmp_path, today - timedelta(days=1))
    old = publish_flux(exchange_server, tmp_path, date(2000, 1, 3))
    ahead = f"PECGM_082_{today + timedelta(days=40):%Y%m%d}_Q.xml"
    exchange_server.publish("082", ahead, (tmp_path / recent).read_bytes())
    summary = fetch_pecgm.delay(started_by="beat").get()
    by_name = {entry["name"]: entry for entry in summary["files"]}
    assert by_name[old]["status"] == "ignored" and "conservation du serveur" in by_name[old]["message"]
    assert old in by_name[old]["message"]
    assert by_name[ahead]["status"] == "ignored" and "dans le futur" in by_name[ahead]["message"]
    assert by_name[recent]["status"] == "imported"
    assert summary["counts"]["downloaded"] == 1 and summary["counts"]["ignored"] == 2
    assert list(ImportRun.objects.values_list("file_name", flat=True)) == [recent]
    labels = {entry["name"]: entry["status_label"] for entry in ExchangeRun.objects.get().files_display}
    assert labels[old].startswith("ignoré : nom daté hors de la conservation")


def test_files_beyond_the_run_caps_wait_for_the_next_run(exchange_settings, exchange_server, tmp_path):
    exchange_settings.EXCHANGE_MAX_FILES_PER_RUN = 2
    exchange_settings.EXCHANGE_MAX_BYTES_PER_RUN = 1  # the first file already reaches it
    for day in (1, 2, 3):
        publish_flux(exchange_server, tmp_path, date(2025, 2, day))
    first = fetch_pecgm.delay(started_by="beat").get()
    assert [entry["status"] for entry in first["files"]] == ["imported", "deferred", "deferred"]
    assert first["counts"]["downloaded"] == 1 and first["counts"]["deferred"] == 2
    labels = [entry["status_label"] for entry in ExchangeRun.objects.get().files_display]
    assert labels[1].startswith("reporté au prochain relevé")
    exchange_settings.EXCHANGE_MAX_BYTES_PER_RUN = 10**9
    second = fetch_pecgm.delay(started_by="beat").get()
    assert second["counts"]["downloaded"] == 2 and second["counts"]["imported"] == 2


def test_a_rejected_file_is_not_fetched_nor_archived_again(exchange_settings, exchange_server, tmp_path):
    exchange_server.publish("082", "PECGM_082_20250131_M.xml", b"<PECGM><ENTETE>")
    fetch_pecgm.delay(started_by="beat").get()
    again = fetch_pecgm.delay(started_by="beat").get()
    entry = again["files"][0]
    assert entry["status"] == "rejected" and "PECGM_082_20250131_M.xml" in entry["message"]
    assert again["counts"]["downloaded"] == 0
    assert ImportRun.objects.count() == 1 and archived() == []
    # Another content under the same name is a new file: fetched and judged.
    stock = pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN, "M")
    exchange_server.publish("082", stock.name, stock.read_bytes())
    third = fetch_pecgm.delay(started_by="beat").get()
    assert third["files"][0]["status"] == "imported" and archived() == [stock.name]


def test_free_disk_space_is_checked_before_downloading(exchange_settings, exchange_server, tmp_path):
    publish_flux(exchange_server, tmp_path, date(2025, 2, 1))
    exchange_settings.EXCHANGE_MIN_FREE_DISK = 10**18
    summary = fetch_pecgm.delay(started_by="beat").get()
    run = ExchangeRun.objects.get()
    assert run.status != "succeeded" and "Disque plein" in run.error_message
    assert summary["counts"]["downloaded"] == 0
    assert not ImportRun.objects.exists()
