import json
import stat
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from audit.models import AuditEntry
from orientations.cgpem import generate_cgpem
from orientations.models import CgpemExport
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db


def test_export_cgpem_json_summary(tmp_path):
    DecisionFactory(beneficiary=BeneficiaryFactory(birth_name="Cœur"))
    # Nothing identifying can be written (a long name is only cut: issue 21).
    excluded = DecisionFactory(beneficiary=BeneficiaryFactory(birth_name="12", nir=""))
    output = tmp_path / "cgpem.xml"
    out = StringIO()
    call_command(
        "export_cgpem",
        "--periodicity",
        "M",
        "--date",
        "2025-01-31",
        "--output",
        str(output),
        "--json",
        stdout=out,
    )
    summary = json.loads(out.getvalue())
    assert summary["records"] == 1
    assert summary["file"] == "CGPEM_082_20250131_M.xml"
    assert summary["excluded"][0]["decision"] == excluded.pk
    assert "aucun élément d'identification" in summary["excluded"][0]["reasons"][0]
    assert summary["transliterated"][0]["replaced"] == {"œ": "oe"}
    assert output.read_bytes() == Path(summary["archive"]).read_bytes()
    assert CgpemExport.objects.count() == 1
    # NIRs inside: the archive and the copy are the service account's only.
    for path in (output, Path(summary["archive"])):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_export_cgpem_text_summary(tmp_path):
    DecisionFactory(beneficiary=BeneficiaryFactory(first_name="Łucja"))
    out = StringIO()
    call_command(
        "export_cgpem",
        "--periodicity",
        "Q",
        "--date",
        "2025-01-31",
        "--output",
        str(tmp_path / "f.xml"),
        stdout=out,
    )
    assert "0 décision écrite, 0 écartée" in out.getvalue()  # the decision was not changed that day
    out = StringIO()
    call_command(
        "export_cgpem",
        "--periodicity",
        "M",
        "--date",
        "2025-01-31",
        "--output",
        str(tmp_path / "f.xml"),
        stdout=out,
    )
    assert "1 décision écrite, 0 écartée" in out.getvalue()
    assert "PRENOM : Ł → L" in out.getvalue()


def test_export_cgpem_rejects_a_bad_date(tmp_path):
    with pytest.raises(CommandError, match="invalide"):
        call_command(
            "export_cgpem", "--periodicity", "M", "--date", "31/01/2025", "--output", str(tmp_path / "f")
        )


@pytest.mark.parametrize(
    ("period_end", "reason"),
    [("2099-01-31", "dans le futur"), ("2025-01-15", "dernier jour d'un mois")],
)
def test_export_cgpem_refuses_a_future_or_mid_month_period_end_and_writes_nothing(
    tmp_path, settings, period_end, reason
):
    DecisionFactory(decision_date=date(2025, 1, 10))
    output = tmp_path / "f.xml"
    with pytest.raises(CommandError, match=reason):
        call_command(
            "export_cgpem", "--periodicity", "M", "--date", period_end, "--output", str(output), "--json"
        )
    assert not output.exists()
    assert not CgpemExport.objects.exists()
    archive = settings.EXCHANGE_FILES_DIR / "cgpem"
    assert not archive.exists() or list(archive.iterdir()) == []


def test_exports_pages_list_exclusions_and_serve_the_file(client, admin_user):
    DecisionFactory(beneficiary=BeneficiaryFactory(birth_name="X" * 26))  # cut, with a warning
    DecisionFactory(beneficiary=BeneficiaryFactory(birth_name="12", nir=""))  # left out
    DecisionFactory(beneficiary=BeneficiaryFactory(birth_name="Œuvray"))
    export = generate_cgpem("M", date(2025, 1, 31))
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    listing = client.get(reverse("cgpem_exports"))
    assert "CGPEM_082_20250131_M.xml" in listing.content.decode()
    detail = client.get(reverse("cgpem_export_detail", args=[export.pk])).content.decode()
    assert "NOM_NAISSANCE : 26 caractères après translittération, 25 au plus ; valeur coupée" in detail
    assert "aucun élément d&#x27;identification transmissible" in detail
    assert "« Œ » → « OE »" in detail
    download = client.get(reverse("cgpem_download", args=[export.pk]))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == Path(export.path).read_bytes()
    assert 'filename="CGPEM_082_20250131_M.xml"' in download["Content-Disposition"]
    assert AuditEntry.objects.filter(action="downloaded_file", object_id=str(export.pk)).exists()


def test_exports_pages_are_for_admins(client, orientation_officer):
    client.login(username=orientation_officer.username, password=TEST_PASSWORD)
    assert client.get(reverse("cgpem_exports")).status_code == 403


def test_download_of_a_missing_or_outside_file_is_404(client, admin_user, tmp_path):
    DecisionFactory()
    export = generate_cgpem("M", date(2025, 1, 31))
    client.login(username=admin_user.username, password=TEST_PASSWORD)
    CgpemExport.objects.filter(pk=export.pk).update(path=str(tmp_path / "elsewhere.xml"))
    (tmp_path / "elsewhere.xml").write_text("x")
    assert client.get(reverse("cgpem_download", args=[export.pk])).status_code == 404
