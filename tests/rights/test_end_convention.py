"""end_convention: dry run, confirmation, destruction and its certificate (no personal data)."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEntry
from beneficiaries.models import Beneficiary, Source
from exchanges.models import FollowUp, ImportReject, ImportRun, JobSeekerSnapshot, ReviewCase, StatusEvent
from exchanges.pecgm_import import import_pecgm
from orientations.cgpem import generate_cgpem
from orientations.models import CgpemExport, OrientationDecision
from rights import end_convention
from rights.models import DestructionCertificate
from tests.exchanges.import_files import pecgm_file, record_for, struck_off
from tests.factories import BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(tmp_path, settings):
    settings.PECGM_MAX_REJECT_RATIO = 0.5
    local = BeneficiaryFactory()
    record = record_for(local)
    stranger = record_for(None, nir="1991282121123")
    oriented_stranger = record_for(None, nir="2880582121456")
    files = tmp_path / "in"
    files.mkdir()
    january = pecgm_file(
        files, [record, stranger, oriented_stranger, record_for(None, birth_date="x")], date(2025, 1, 31)
    )
    import_pecgm(january)
    import_pecgm(
        pecgm_file(
            files, [struck_off(record, date(2025, 2, 3)), stranger, oriented_stranger], date(2025, 2, 28)
        )
    )
    # The archive of the received files, as the fetch keeps them.
    archive = settings.EXCHANGE_FILES_DIR / "pecgm"
    archive.mkdir(parents=True)
    (archive / january.name).write_bytes(january.read_bytes())
    DecisionFactory(beneficiary=local, decision_date=date(2025, 1, 10))
    created = Beneficiary.objects.filter(source=Source.FRANCE_TRAVAIL).order_by("birth_date")
    assert created.count() == 2
    oriented = Beneficiary.objects.get(nir_key="2880582121456")
    DecisionFactory(beneficiary=oriented, decision_date=date(2025, 1, 12))
    generate_cgpem("M", date(2025, 1, 31))
    return {"local": local, "oriented": oriented, "archive": archive / january.name}


def personal(people) -> list[str]:
    values = []
    for person in people:
        values += [
            person.nir,
            person.nir_key,
            person.birth_name,
            person.first_name,
            person.birth_date.isoformat(),
        ]
    return [value for value in values if value and len(value) > 2]


def test_dry_run_counts_and_changes_nothing(world):
    out = io.StringIO()
    call_command("end_convention", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["applied"] is False
    tables = result["tables"]
    # Four records kept: February repeats the two strangers' January records (confirmed, not stored).
    assert tables["exchanges.jobseekersnapshot"] == JobSeekerSnapshot.objects.count() == 4
    assert tables["beneficiaries.beneficiary (supprimés)"] == 1
    assert tables["beneficiaries.beneficiary (anonymisés)"] == 1
    assert tables["fichiers"] == 2  # the PECGM archived, the CGPEM produced
    assert FollowUp.objects.count() == 3 and world["archive"].exists()


def test_apply_needs_the_phrase_and_an_admin(world, admin_user):
    with pytest.raises(CommandError, match="Confirmation"):
        call_command("end_convention", "--apply", "--confirm", "oui", "--by", admin_user.username)
    with pytest.raises(CommandError, match="administrateur"):
        call_command(
            "end_convention", "--apply", "--confirm", end_convention.CONFIRMATION, "--by", "personne"
        )
    assert JobSeekerSnapshot.objects.count() == 4 and world["archive"].exists()


def test_apply_destroys_and_certifies(world, admin_user, tmp_path, settings):
    people = list(Beneficiary.objects.all())
    digests = {
        str(path.relative_to(settings.EXCHANGE_FILES_DIR)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in settings.EXCHANGE_FILES_DIR.rglob("*")
        if path.is_file()
    }
    runs = ImportRun.objects.count()
    output = tmp_path / "certificat.json"
    out = io.StringIO()
    call_command(
        "end_convention",
        "--apply",
        "--confirm",
        end_convention.CONFIRMATION,
        "--by",
        admin_user.username,
        "--certificate",
        str(output),
        "--json",
        stdout=out,
    )
    for model in (JobSeekerSnapshot, FollowUp, StatusEvent, ImportReject, ReviewCase):
        assert not model.objects.exists(), model
    assert not [path for path in settings.EXCHANGE_FILES_DIR.rglob("*") if path.is_file()]
    # The Département's own person and decisions stay; France Travail's people go, or stay anonymous
    # when the Département decided about them.
    local = Beneficiary.objects.get(pk=world["local"].pk)
    assert local.nir == world["local"].nir
    oriented = Beneficiary.objects.get(pk=world["oriented"].pk)
    assert oriented.is_anonymised and OrientationDecision.objects.filter(beneficiary=oriented).exists()
    assert Beneficiary.objects.count() == 2
    assert ImportRun.objects.count() == runs and CgpemExport.objects.count() == 1  # the log stays

    certificate = json.loads(output.read_text())
    assert certificate == json.loads(out.getvalue())
    assert certificate["par"] == admin_user.username
    assert (
        certificate["commande"] == end_convention.version() and "liaison-rsa 0.1.0" in certificate["commande"]
    )
    assert {entry["file"]: entry["sha256"] for entry in certificate["fichiers"]} == digests
    assert certificate["tables"]["exchanges.jobseekersnapshot"] == 4
    text = output.read_text()
    assert [value for value in personal(people) if value in text] == []

    stored = DestructionCertificate.objects.get()
    assert json.loads(stored.content) == certificate
    assert stored.sha256 == hashlib.sha256(stored.content.encode()).hexdigest()
    entry = AuditEntry.objects.get(action="end_of_convention")
    assert entry.username == admin_user.username
    assert entry.extra["certificate_sha256"] == stored.sha256 and entry.extra["files"] == 2
