"""The monthly tracking report and the anomalies file for France Travail: no personal data."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from odf.opendocument import load

from audit.models import AuditEntry
from beneficiaries.models import Beneficiary
from exchanges import spreadsheet, tracking
from exchanges.models import ImportRun, ImportStatus, ReviewCase, ReviewStatus
from exchanges.pecgm_import import import_pecgm
from exchanges.runs import Direction, ExchangeRun, RunStatus
from orientations.cgpem import NOTHING_IDENTIFYING, generate_cgpem
from orientations.models import CgpemExport
from tests.exchanges.import_files import pecgm_file, record_for
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
FEBRUARY = date(2025, 2, 1)


def at(day: int, hour: int = 10, month: int = 2) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=PARIS)


@pytest.fixture
def month(tmp_path, settings, admin_user):
    """February 2025: a stock with each rule, a refused record and an unknown code, a refused
    flux, a review resolved, a CGPEM with a decision left out, a failed fetch."""
    settings.PECGM_MAX_REJECT_RATIO = 0.5
    settings.PECGM_ALERT_AFTER_DAY = 10
    settings.EXCHANGE_MONTHLY_DEPOSIT_DAY = 5
    by_nir = BeneficiaryFactory()
    by_caf = BeneficiaryFactory(nir="")
    records = [
        record_for(by_nir, support_mode="ZZZ"),
        record_for(by_caf, birth_name="AUTRE", first_name="X"),
        record_for(None, nir="1991282121123"),
        record_for(None, birth_date="20251340"),
    ]
    stock = import_pecgm(pecgm_file(tmp_path, records, date(2025, 1, 31)))
    assert stock.status == ImportStatus.IMPORTED_WITH_REJECTS
    bad = [record_for(None, first_name=""), record_for(None, birth_date="2025")]
    refused = import_pecgm(pecgm_file(tmp_path, bad, date(2025, 2, 7), "H"))
    assert refused.status == ImportStatus.REJECTED
    ImportRun.objects.filter(pk=stock.pk).update(started_at=at(12))  # after the alert day: late
    ImportRun.objects.filter(pk=refused.pk).update(started_at=at(14))
    # Another month's file, not counted.
    other = import_pecgm(pecgm_file(tmp_path, [record_for(by_nir)], date(2024, 12, 31)))
    ImportRun.objects.filter(pk=other.pk).update(started_at=at(6, month=1))

    case = ReviewCase.objects.get()
    ReviewCase.objects.filter(pk=case.pk).update(
        status=ReviewStatus.CREATED, resolved_by=admin_user, resolved_at=at(15), created_at=at(12)
    )

    DecisionFactory(beneficiary=by_nir, decision_date=date(2025, 1, 10))
    nameless = BeneficiaryFactory(nir="", birth_name="")
    DecisionFactory(beneficiary=nameless, decision_date=date(2025, 1, 11))
    export = generate_cgpem("M", date(2025, 1, 31))
    CgpemExport.objects.filter(pk=export.pk).update(created_at=at(3), deposited_at=at(4))

    ExchangeRun.objects.create(
        direction=Direction.FETCH, status=RunStatus.FAILED, error_message="serveur injoignable"
    )
    ExchangeRun.objects.update(created_at=at(9), finished_at=at(9))
    return locals()


def test_month_report_counts_files_rules_reviews_cgpem_and_alerts(month):
    report = tracking.month_report(FEBRUARY, today=date(2025, 3, 15))
    assert [entry["file_name"] for entry in report.pecgm_files] == [
        "PECGM_082_20250131_M.xml",
        "PECGM_082_20250207_H.xml",
    ]
    stock, refused = report.pecgm_files
    assert (stock["records"], stock["imported"], stock["rejected_records"]) == (4, 3, 1)
    assert (stock["matched_nir"], stock["matched_caf_msa"], stock["created"], stock["review"]) == (1, 1, 1, 1)
    assert stock["warnings_by_kind"]["unknown_code"] == 1
    assert stock["reference_date"] == date(2025, 1, 31)
    assert refused["status"] == ImportStatus.REJECTED and refused["rejected_records"] == 2
    total = report.pecgm_total
    assert (total["files"], total["accepted"], total["refused"], total["records"]) == (2, 1, 1, 6)
    assert report.stock["received"] and report.stock["late"]

    assert report.reviews["opened"] == 1 and report.reviews["created"] == 1
    assert report.reviews["open_at_end"] == 0

    assert report.cgpem_total == {
        "files": 1,
        "deposited": 1,
        "records": 1,
        "left_out": 1,
        "cut": 0,
        "dropped": 0,
        "transliterations": 0,
    }
    # One decision left out, for two reasons (its reasons are counted, grouped alike).
    assert sorted(reason for reason, _count in report.left_out) == [
        "NOM_NAISSANCE : valeur obligatoire absente",
        NOTHING_IDENTIFYING,
    ]
    assert (report.exchanges["fetches"], report.exchanges["fetches_failed"]) == (1, 1)
    kinds = [str(alert["kind"]) for alert in report.alerts]
    assert kinds == [
        f"échec : Réception PECGM n° {ExchangeRun.objects.get().pk}",
        "stock mensuel PECGM en retard",
    ]

    january = tracking.month_report(date(2025, 1, 1), today=date(2025, 3, 15))
    assert [entry["file_name"] for entry in january.pecgm_files] == ["PECGM_082_20241231_M.xml"]


def personal_values() -> list[str]:
    values = []
    for person in Beneficiary.objects.all():
        values += [person.birth_name, person.first_name, person.nir, person.nir[:13], person.caf_number]
        values += [
            f"{person.birth_date:%d/%m/%Y}",
            person.birth_date.isoformat(),
            f"{person.birth_date:%Y%m%d}",
        ]
    return [value for value in values if value and len(value) > 2]


def ods_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.read("mimetype") == b"application/vnd.oasis.opendocument.spreadsheet"
        return archive.read("content.xml").decode()


def test_the_report_holds_no_personal_data(month):
    sheets = tracking.sheets(tracking.month_report(FEBRUARY))
    texts = [spreadsheet.csv_text(sheets), ods_text(spreadsheet.ods_bytes(sheets))]
    # The people are in the database, with names the files carried too.
    assert Beneficiary.objects.count() == 4
    for text in texts:
        assert "PECGM_082_20250131_M.xml" in text
        leaks = [value for value in personal_values() if value.lower() in text.lower()]
        assert leaks == []


def test_anomalies_name_records_by_number_and_identifier_only(month):
    sheet = tracking.anomalies(FEBRUARY)
    rows = [dict(zip(sheet.header, row, strict=True)) for row in sheet.rows]
    natures = [(row["fichier"], row["enregistrement n°"], row["nature"]) for row in rows]
    assert ("PECGM_082_20250131_M.xml", 4, "enregistrement refusé") in natures
    assert ("PECGM_082_20250131_M.xml", 1, "code inconnu") in natures
    assert ("PECGM_082_20250207_H.xml", "", "fichier refusé") in natures
    code = next(row for row in rows if row["nature"] == "code inconnu")
    snapshot = month["stock"].snapshots.get(record_number=1)
    assert code["identifiant France Travail"] == snapshot.ft_identifier != ""
    assert code["code reçu"] == "ZZZ"
    refused = next(row for row in rows if row["enregistrement n°"] == 4)
    assert refused["code reçu"] == "" and refused["champ"] == "DATE_NAISSANCE"
    text = spreadsheet.csv_text([sheet]) + ods_text(spreadsheet.ods_bytes([sheet]))
    assert "20251340" not in text  # a refused value is never repeated
    assert [value for value in personal_values() if value.lower() in text.lower()] == []


def test_monthly_report_command_writes_ods_or_csv_by_extension(month, tmp_path):
    ods, csv_path = tmp_path / "suivi.ods", tmp_path / "suivi.csv"
    call_command("monthly_report", "--month", "2025-02", "--output", str(ods), stdout=io.StringIO())
    document = load(str(ods))
    names = [table.getAttribute("name") for table in document.spreadsheet.childNodes]
    assert names == [
        "Synthèse",
        "Fichiers PECGM",
        "Fichiers CGPEM",
        "Décisions écartées",
        "Échecs et alertes",
    ]
    call_command("monthly_report", "--month", "2025-02", "--output", str(csv_path), stdout=io.StringIO())
    text = csv_path.read_text(encoding="utf-8-sig")
    assert "fichiers PECGM refusés;1" in text and "PECGM_082_20250207_H.xml" in text
    with pytest.raises(CommandError, match="existe déjà"):
        call_command("monthly_report", "--month", "2025-02", "--output", str(csv_path))
    with pytest.raises(CommandError, match="AAAA-MM"):
        call_command("monthly_report", "--month", "2025-13", "--output", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match=".ods ou .csv"):
        call_command("monthly_report", "--month", "2025-02", "--output", str(tmp_path / "x.xlsx"))


def test_anomalies_command_is_audited(month, tmp_path):
    output = tmp_path / "anomalies.csv"
    call_command("ft_anomalies", "--month", "2025-02", "--output", str(output), stdout=io.StringIO())
    assert "enregistrement refusé" in output.read_text(encoding="utf-8-sig")
    assert AuditEntry.objects.filter(object_type="ft_anomalies").exists()


def test_admin_pages_and_downloads(month, client, admin_user):
    assert client.login(username=admin_user.username, password=TEST_PASSWORD)
    overview = client.get("/echanges/suivi-mensuel/")
    assert overview.status_code == 200
    assert len(overview.context["reports"]) == 24
    assert overview.context["reports"][0].month == timezone.localdate().replace(day=1)
    page = client.get("/echanges/suivi-mensuel/2025/2/")
    assert page.status_code == 200 and "PECGM_082_20250207_H.xml" in page.content.decode()
    ods = client.get("/echanges/suivi-mensuel/2025/2/suivi.ods")
    assert (
        ods["Content-Type"] == spreadsheet.FORMATS["ods"]
        and "suivi-2025-02.ods" in ods["Content-Disposition"]
    )
    assert "Synthèse" in ods_text(ods.content)
    assert client.get("/echanges/suivi-mensuel/2025/2/suivi.xlsx").status_code == 404
    assert client.get("/echanges/suivi-mensuel/2025/13/").status_code == 404
    anomalies = client.get("/echanges/suivi-mensuel/2025/2/anomalies.csv")
    assert anomalies.status_code == 200 and "code inconnu" in anomalies.content.decode("utf-8-sig")
    entry = AuditEntry.objects.get(object_type="ft_anomalies")
    assert entry.username == admin_user.username and entry.object_id == "2025-02"


def test_no_file_is_expected_before_the_first_exchange(month):
    # December 2024: before the first import (January 2025), nothing was due, nothing is late.
    december = tracking.month_report(date(2024, 12, 1), today=date(2025, 3, 15))
    assert december.stock["expected"] == 0 and december.alerts == []
    assert tracking.operations_start() == date(2025, 1, 1)
    ImportRun.objects.all().delete()
    ExchangeRun.objects.all().delete()
    CgpemExport.objects.all().delete()
    assert tracking.month_report(FEBRUARY, today=date(2025, 3, 15)).alerts == []
