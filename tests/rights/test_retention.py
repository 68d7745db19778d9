"""Retention: purge_data (dry run by default) and export_person (right of access)."""

from __future__ import annotations

import io
import json
import os
import stat
from datetime import date, timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

import audit
from audit.models import AuditEntry
from beneficiaries.models import Beneficiary
from exchanges.models import FollowUp, ImportReject, ImportRun, JobSeekerSnapshot, ReviewCase, StatusEvent
from orientations.models import OrientationDecision
from rights.retention import ANONYMOUS_NAME, inactive_beneficiaries, purge
from tests.factories import BeneficiaryFactory
from tests.orientations.factories import DecisionFactory

LONG_AGO = timezone.now() - timedelta(days=5 * 365)


def age(queryset, **fields):
    """Move auto_now(_add) dates into the past, as time would."""
    queryset.model._base_manager.filter(pk__in=[o.pk for o in queryset]).update(**fields)


@pytest.fixture
def world(settings, tmp_path):
    settings.RETENTION_RAW_FILES_DAYS = 90
    settings.RETENTION_REJECTS_MONTHS = 6
    settings.RETENTION_INACTIVE_MONTHS = 24
    settings.AUDIT_RETENTION_MONTHS = 12
    settings.RETENTION_OPEN_REVIEWS_MONTHS = 12
    files = settings.EXCHANGE_FILES_DIR
    (files / "pecgm").mkdir(parents=True)
    old_file, new_file = files / "pecgm" / "old.xml", files / "pecgm" / "new.xml"
    for path in (old_file, new_file):
        path.write_text("<x/>")
    old_time = (timezone.now() - timedelta(days=91)).timestamp()
    os.utime(old_file, (old_time, old_time))

    old_run, new_run = (
        ImportRun.objects.create(file_name="a", sha256="a"),
        ImportRun.objects.create(file_name="b", sha256="b"),
    )
    age(ImportRun.objects.filter(pk=old_run.pk), started_at=timezone.now() - timedelta(days=200))
    ImportReject.objects.create(run=old_run, record_number=1, field="NIR", value="x", message="m")
    ImportReject.objects.create(run=new_run, record_number=1, field="NIR", value="y", message="m")

    inactive = BeneficiaryFactory(birth_name="Oublie")
    inactive_with_old_decision = BeneficiaryFactory(birth_name="Ancien")
    recent_decision = BeneficiaryFactory(birth_name="Decide")
    in_a_file = BeneficiaryFactory(birth_name="Fichier")
    new = BeneficiaryFactory(birth_name="Nouveau")
    age(Beneficiary.objects.exclude(pk=new.pk), created_at=LONG_AGO, updated_at=LONG_AGO)
    old_decision = DecisionFactory(beneficiary=inactive_with_old_decision, decision_date=date(2020, 3, 1))
    age(OrientationDecision.objects.filter(pk=old_decision.pk), recorded_at=LONG_AGO)
    DecisionFactory(beneficiary=recent_decision, decision_date=timezone.localdate())
    snapshot = JobSeekerSnapshot.objects.create(
        beneficiary=in_a_file,
        run=new_run,
        record_number=1,
        reference_date=timezone.localdate(),
        periodicity="M",
    )
    old_snapshot = JobSeekerSnapshot.objects.create(
        beneficiary=inactive, run=old_run, record_number=2, reference_date=date(2020, 1, 31), periodicity="M"
    )
    FollowUp.objects.create(beneficiary=inactive, source_snapshot=old_snapshot, status="radie")
    StatusEvent.objects.create(beneficiary=inactive, run=old_run, date=date(2020, 1, 31), kind="radiation")
    StatusEvent.objects.create(beneficiary=inactive, run=old_run, date=date(2019, 11, 4), kind="ppae_signed")

    identity = {"birth_name": "Oublie", "first_name": "Jeanne"}

    def unlinked(number, nir):
        return JobSeekerSnapshot.objects.create(
            run=old_run, record_number=number, reference_date=date(2020, 1, 31), periodicity="M", nir=nir
        )

    # Received long ago, never linked: its case dismissed long ago (purged), still open (kept),
    # left open for more than RETENTION_OPEN_REVIEWS_MONTHS (closed and purged).
    dismissed_snapshot = unlinked(3, "2850578006084")
    pending_snapshot = unlinked(4, "1850578006085")
    stale_snapshot = unlinked(5, "2900578006086")
    old_review = ReviewCase.objects.create(
        reason="several_candidates",
        status="dismissed",
        values=identity,
        resolved_at=LONG_AGO,
        snapshot=dismissed_snapshot,
    )
    ReviewCase.objects.create(reason="several_candidates", status="open", values=identity)
    pending_review = ReviewCase.objects.create(
        reason="several_candidates", status="open", values={"nir": "1850578006085"}, snapshot=pending_snapshot
    )
    stale_review = ReviewCase.objects.create(
        reason="nir_conflict", status="open", values={"nir": "2900578006086"}, snapshot=stale_snapshot
    )
    age(ReviewCase.objects.filter(pk=stale_review.pk), created_at=timezone.now() - timedelta(days=400))
    ReviewCase.objects.create(
        reason="several_candidates", status="linked", values=identity, resolved_at=timezone.now()
    )
    AuditEntry.objects.create(action=audit.Action.EXPORTED, timestamp=timezone.now() - timedelta(days=400))
    audit.log(None, audit.Action.EXPORTED)
    return locals()


def counts(items):
    return {item.category: item.count for item in items}


EXPECTED = {
    "raw_files": 1,
    "cgpem_archives": 0,
    "import_rejects": 1,
    "review_identities": 1,
    "unlinked_snapshots": 1,
    "stale_open_reviews": 1,
    "inactive_beneficiaries": 2,
    "ft_history": 0,  # the only old linked record is someone's current situation
    "audit_entries": 1,
}


@pytest.mark.django_db
def test_dry_run_changes_nothing(world):
    before = AuditEntry.objects.count()
    assert counts(purge()) == EXPECTED
    assert world["old_file"].exists()
    assert ImportReject.objects.count() == 2
    assert not Beneficiary.objects.filter(birth_name=ANONYMOUS_NAME).exists()
    assert AuditEntry.objects.count() == before


@pytest.mark.django_db
def test_apply_purges_and_audits(world):
    assert counts(purge(apply=True)) == EXPECTED
    assert not world["old_file"].exists() and world["new_file"].exists()
    assert list(ImportReject.objects.values_list("value", flat=True)) == ["y"]
    assert ImportRun.objects.count() == 2  # runs keep their counts
    world["old_review"].refresh_from_db()
    assert world["old_review"].values == {} and world["old_review"].status == "dismissed"
    assert ReviewCase.objects.exclude(values={}).count() == 3  # open, or resolved recently

    # The record of the case dismissed long ago is gone; the case and its decision stay.
    assert world["old_review"].snapshot is None
    assert not JobSeekerSnapshot.objects.filter(pk=world["dismissed_snapshot"].pk).exists()
    # Still awaiting a decision: kept.
    assert JobSeekerSnapshot.objects.filter(pk=world["pending_snapshot"].pk).exists()
    world["pending_review"].refresh_from_db()
    assert world["pending_review"].status == "open" and world["pending_review"].snapshot_id
    # Left open too long: closed, its identity and record gone.
    stale = ReviewCase.objects.get(pk=world["stale_review"].pk)
    assert (stale.status, stale.values, stale.snapshot_id) == ("dismissed", {}, None)
    assert stale.resolved_at is not None and "12 mois" in stale.resolution_note
    assert not JobSeekerSnapshot.objects.filter(pk=world["stale_snapshot"].pk).exists()

    inactive = Beneficiary.objects.get(pk=world["inactive"].pk)
    assert (inactive.nir, inactive.nir_key, inactive.birth_name, inactive.caf_number) == (
        "",
        "",
        ANONYMOUS_NAME,
        "",
    )
    assert inactive.birth_date == date(world["inactive"].birth_date.year, 1, 1)
    assert inactive.commune_code == world["inactive"].commune_code  # statistics by commune kept
    assert "oublie" not in inactive.search_text.lower()
    assert not JobSeekerSnapshot.objects.filter(beneficiary=inactive).exists()
    assert not FollowUp.objects.filter(beneficiary=inactive).exists()
    assert StatusEvent.objects.filter(beneficiary=inactive).count() == 2  # statistics kept, PPAE too
    older = Beneficiary.objects.get(pk=world["inactive_with_old_decision"].pk)
    assert older.birth_name == ANONYMOUS_NAME
    assert OrientationDecision.objects.filter(beneficiary=older).count() == 1
    kept = set(Beneficiary.objects.exclude(birth_name=ANONYMOUS_NAME).values_list("birth_name", flat=True))
    assert kept == {"Decide", "Fichier", "Nouveau"}

    purges = AuditEntry.objects.filter(action=audit.Action.PURGE)
    assert {e.object_type: e.extra["count"] for e in purges} == EXPECTED
    assert AuditEntry.objects.filter(action=audit.Action.EXPORTED).count() == 1

    # A second run finds nothing left to do.
    assert set(counts(purge(apply=True)).values()) == {0}


@pytest.mark.django_db
def test_command_is_a_dry_run_unless_told(world):
    out = io.StringIO()
    call_command("purge_data", "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert report["applied"] is False
    assert {item["category"]: item["count"] for item in report["items"]} == EXPECTED
    assert world["old_file"].exists()

    out = io.StringIO()
    call_command("purge_data", stdout=out)
    assert "Simulation" in out.getvalue() and "fichiers d'échange bruts : 1" in out.getvalue()

    out = io.StringIO()
    call_command("purge_data", "--apply", "--json", stdout=out)
    assert json.loads(out.getvalue())["applied"] is True
    assert not world["old_file"].exists()


def test_purge_is_scheduled(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["retention-purge"]
    assert entry["task"] == "audit.tasks.purge_data"
    # The task moved to rights.tasks; its registered name is still the one the schedule gives.
    from celery import current_app

    from rights.tasks import purge_data

    assert purge_data.name == entry["task"]
    assert current_app.tasks[entry["task"]].name == purge_data.name


@pytest.mark.django_db
def test_task_applies_the_purge(world):
    from rights.tasks import purge_data

    assert purge_data() == EXPECTED
    assert not world["old_file"].exists()


@pytest.mark.django_db
def test_export_person_writes_everything_held(tmp_path, caplog, social_worker):
    person = BeneficiaryFactory(birth_name="Durand")
    DecisionFactory(beneficiary=person, decision_date=date(2025, 1, 15))
    run = ImportRun.objects.create(file_name="f", sha256="f")
    JobSeekerSnapshot.objects.create(
        beneficiary=person, run=run, record_number=7, reference_date=date(2025, 1, 31), periodicity="M"
    )
    StatusEvent.objects.create(beneficiary=person, run=run, date=date(2025, 1, 31), kind="new_registration")
    audit.log(social_worker, audit.Action.VIEWED_BENEFICIARY, person)
    BeneficiaryFactory(birth_name="Autre")

    output = tmp_path / "personne.json"
    out = io.StringIO()
    call_command("export_person", "--nir", person.nir, "--output", str(output), stdout=out)

    data = json.loads(output.read_text())
    assert len(data["people"]) == 1
    record = data["people"][0]
    assert record["beneficiary"]["nir"] == person.nir and record["beneficiary"]["birth_name"] == "Durand"
    assert "search_text" not in record["beneficiary"]
    related = record["related"]
    assert related["orientations.orientationdecision"][0]["decision_date"] == "2025-01-15"
    assert related["exchanges.jobseekersnapshot"][0]["record_number"] == 7
    assert related["exchanges.statusevent"][0]["kind"] == "new_registration"
    assert record["accesses"][0]["action"] == "A consulté un bénéficiaire"
    assert "Autre" not in output.read_text()
    assert stat.S_IMODE(output.stat().st_mode) == 0o600

    entry = AuditEntry.objects.get(action=audit.Action.EXPORT_PERSON)
    assert entry.object_id == str(person.pk)
    assert person.nir not in out.getvalue()
    assert all(person.nir[:13] not in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_export_person_accepts_the_13_character_nir(tmp_path):
    person = BeneficiaryFactory()
    output = tmp_path / "p.json"
    call_command("export_person", "--nir", person.nir[:13], "--output", str(output), stdout=io.StringIO())
    assert json.loads(output.read_text())["people"][0]["beneficiary"]["id"] == person.pk


@pytest.mark.django_db
def test_export_person_finds_records_linked_to_nobody(tmp_path):
    """Identities received from France Travail and never linked are the person's data too."""
    run = ImportRun.objects.create(file_name="f", sha256="f")
    snapshot = JobSeekerSnapshot.objects.create(
        run=run, record_number=9, reference_date=date(2025, 1, 31), periodicity="M", nir="2850578006084"
    )
    ReviewCase.objects.create(reason="nir_conflict", snapshot=snapshot, values={"nir": "2850578006084"})
    dismissed = ReviewCase.objects.create(
        reason="several_candidates", status="dismissed", values={"nir": "2850578006084", "birth_name": "Roux"}
    )
    ReviewCase.objects.create(reason="several_candidates", values={"nir": "1850578006085"})

    output = tmp_path / "p.json"
    call_command("export_person", "--nir", "285057800608412", "--output", str(output), stdout=io.StringIO())

    data = json.loads(output.read_text())
    assert data["people"] == []
    assert [row["record_number"] for row in data["unlinked"]["exchanges.jobseekersnapshot"]] == [9]
    reviews = data["unlinked"]["exchanges.reviewcase"]
    assert len(reviews) == 2 and dismissed.pk in {row["id"] for row in reviews}
    assert "1850578006085" not in output.read_text()
    assert AuditEntry.objects.filter(action=audit.Action.EXPORT_PERSON).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize("command, arguments", [("export_person", "nir"), ("export_followup", "")])
def test_exports_never_write_through_an_existing_file_or_link(tmp_path, command, arguments):
    person = BeneficiaryFactory()
    extra = ["--nir", person.nir] if arguments else []
    existing = tmp_path / "existing.json"
    existing.write_text("old")
    existing.chmod(0o644)
    target = tmp_path / "elsewhere"
    target.write_text("target")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    for path in (existing, link):
        with pytest.raises(CommandError, match="existe déjà"):
            call_command(command, *extra, "--output", str(path), stdout=io.StringIO(), stderr=io.StringIO())
    assert existing.read_text() == "old" and target.read_text() == "target"

    fresh = tmp_path / "fresh.out"
    old_umask = os.umask(0)  # the mode does not depend on the operator's umask
    try:
        call_command(command, *extra, "--output", str(fresh), stdout=io.StringIO(), stderr=io.StringIO())
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


@pytest.mark.django_db
def test_export_person_unknown_nir_does_not_repeat_it(tmp_path):
    with pytest.raises(CommandError) as error:
        call_command("export_person", "--nir", "185057800608436", "--output", str(tmp_path / "x.json"))
    assert "185057800608436" not in str(error.value)
    assert not (tmp_path / "x.json").exists()


@pytest.mark.django_db
def test_france_travail_history_is_bounded_even_for_active_people(settings):
    """Records older than RETENTION_FT_HISTORY_MONTHS go; their events and the current situation stay."""
    settings.RETENTION_FT_HISTORY_MONTHS = 36
    person = BeneficiaryFactory()
    run = ImportRun.objects.create(file_name="a", sha256="h")
    today = timezone.localdate()

    def snapshot(day, number):
        return JobSeekerSnapshot.objects.create(
            beneficiary=person, run=run, record_number=number, reference_date=day, periodicity="M"
        )

    oldest, old = snapshot(date(2019, 1, 31), 1), snapshot(date(2019, 2, 28), 2)
    current = snapshot(today, 3)
    FollowUp.objects.create(beneficiary=person, source_snapshot=current, status="inscrit")
    StatusEvent.objects.create(beneficiary=person, run=run, date=date(2019, 2, 28), kind="radiation")
    StatusEvent.objects.create(beneficiary=person, run=run, date=date(2019, 1, 14), kind="ppae_signed")
    case = ReviewCase.objects.create(reason="identifier_mismatch", status="linked", snapshot=oldest)

    # The history stores changes: `old`, the newest record before the cutoff, still gives the
    # values of the months after it until `current`, and stays; `oldest`, replaced by it, goes.
    items = {item.category: item for item in purge()}
    assert items["ft_history"].count == 1
    assert JobSeekerSnapshot.objects.count() == 3  # a dry run

    purge(apply=True)
    assert sorted(JobSeekerSnapshot.objects.values_list("pk", flat=True)) == [old.pk, current.pk]
    assert StatusEvent.objects.filter(beneficiary=person).count() == 2  # a PPAE signed like the others
    assert FollowUp.objects.get(beneficiary=person).source_snapshot_id == current.pk
    case.refresh_from_db()
    assert case.snapshot is None and case.status == "linked"
    assert not JobSeekerSnapshot.objects.filter(pk=oldest.pk).exists()
    entry = AuditEntry.objects.get(action="purge", object_type="ft_history")
    assert entry.extra["count"] == 1

    # Someone whose newest record is itself old (out of the files for years): it stays, and
    # only the records it replaced go.
    JobSeekerSnapshot.objects.filter(pk=current.pk).update(reference_date=date(2019, 3, 31))
    assert {item.category: item.count for item in purge()}["ft_history"] == 1
    purge(apply=True)
    assert list(JobSeekerSnapshot.objects.values_list("pk", flat=True)) == [current.pk]


@pytest.mark.django_db
def test_someone_whose_values_recent_stocks_confirmed_is_active(settings):
    """Change-based history: a person in every stock whose values never changed has one old
    record, and a follow-up the newest stock confirmed. They are in a PECGM file: not inactive."""
    run = ImportRun.objects.create(file_name="a", sha256="h")
    today = timezone.localdate()
    confirmed, gone = BeneficiaryFactory(birth_name="Confirme"), BeneficiaryFactory(birth_name="Parti")
    age(Beneficiary.objects.all(), created_at=LONG_AGO, updated_at=LONG_AGO)
    for person, last_file in ((confirmed, today), (gone, date(2020, 1, 31))):
        record = JobSeekerSnapshot.objects.create(
            beneficiary=person, run=run, record_number=1, reference_date=date(2020, 1, 31), periodicity="M"
        )
        FollowUp.objects.create(
            beneficiary=person, source_snapshot=record, reference_date=last_file, status="inscrit"
        )
    cutoff = timezone.now() - timedelta(days=round(settings.RETENTION_INACTIVE_MONTHS * 30.44))
    assert list(inactive_beneficiaries(cutoff)) == [gone]


def test_purge_queries_use_anti_joins_not_not_in():
    """A regression guard from the 150 000 × 60 months bench (docs/performance.md).

    PostgreSQL hashes a ``NOT IN (subquery)`` only while the subquery fits in work_mem;
    past that it reruns the subquery for every row, and the purge of the history did not
    end in 30 minutes. ``NOT EXISTS`` plans as an anti-join whatever the size.
    """
    from rights.retention import old_history, unlinked_snapshots

    cutoff = timezone.now() - timedelta(days=365)
    for queryset in (old_history(cutoff.date()), unlinked_snapshots(cutoff), inactive_beneficiaries(cutoff)):
        sql = str(queryset.query).upper()
        assert "NOT (EXISTS(SELECT" in sql
        assert " IN (SELECT" not in sql
