"""The data subject's rights: restriction, rectification, erasure (page and command)."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import date, datetime, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from beneficiaries.models import ANONYMOUS_NAME, Beneficiary
from exchanges.followup_export import rows as followup_rows
from exchanges.models import FollowUp, ImportRun, JobSeekerSnapshot, ReviewCase, StatusEvent
from exchanges.pecgm_import import import_pecgm
from orientations.cgpem import generate_cgpem, select_decisions
from orientations.models import OrientationDecision
from rights import erasure
from rights.models import IdentityCorrection, Restriction
from rights.retention import purge
from tests.exchanges.import_files import pecgm_file, record_for, struck_off
from tests.factories import TEST_PASSWORD, BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

pytestmark = pytest.mark.django_db


def login(client, user):
    assert client.login(username=user.username, password=TEST_PASSWORD)
    return client


def listed(client, name: str) -> bool:
    return name.lower() in client.get(reverse("beneficiary_list")).content.decode().lower()


def export_text(client) -> str:
    return b"".join(client.get(reverse("beneficiary_export")).streaming_content).decode("utf-8-sig")


def cgpem_people(periodicity: str, day: date) -> set[int]:
    start = day if periodicity == "Q" else day - timedelta(days=6)
    return set(select_decisions(periodicity, start, day).values_list("beneficiary_id", flat=True))


# --- Restriction ----------------------------------------------------------------------


def test_restricted_person_is_left_out_of_lists_exports_and_cgpem_until_lifted(
    client, admin_user, social_worker
):
    person = BeneficiaryFactory(birth_name="Limitee")
    other = BeneficiaryFactory(birth_name="Ordinaire")
    DecisionFactory(beneficiary=person)
    DecisionFactory(beneficiary=other)
    today = timezone.localdate()
    login(client, admin_user)
    response = client.post(reverse("restrict_person", args=[person.pk]), {"reason": "demande écrite"})
    assert response.status_code == 302
    assert Restriction.objects.get(beneficiary=person).created_by == admin_user
    assert AuditEntry.objects.filter(action="restricted", object_id=str(person.pk)).exists()

    # Admin: not in the list nor the export, but the page opens, saying so.
    assert not listed(client, "Limitee")
    assert listed(client, "Ordinaire")
    assert person.caf_number not in export_text(client)
    page = client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    assert 'id="restricted"' in page
    assert "limitee" in client.get(reverse("rights_home")).content.decode().lower()
    # Everyone's follow-up export and the CGPEM leave them out.
    assert not any(person.nir in line for line in followup_rows())
    assert cgpem_people("Q", today) == {other.pk}
    assert person.pk not in set(
        select_decisions("M", today.replace(day=1), today).values_list("beneficiary_id", flat=True)
    )

    # A social worker of their territory: not even the page.
    login(client, social_worker)
    assert client.get(reverse("beneficiary_detail", args=[person.pk])).status_code == 404
    assert not listed(client, "Limitee")
    assert client.post(reverse("restrict_person", args=[person.pk]), {"lift": "1"}).status_code == 403

    login(client, admin_user)
    OrientationDecision.objects.update(changed_at=timezone.now() - timedelta(days=30))
    client.post(reverse("restrict_person", args=[person.pk]), {"lift": "1"})
    assert not Restriction.objects.exists()
    assert AuditEntry.objects.filter(action="restriction_lifted", object_id=str(person.pk)).exists()
    # Their decisions, held back meanwhile, go in the next flux.
    assert cgpem_people("Q", today) == {person.pk}
    assert listed(client, "Limitee")


def test_a_restriction_needs_a_reason(client, admin_user):
    person = BeneficiaryFactory()
    login(client, admin_user)
    client.post(reverse("restrict_person", args=[person.pk]), {"reason": ""})
    assert not Restriction.objects.exists()


# --- Rectification --------------------------------------------------------------------


def test_rectification_keeps_old_and_new_values_refreshes_keys_and_resends(client, admin_user):
    person = BeneficiaryFactory(birth_name="Dupond", usage_name="", msa_number="")
    DecisionFactory(beneficiary=person)
    OrientationDecision.objects.update(changed_at=timezone.now() - timedelta(days=30))
    old_nir, old_name = person.nir, person.birth_name
    new_nir = "2850578006084"
    data = {
        "birth_name": "Dupont",
        "usage_name": "",
        "first_name": person.first_name,
        "birth_date": person.birth_date.isoformat(),
        "nir": new_nir,
        "caf_number": person.caf_number,
        "msa_number": "",
        "commune_code": person.commune_code,
        "reason": "acte de naissance présenté",
    }
    login(client, admin_user)
    form = client.get(reverse("rectify_person", args=[person.pk])).content.decode()
    assert person.masked_nir in form and person.nir_key not in form  # typed in, never shown
    response = client.post(reverse("rectify_person", args=[person.pk]), data)
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.birth_name, person.nir, person.nir_key, person.birth_name_key) == (
        "Dupont",
        new_nir,
        new_nir,
        "DUPONT",
    )
    assert "DUPONT" in person.search_text
    corrections = {c.field: (c.old_value, c.new_value, c.reason) for c in IdentityCorrection.objects.all()}
    assert corrections == {
        "birth_name": (old_name, "Dupont", "acte de naissance présenté"),
        "nir": (old_nir, new_nir, "acte de naissance présenté"),
    }
    entry = AuditEntry.objects.get(action="rectified_identity")
    assert entry.object_id == str(person.pk) and entry.extra == {"fields": "birth_name,nir"}
    # The trail holds no value, old or new.
    assert old_name not in json.dumps(entry.extra) and new_nir not in json.dumps(entry.extra)
    assert cgpem_people("Q", timezone.localdate()) == {person.pk}
    page = client.get(reverse("beneficiary_detail", args=[person.pk])).content.decode()
    assert "acte de naissance présenté" in page


def test_rectification_refuses_without_reason_a_bad_nir_or_someone_elses(client, admin_user):
    person = BeneficiaryFactory()
    other = BeneficiaryFactory()
    base = {
        "birth_name": person.birth_name,
        "first_name": person.first_name,
        "birth_date": person.birth_date.isoformat(),
        "nir": person.nir,
        "caf_number": person.caf_number,
        "commune_code": person.commune_code,
        "reason": "motif",
    }
    login(client, admin_user)
    url = reverse("rectify_person", args=[person.pk])
    for changes, message in (
        ({"reason": ""}, "Ce champ est obligatoire"),
        ({"nir": "123"}, "13 ou 15 caractères"),
        ({"nir": other.nir}, f"bénéficiaire n° {other.pk}"),
    ):
        response = client.post(url, {**base, "birth_name": "Autre", **changes})
        assert response.status_code == 200 and message in response.content.decode()
    assert not IdentityCorrection.objects.exists()
    assert Beneficiary.objects.get(pk=person.pk).birth_name == person.birth_name
    # An empty NIR keeps the current one.
    assert client.post(url, {**base, "nir": "", "birth_name": "Autre"}).status_code == 302
    kept = Beneficiary.objects.get(pk=person.pk)
    assert (kept.birth_name, kept.nir) == ("Autre", person.nir)
    assert list(IdentityCorrection.objects.values_list("field", flat=True)) == ["birth_name"]


# --- Erasure --------------------------------------------------------------------------


@pytest.fixture
def person_with_history(tmp_path, settings, admin_user):
    person = BeneficiaryFactory()
    record = record_for(person)
    import_pecgm(pecgm_file(tmp_path, [record], date(2025, 1, 31)))
    import_pecgm(pecgm_file(tmp_path, [struck_off(record, date(2025, 2, 10))], date(2025, 2, 28)))
    DecisionFactory(beneficiary=person, decision_date=date(2025, 1, 15))
    export = generate_cgpem("M", date(2025, 1, 31))
    Restriction.objects.create(beneficiary=person, reason="r", created_by=admin_user)
    IdentityCorrection.objects.create(
        beneficiary=person, field="birth_name", old_value="X", new_value="Y", reason="r"
    )
    # Received with their NIR, never linked (its case dismissed).
    unlinked = JobSeekerSnapshot.objects.create(
        run=ImportRun.objects.first(),
        record_number=9,
        reference_date=date(2025, 1, 31),
        periodicity="M",
        nir=person.nir[:13],
    )
    ReviewCase.objects.create(
        reason="nir_conflict", status="dismissed", snapshot=unlinked, values={"nir": person.nir[:13]}
    )
    import audit

    audit.log(admin_user, audit.Action.VIEWED_BENEFICIARY, person)
    assert StatusEvent.objects.filter(beneficiary=person).exists()
    return {"person": person, "export": export}


def test_erase_person_dry_run_then_apply(person_with_history, settings):
    person, export = person_with_history["person"], person_with_history["export"]
    nir = person.nir
    archive = settings.EXCHANGE_FILES_DIR / "cgpem" / export.file_name
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert person.nir[:13].encode() in archive.read_bytes()
    entries = AuditEntry.objects.count()

    out = io.StringIO()
    call_command("erase_person", "--nir", person.nir, "--json", stdout=out)
    dry = json.loads(out.getvalue())
    assert dry["applied"] is False and dry["people"] == [person.pk]
    removed = {line["what"]: line["count"] for line in dry["removed"]}
    assert removed["situations France Travail reçues"] == 2
    assert removed["situations France Travail reçues (reçus, jamais rattachés)"] == 1
    assert removed["évènements France Travail"] >= 1
    assert removed["limitations du traitement"] == 1 and removed["rectifications d'identité"] == 1
    kept = {line["what"]: line for line in dry["kept"]}
    assert kept["décisions d'orientation"]["count"] == 1
    assert "recours" in kept["décisions d'orientation"]["why"]
    assert kept["fichiers CGPEM transmis"]["count"] == len(dry["files"]) == 1
    assert dry["files"] == [f"cgpem/{export.file_name}"]
    # The report says when the archive goes: RETENTION_CGPEM_ARCHIVE_MONTHS after it was written.
    written = datetime.fromtimestamp(archive.stat().st_mtime, tz=timezone.get_current_timezone()).date()
    until = written + timedelta(days=round(settings.RETENTION_CGPEM_ARCHIVE_MONTHS * 30.44))
    assert f"au plus tard le {until:%d/%m/%Y}" in kept["fichiers CGPEM transmis"]["why"]
    # Nothing personal in what the command prints.
    for value in (person.nir, person.nir[:13], person.birth_name, person.first_name):
        assert value not in out.getvalue()
    assert JobSeekerSnapshot.objects.filter(beneficiary=person).count() == 2  # dry run: nothing changed
    assert AuditEntry.objects.count() == entries

    out = io.StringIO()
    call_command("erase_person", "--nir", person.nir, "--apply", stdout=out)
    assert "Effacement effectué" in out.getvalue() and "Conservé" in out.getvalue()
    person.refresh_from_db()
    assert person.is_anonymised and person.birth_date == date(person.birth_date.year, 1, 1)
    assert (person.caf_number, person.msa_number, person.rsa_start_date) == ("", "", None)
    for model in (JobSeekerSnapshot, FollowUp, StatusEvent, IdentityCorrection, Restriction):
        assert not model.objects.filter(beneficiary=person).exists(), model
    assert not JobSeekerSnapshot.objects.filter(nir__startswith=nir[:13]).exists()
    assert not ReviewCase.objects.filter(values__nir=nir[:13]).exists()
    assert OrientationDecision.objects.filter(beneficiary=person).count() == 1
    # The audit entries stay (numbers only), with one more saying the erasure.
    assert AuditEntry.objects.filter(object_id=str(person.pk), action="viewed_beneficiary").exists()
    assert AuditEntry.objects.filter(object_id=str(person.pk), action="erased_person").count() == 1
    # The archived CGPEM, the Département's legal record, is unchanged; the person is never sent again.
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == digest == export.sha256
    assert person.pk not in set(
        select_decisions("M", date(2025, 1, 1), date(2025, 1, 31)).values_list("beneficiary_id", flat=True)
    )
    with pytest.raises(CommandError, match="Aucun bénéficiaire"):
        call_command("erase_person", "--nir", nir)  # nothing left that carries the NIR


def test_a_person_without_decisions_is_deleted_whole(client, admin_user, tmp_path):
    person = BeneficiaryFactory()
    import_pecgm(pecgm_file(tmp_path, [record_for(person)], date(2025, 1, 31)))
    login(client, admin_user)
    page = client.get(reverse("erase_person", args=[person.pk])).content.decode()
    assert "situations France Travail reçues : 1" in page
    # Without the phrase: nothing happens.
    client.post(reverse("erase_person", args=[person.pk]), {"confirm": "oui"})
    assert Beneficiary.objects.filter(pk=person.pk).exists()
    response = client.post(reverse("erase_person", args=[person.pk]), {"confirm": erasure.CONFIRMATION})
    assert response.status_code == 200 and "Données effacées" in response.content.decode()
    assert not Beneficiary.objects.filter(pk=person.pk).exists()
    assert not JobSeekerSnapshot.objects.exists() and not FollowUp.objects.exists()
    entry = AuditEntry.objects.get(action="erased_person")
    assert entry.username == admin_user.username and entry.object_id == str(person.pk)
    assert ANONYMOUS_NAME not in response.content.decode()


def test_an_erased_persons_cgpem_archive_outlives_the_raw_files_then_goes(person_with_history, settings):
    """The CGPEM sent is the Département's record: unchanged by the erasure, kept past the
    raw files' 90 days, destroyed by the purge once RETENTION_CGPEM_ARCHIVE_MONTHS have passed."""
    settings.RETENTION_RAW_FILES_DAYS = 90
    settings.RETENTION_CGPEM_ARCHIVE_MONTHS = 12
    person, export = person_with_history["person"], person_with_history["export"]
    archive = settings.EXCHANGE_FILES_DIR / "cgpem" / export.file_name
    erasure.erase([person])

    def purged_at(days: int) -> dict:
        now = timezone.now() + timedelta(days=days)
        return {item.category: item.count for item in purge(apply=True, now=now)}

    assert purged_at(100)["cgpem_archives"] == 0 and archive.exists()
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == export.sha256
    assert purged_at(370)["cgpem_archives"] == 1 and not archive.exists()
    # The export's row keeps what the file was.
    export.refresh_from_db()
    assert export.sha256 and export.records >= 1
