"""`import_pecgm` and `export_followup`: JSON, exit codes, CSV columns."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from exchanges.models import ImportRun
from tests.exchanges.import_files import ceased, pecgm_file, record_for
from tests.factories import BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db
JAN = date(2025, 1, 31)


def run_command(*args) -> tuple[dict | str, int]:
    out = io.StringIO()
    try:
        call_command("import_pecgm", *args, stdout=out)
        code = 0
    except CommandError as exc:
        code = exc.returncode
    text = out.getvalue()
    return (json.loads(text) if "--json" in args else text), code


def test_json_summary_exactly_as_documented(tmp_path):
    person = BeneficiaryFactory()
    path = pecgm_file(tmp_path, [record_for(person), record_for(None)], JAN)
    summary, code = run_command(str(path), "--json")
    assert code == 0
    assert summary == {
        "status": "imported",
        "reference_date": "2025-01-31",
        "records": 2,
        "imported": 2,
        "rejected_records": 0,
        "matched": 1,
        "created": 1,
        "review": 1,
        "errors": [],
    }
    assert ImportRun.objects.get().started_by == "command"

    again, code = run_command(str(path), "--json")
    assert (again["status"], code) == ("duplicate", 0)


def test_rejected_file_exits_non_zero_with_its_errors(tmp_path):
    path = pecgm_file(tmp_path, [record_for(None, birth_date="")], JAN)
    summary, code = run_command(str(path), "--json")
    assert code == 1
    assert summary["status"] == "rejected"
    assert summary["rejected_records"] == 1
    assert {"record": 1, "field": "DATE_NAISSANCE"}.items() <= summary["errors"][1].items()


def test_dry_run_changes_nothing(tmp_path):
    path = pecgm_file(tmp_path, [record_for(None)], JAN)
    text, code = run_command(str(path), "--dry-run")
    assert code == 0 and "[simulation]" in text and "créés : 1" in text
    assert not ImportRun.objects.exists()


def test_missing_file(tmp_path):
    with pytest.raises(CommandError, match="introuvable"):
        call_command("import_pecgm", str(tmp_path / "absent.xml"))


def test_export_followup_columns_and_values(tmp_path):
    followed = BeneficiaryFactory()
    unknown = BeneficiaryFactory()
    DecisionFactory(beneficiary=followed, nature="06", decision_date=date(2025, 1, 15))
    record = ceased(record_for(followed, ft_identifier="1234567Z"), date(2025, 1, 10), motive="43")
    call_command("import_pecgm", str(pecgm_file(tmp_path, [record], JAN)), stdout=io.StringIO())
    output = tmp_path / "suivi.csv"
    call_command("export_followup", "--output", str(output), stderr=io.StringIO())

    rows = list(csv.DictReader(output.open(encoding="utf-8-sig"), delimiter=";"))
    assert list(rows[0]) == [
        "nir", "nom_naissance", "prenom", "date_naissance", "statut_pe", "categorie", "date_debut_ide",
        "date_cessation", "motif_cessation", "date_radiation", "motif_radiation", "identifiant_pe",
        "date_dernier_contact", "absent_dernier_fichier", "date_reference_pe", "nature_orientation",
        "date_orientation",
    ]  # fmt: skip
    by_nir = {row["nir"]: row for row in rows}
    row = by_nir[followed.nir]
    assert row["statut_pe"] == "cessation"
    assert (row["date_cessation"], row["motif_cessation"], row["identifiant_pe"]) == (
        "2025-01-10",
        "43",
        "1234567Z",
    )
    assert (row["date_reference_pe"], row["absent_dernier_fichier"]) == ("2025-01-31", "non")
    assert row["date_naissance"] == followed.birth_date.isoformat()
    assert (row["nature_orientation"], row["date_orientation"]) == ("06", "2025-01-15")
    assert by_nir[unknown.nir]["statut_pe"] == "inconnu"
    assert by_nir[unknown.nir]["nature_orientation"] == ""


def test_export_followup_writes_for_the_service_account_only_and_is_audited(tmp_path):
    import stat

    from audit.models import AuditEntry

    BeneficiaryFactory()
    BeneficiaryFactory()
    output = tmp_path / "suivi.csv"
    call_command("export_followup", "--output", str(output), stderr=io.StringIO())
    assert stat.S_IMODE(output.stat().st_mode) == 0o600  # every NIR of the Département
    entry = AuditEntry.objects.get(action="exported", object_type="followup_csv")
    assert entry.extra == {"rows": 2, "origin": "commande"} and entry.username == ""


def test_export_followup_to_standard_output():
    BeneficiaryFactory()
    out = io.StringIO()
    call_command("export_followup", stdout=out)
    assert out.getvalue().splitlines()[0].startswith("nir;nom_naissance;prenom")
    assert len(out.getvalue().splitlines()) == 2


def test_export_followup_never_writes_a_formula():
    BeneficiaryFactory(birth_name='=HYPERLINK("http://x")', first_name="@SOMME")
    out = io.StringIO()
    call_command("export_followup", stdout=out)
    row = next(csv.DictReader(io.StringIO(out.getvalue().lstrip("\ufeff")), delimiter=";"))
    assert (row["nom_naissance"], row["prenom"]) == ('\'=HYPERLINK("http://x")', "'@SOMME")


def test_a_collapsed_stock_needs_force_small_stock(tmp_path):
    january = [record_for(BeneficiaryFactory()) for _ in range(4)]
    assert run_command(str(pecgm_file(tmp_path, january, JAN)))[1] == 0
    february = str(pecgm_file(tmp_path, january[:1], date(2025, 2, 28)))
    text, code = run_command(february)
    assert code == 1 and "--force-small-stock" in text
    summary, code = run_command(february, "--json", "--force-small-stock")
    assert (summary["status"], code) == ("imported", 0)
    assert ImportRun.objects.filter(status="rejected").count() == 1
