"""The PECGM import: matching rules, review queue, history, current status, events, runs."""

from __future__ import annotations

import errno
from datetime import date

import pytest

from beneficiaries.models import Beneficiary, Source
from exchanges import pecgm_import
from exchanges.models import (
    EventKind,
    FollowUp,
    FollowUpStatus,
    ImportReject,
    ImportRun,
    ImportStatus,
    JobSeekerSnapshot,
    MatchRule,
    RejectLevel,
    ReviewCase,
    ReviewReason,
    StatusEvent,
)
from exchanges.pecgm_import import import_pecgm
from tests.exchanges.import_files import ceased, pecgm_file, record_for, struck_off
from tests.factories import BeneficiaryFactory, namesakes

pytestmark = pytest.mark.django_db

JAN, FEB, MAR = date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31)


def data_counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (Beneficiary, JobSeekerSnapshot, FollowUp, StatusEvent, ReviewCase)
    }


def test_each_rule_is_counted_and_recorded(tmp_path):
    by_nir = BeneficiaryFactory()
    by_caf = BeneficiaryFactory(nir="")
    by_name = BeneficiaryFactory(nir="", caf_number="")
    records = [
        record_for(by_nir, birth_name="NOM CHANGE"),
        record_for(by_caf, birth_name="AUTRE", first_name="X"),
        record_for(by_name, birth_name=f"  {by_name.birth_name.lower()}  "),
        record_for(None, nir="1991282121123"),
    ]
    run = import_pecgm(pecgm_file(tmp_path, records, JAN))

    assert run.status == ImportStatus.IMPORTED
    assert (run.records, run.imported, run.rejected_records) == (4, 4, 0)
    assert (run.matched_nir, run.matched_caf_msa, run.matched_name, run.matched_ft_identifier) == (1, 1, 1, 0)
    assert (run.matched, run.created, run.review) == (3, 1, 1)
    rules = dict(JobSeekerSnapshot.objects.values_list("beneficiary_id", "match_rule"))
    assert rules[by_nir.pk] == MatchRule.NIR
    assert rules[by_caf.pk] == MatchRule.CAF_MSA
    assert rules[by_name.pk] == MatchRule.NAME
    assert run.reference_date == JAN and run.periodicity == "M"


def test_france_travail_identifier_seen_before(tmp_path):
    person = BeneficiaryFactory(nir="", caf_number="")
    first = record_for(person, ft_identifier="7654321B")
    import_pecgm(pecgm_file(tmp_path, [first], JAN))
    # The next month France Travail spells the name otherwise: the identifier still finds them.
    run = import_pecgm(pecgm_file(tmp_path, [{**first, "birth_name": "DURAND-AUTRE"}], FEB))
    assert run.matched_ft_identifier == 1
    assert JobSeekerSnapshot.objects.get(run=run).beneficiary == person


def test_person_unknown_to_the_departement_is_created_and_listed_for_review(tmp_path):
    record = record_for(None, nir="2880582121456", caf_number="1234567")
    run = import_pecgm(pecgm_file(tmp_path, [record], JAN))
    created = Beneficiary.objects.get()
    assert created.source == Source.FRANCE_TRAVAIL
    assert (created.nir, created.birth_name, created.caf_number) == (
        "2880582121456",
        record["birth_name"],
        "1234567",
    )
    case = ReviewCase.objects.get()
    assert (case.reason, case.status, case.beneficiary, case.run) == (
        ReviewReason.CREATED_FROM_FT,
        "open",
        created,
        run,
    )
    assert created.followup.status == FollowUpStatus.REGISTERED


def test_same_unknown_person_twice_in_a_flux_is_created_once(tmp_path):
    record = record_for(None, nir="2880582121456")
    run = import_pecgm(pecgm_file(tmp_path, [record, ceased(record, date(2025, 1, 20))], JAN, "H"))
    assert (run.created, run.matched_nir) == (1, 1)
    assert Beneficiary.objects.count() == 1
    assert FollowUp.objects.get().status == FollowUpStatus.CEASED


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"birth_date": date(1970, 1, 1)}, ReviewReason.NIR_CONFLICT),
        ({"nir": "1991282121999", "caf_number": ""}, ReviewReason.IDENTIFIER_MISMATCH),
    ],
)
def test_doubtful_records_wait_for_an_admin(tmp_path, change, reason):
    person = BeneficiaryFactory()
    run = import_pecgm(pecgm_file(tmp_path, [record_for(person, **change)], JAN))
    assert (run.matched, run.created, run.review, run.imported) == (0, 0, 1, 1)
    case = ReviewCase.objects.get()
    assert case.reason == reason
    assert list(case.candidates.all()) == [person]
    assert case.snapshot.beneficiary is None and case.values["birth_name"] == person.birth_name.upper()
    assert not FollowUp.objects.exists()
    assert Beneficiary.objects.count() == 1


def test_two_candidates_wait_for_an_admin(tmp_path):
    person, twin = namesakes()
    import_pecgm(pecgm_file(tmp_path, [record_for(person)], JAN))
    case = ReviewCase.objects.get()
    assert case.reason == ReviewReason.SEVERAL_CANDIDATES
    assert set(case.candidates.all()) == {person, twin}


def test_every_change_is_kept_as_a_dated_snapshot_and_a_repeat_confirms_it(tmp_path):
    person = BeneficiaryFactory()
    record = record_for(person, rome_code="G1603", work_axis="04", ppae_signature_date=date(2024, 4, 1))
    import_pecgm(pecgm_file(tmp_path, [record], JAN))
    february = import_pecgm(pecgm_file(tmp_path, [record], FEB))
    # February repeats January: no second snapshot, the follow-up says February confirmed it.
    snapshots = JobSeekerSnapshot.objects.filter(beneficiary=person).order_by("reference_date")
    assert [s.reference_date for s in snapshots] == [JAN]
    followup = FollowUp.objects.get(beneficiary=person)
    assert (followup.reference_date, followup.source_snapshot_id, followup.absent_from_last_stock) == (
        FEB,
        snapshots[0].pk,
        False,
    )
    assert (followup.confirmed_run_id, followup.confirmed_record_number) == (february.pk, 1)
    march = import_pecgm(pecgm_file(tmp_path, [{**record, "work_axis": "03"}], MAR))
    snapshots = JobSeekerSnapshot.objects.filter(beneficiary=person).order_by("reference_date")
    assert [s.reference_date for s in snapshots] == [JAN, MAR]
    followup = FollowUp.objects.get(beneficiary=person)
    assert (followup.source_snapshot_id, followup.confirmed_run_id, followup.work_axis) == (
        snapshots[1].pk,
        march.pk,
        "03",
    )
    first = snapshots[0]
    assert (first.record_number, first.rome_code, first.work_axis, first.ppae_signature_date) == (
        1,
        "G1603",
        "04",
        date(2024, 4, 1),
    )
    assert first.main_structure_name == "FRANCE TRAVAIL MONTAUBAN" and first.run.reference_date == JAN


def test_current_status_follows_the_newest_file(tmp_path):
    person = BeneficiaryFactory()
    record = record_for(person)
    import_pecgm(pecgm_file(tmp_path, [record], JAN))
    assert person.followup.status == FollowUpStatus.REGISTERED
    import_pecgm(pecgm_file(tmp_path, [struck_off(record, date(2025, 2, 10))], FEB))
    followup = FollowUp.objects.get(beneficiary=person)
    assert (followup.status, followup.radiation_motive, followup.reference_date) == (
        FollowUpStatus.STRUCK_OFF,
        "21",
        FEB,
    )
    assert followup.source_snapshot.run.reference_date == FEB


def test_older_file_enters_history_without_overwriting(tmp_path):
    person = BeneficiaryFactory()
    record = record_for(person)
    import_pecgm(pecgm_file(tmp_path, [ceased(record, date(2025, 2, 3))], FEB))
    run = import_pecgm(pecgm_file(tmp_path, [record], JAN))
    assert run.status == ImportStatus.IMPORTED and run.matched_nir == 1
    followup = FollowUp.objects.get(beneficiary=person)
    assert (followup.status, followup.reference_date) == (FollowUpStatus.CEASED, FEB)
    assert JobSeekerSnapshot.objects.filter(beneficiary=person).count() == 2
    assert not StatusEvent.objects.filter(run=run).exists()


def test_newer_flux_overrides_the_stock_and_its_silence_means_nothing(tmp_path):
    mover, quiet = BeneficiaryFactory(), BeneficiaryFactory()
    mover_record = record_for(mover)
    import_pecgm(pecgm_file(tmp_path, [mover_record, record_for(quiet)], JAN))
    import_pecgm(pecgm_file(tmp_path, [ceased(mover_record, date(2025, 2, 10))], date(2025, 2, 14), "H"))
    assert FollowUp.objects.get(beneficiary=mover).status == FollowUpStatus.CEASED
    quiet_followup = FollowUp.objects.get(beneficiary=quiet)
    assert quiet_followup.status == FollowUpStatus.REGISTERED
    assert not quiet_followup.absent_from_last_stock


def test_absent_from_the_newest_stock_is_flagged_and_cleared_on_return(tmp_path):
    stays, leaves = BeneficiaryFactory(), BeneficiaryFactory()
    stays_record, leaves_record = record_for(stays), record_for(leaves)
    import_pecgm(pecgm_file(tmp_path, [stays_record, leaves_record], JAN))
    import_pecgm(pecgm_file(tmp_path, [stays_record], FEB))
    leaves_followup = FollowUp.objects.get(beneficiary=leaves)
    assert leaves_followup.absent_from_last_stock
    assert leaves_followup.status == FollowUpStatus.REGISTERED and leaves_followup.reference_date == JAN
    assert not FollowUp.objects.get(beneficiary=stays).absent_from_last_stock
    assert StatusEvent.objects.get(beneficiary=leaves).kind == EventKind.LEFT_STOCK

    import_pecgm(pecgm_file(tmp_path, [stays_record, leaves_record], MAR))
    assert not FollowUp.objects.get(beneficiary=leaves).absent_from_last_stock
    assert StatusEvent.objects.filter(beneficiary=leaves, kind=EventKind.RETURNED, date=MAR).exists()


def test_transitions_between_stocks_are_events(tmp_path):
    ceasing, striking, moving, new = (BeneficiaryFactory() for _ in range(4))
    january = [record_for(ceasing), record_for(striking), record_for(moving)]
    import_pecgm(pecgm_file(tmp_path, january, JAN))
    assert not StatusEvent.objects.exists()  # the first file sets the scene

    february = [
        ceased(january[0], date(2025, 2, 5), motive="43"),
        struck_off(january[1], date(2025, 2, 6), motive="12"),
        {**january[2], "main_structure_name": "FRANCE TRAVAIL MOISSAC", "category": "4"},
        record_for(new, registration_date=date(2025, 2, 12)),
    ]
    run = import_pecgm(pecgm_file(tmp_path, february, FEB))
    events = {(e.beneficiary_id, e.kind): e for e in StatusEvent.objects.filter(run=run)}
    assert set(events) == {
        (ceasing.pk, EventKind.CESSATION),
        (striking.pk, EventKind.RADIATION),
        (moving.pk, EventKind.STRUCTURE_CHANGE),
        (moving.pk, EventKind.CATEGORY_CHANGE),
        (new.pk, EventKind.NEW_REGISTRATION),
    }
    cessation = events[(ceasing.pk, EventKind.CESSATION)]
    assert (cessation.date, cessation.motive) == (date(2025, 2, 5), "43")
    assert events[(striking.pk, EventKind.RADIATION)].motive == "12"
    change = events[(moving.pk, EventKind.STRUCTURE_CHANGE)]
    assert (change.previous_value, change.new_value) == ("FRANCE TRAVAIL MONTAUBAN", "FRANCE TRAVAIL MOISSAC")
    assert events[(new.pk, EventKind.NEW_REGISTRATION)].date == date(2025, 2, 12)


def test_unknown_codes_are_kept_and_flagged(tmp_path):
    person = BeneficiaryFactory()
    run = import_pecgm(pecgm_file(tmp_path, [record_for(person, support_mode="ZZZ")], JAN))
    assert run.status == ImportStatus.IMPORTED and run.warnings == 1
    followup = FollowUp.objects.get(beneficiary=person)
    assert followup.support_mode == "ZZZ" and followup.has_unknown_codes
    warning = ImportReject.objects.get(run=run)
    assert (warning.level, warning.record_number, warning.value) == (RejectLevel.WARNING, 1, "ZZZ")


def test_duplicate_file_is_not_parsed(tmp_path, monkeypatch):
    path = pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN)
    first = import_pecgm(path)
    before = data_counts()

    def must_not_parse(*args, **kwargs):
        raise AssertionError("a duplicate must not be parsed")

    monkeypatch.setattr(pecgm_import, "read_pecgm", must_not_parse)
    again = import_pecgm(path, started_by="task")
    assert again.status == ImportStatus.DUPLICATE and again.pk != first.pk
    assert again.sha256 == first.sha256 and again.reference_date == JAN
    assert again.summary()["status"] == "duplicate" and again.summary()["imported"] == 0
    assert data_counts() == before


def test_records_rejected_below_the_ratio_are_reported(tmp_path, settings):
    settings.PECGM_MAX_REJECT_RATIO = 0.5
    good = BeneficiaryFactory()
    records = [record_for(good), record_for(None, birth_date="20251340")]
    run = import_pecgm(pecgm_file(tmp_path, records, JAN))
    assert run.status == ImportStatus.IMPORTED_WITH_REJECTS
    assert (run.records, run.imported, run.rejected_records) == (2, 1, 1)
    reject = ImportReject.objects.get(run=run, level=RejectLevel.ERROR)
    assert (reject.record_number, reject.field, reject.value) == (2, "DATE_NAISSANCE", "20251340")
    assert run.summary()["errors"] == [{"record": 2, "field": "DATE_NAISSANCE", "message": reject.message}]
    assert Beneficiary.objects.count() == 1  # the bad record created nobody


def test_too_many_rejects_refuse_the_whole_file(tmp_path):
    BeneficiaryFactory()
    before = data_counts()
    records = [record_for(BeneficiaryFactory.build()) for _ in range(18)] + [
        record_for(None, first_name=""),
        record_for(None, birth_date="2025"),
    ]
    run = import_pecgm(pecgm_file(tmp_path, records, JAN))
    assert run.status == ImportStatus.REJECTED
    assert (run.records, run.rejected_records, run.imported, run.created) == (20, 2, 0, 0)
    assert "seuil" in run.error_message
    assert data_counts() == before
    stored = ImportRun.objects.get(pk=run.pk)
    assert stored.status == ImportStatus.REJECTED
    fields = [error["field"] for error in stored.summary()["errors"]]
    assert fields == ["", "PRENOM", "DATE_NAISSANCE"]


def test_truncated_file_changes_nothing(tmp_path):
    people = [BeneficiaryFactory() for _ in range(3)]
    path = pecgm_file(tmp_path, [record_for(person) for person in people], JAN)
    text = path.read_bytes()
    path.write_bytes(text[: text.index(b"<FIN>")])
    before = data_counts()
    run = import_pecgm(path)
    assert run.status == ImportStatus.REJECTED and "tronqué" in run.error_message
    assert data_counts() == before
    assert ImportReject.objects.filter(run=run).exists()


def test_other_departement_is_refused(tmp_path):
    path = pecgm_file(tmp_path, [record_for(BeneficiaryFactory())], JAN, departement="31")
    before = data_counts()
    run = import_pecgm(path)
    assert run.status == ImportStatus.REJECTED and "31" in run.error_message
    assert data_counts() == before


def test_a_crash_in_the_middle_leaves_nothing_half_written(tmp_path, monkeypatch):
    # Small batches: on SQLite rows are already written when the crash comes;
    # on PostgreSQL the snapshots' COPY is open and must be abandoned.
    monkeypatch.setattr(pecgm_import, "BATCH_SIZE", 2)
    people = [BeneficiaryFactory() for _ in range(6)]
    before = data_counts()
    real_add = pecgm_import._Batches.add

    def add_then_crash(self, record):
        if record.number == 5:
            raise OSError(errno.ENOSPC, "No space left on device", "/srv/liaison/tmp")
        real_add(self, record)

    monkeypatch.setattr(pecgm_import._Batches, "add", add_then_crash)
    with pytest.raises(OSError):
        import_pecgm(pecgm_file(tmp_path, [record_for(person) for person in people], JAN))
    assert data_counts() == before
    run = ImportRun.objects.get()
    # Not the file's fault: interrupted (taken again next time), with its cause in French.
    assert run.status == ImportStatus.INTERRUPTED
    assert "Disque plein" in run.error_message and "/srv/liaison/tmp" in run.error_message
    assert "rien n'a été enregistré" in run.error_message.lower()

    # The same file may then be imported for real.
    monkeypatch.setattr(pecgm_import._Batches, "add", real_add)
    assert import_pecgm(pecgm_file(tmp_path, [record_for(p) for p in people], JAN)).matched_nir == 6


def test_dry_run_reports_and_changes_nothing(tmp_path):
    person = BeneficiaryFactory()
    before = data_counts()
    run = import_pecgm(pecgm_file(tmp_path, [record_for(person), record_for(None)], JAN), dry_run=True)
    assert (run.status, run.matched_nir, run.created) == (ImportStatus.IMPORTED, 1, 1)
    assert run.pk is None
    assert data_counts() == before and not ImportRun.objects.exists()


def test_progress_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(pecgm_import, "PROGRESS_EVERY", 1)
    seen = []
    import_pecgm(
        pecgm_file(tmp_path, [record_for(None) for _ in range(3)], JAN),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (1, 3) and seen[-1] == (3, 3)


def _valid_bytes(tmp_path, records) -> bytes:
    return pecgm_file(tmp_path, records, JAN).read_bytes()


@pytest.mark.parametrize(
    "break_file",
    [
        pytest.param(lambda content: b"ceci n'est pas du XML", id="not-xml"),
        pytest.param(
            lambda content: content.replace(
                b"<PECGM>", b'<!DOCTYPE PECGM [<!ENTITY x SYSTEM "file:///etc/passwd">]><PECGM>&x;', 1
            ),
            id="external-entity",
        ),
        pytest.param(
            lambda content: content.replace(
                b"<PECGM>",
                b'<!DOCTYPE PECGM [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><PECGM>',
                1,
            ),
            id="entity-expansion",
        ),
        pytest.param(
            lambda content: content.replace(
                b"<NB_ENREGISTREMENTS>2</NB_ENREGISTREMENTS>", b"<NB_ENREGISTREMENTS>3</NB_ENREGISTREMENTS>"
            ),
            id="wrong-count",
        ),
        pytest.param(
            lambda content: content.replace(b"<NOM_NAISSANCE>", "<NOM_NAISSANCE>ÉLOÏSE".encode(), 1),
            id="utf8-declared-latin1",
        ),
    ],
)
def test_hostile_or_broken_files_change_nothing(tmp_path, break_file):
    people = [BeneficiaryFactory(), BeneficiaryFactory()]
    content = _valid_bytes(tmp_path, [record_for(person) for person in people])
    broken = break_file(content)
    assert broken != content
    path = tmp_path / "PECGM_082_20250228_M.xml"
    path.write_bytes(broken)
    before = data_counts()
    run = import_pecgm(path)
    assert run.status == ImportStatus.REJECTED and run.error_message
    assert data_counts() == before
    assert ImportRun.objects.get(pk=run.pk).status == ImportStatus.REJECTED


def test_an_admins_decision_is_remembered_next_month(tmp_path, admin_user):
    from exchanges import review

    person = BeneficiaryFactory()
    record = record_for(person, birth_date=date(1970, 1, 1))
    import_pecgm(pecgm_file(tmp_path, [record], JAN))
    case = ReviewCase.objects.get()
    review.link(case, person, user=admin_user, note="erreur de saisie France Travail")
    assert JobSeekerSnapshot.objects.get().match_rule == MatchRule.CONFIRMED

    run = import_pecgm(pecgm_file(tmp_path, [record], FEB))
    assert (run.matched_confirmed, run.matched, run.review) == (1, 1, 0)
    assert ReviewCase.objects.count() == 1
    assert FollowUp.objects.get(beneficiary=person).reference_date == FEB


def test_realistic_stock_then_next_month(tmp_path):
    """Synthetic stocks (Faker fr_FR): the counts add up and every record is accounted for."""
    from beneficiaries.demo import fake_people
    from exchanges.synthetic import fake_pecgm_records, next_month

    people = fake_people(120, seed=7)
    for values in people[:100]:
        Beneficiary(**values).save()
    january = list(fake_pecgm_records(people[:90], 110, seed=8, reference_date=JAN))
    first = import_pecgm(pecgm_file(tmp_path, january, JAN))
    assert first.status in (ImportStatus.IMPORTED, ImportStatus.IMPORTED_WITH_REJECTS)
    assert first.imported == first.records - first.rejected_records == JobSeekerSnapshot.objects.count()
    assert first.matched == 90 and first.created == 20 and first.matched_nir >= 80
    assert first.imported == first.matched + first.created + (first.review - first.created)

    february = list(next_month(january, seed=9, reference_date=FEB))
    second = import_pecgm(pecgm_file(tmp_path, february, FEB))
    assert second.matched + second.created == second.imported
    stored = set(JobSeekerSnapshot.objects.filter(run=second).values_list("beneficiary_id", flat=True))
    # Everyone in February's stock: stored again when changed, confirmed otherwise.
    present = set(FollowUp.objects.filter(confirmed_run=second).values_list("beneficiary_id", flat=True))
    assert stored < present and len(present) == second.imported - (second.review - second.created)
    absent = set(
        FollowUp.objects.filter(absent_from_last_stock=True).values_list("beneficiary_id", flat=True)
    )
    assert absent and not (absent & present)
    assert (
        set(
            StatusEvent.objects.filter(run=second, kind=EventKind.LEFT_STOCK).values_list(
                "beneficiary_id", flat=True
            )
        )
        == absent
    )
    assert FollowUp.objects.filter(reference_date=FEB).count() == len(present)


def test_an_unknown_element_with_a_very_long_tag_is_a_kept_warning(tmp_path):
    person = BeneficiaryFactory()
    content = pecgm_file(tmp_path, [record_for(person)], JAN).read_bytes()
    tag = b"X" * 300
    path = tmp_path / "PECGM_082_20250131_M.xml"
    path.write_bytes(content.replace(b"</DETAIL>", b"<" + tag + b">1</" + tag + b"></DETAIL>", 1))
    run = import_pecgm(path)
    assert run.status == ImportStatus.IMPORTED and run.matched_nir == 1
    warning = ImportReject.objects.get(run=run)
    assert (
        warning.level == RejectLevel.WARNING and warning.field.startswith("XXX") and len(warning.field) == 100
    )


@pytest.mark.parametrize("batch_size", [1, 1000])
def test_a_person_twice_in_a_flux_keeps_the_later_record(tmp_path, monkeypatch, batch_size):
    # Within one batch and across batches (the earlier follow-up already written).
    monkeypatch.setattr(pecgm_import, "BATCH_SIZE", batch_size)
    person, other = BeneficiaryFactory(), BeneficiaryFactory()
    record = record_for(person)
    flux = [record, record_for(other), ceased(record, date(2025, 1, 20))]
    run = import_pecgm(pecgm_file(tmp_path, flux, JAN, "H"))
    assert run.matched_nir == 3
    followup = FollowUp.objects.get(beneficiary=person)
    assert followup.status == FollowUpStatus.CEASED and followup.source_snapshot.record_number == 3
    assert FollowUp.objects.count() == 2 and JobSeekerSnapshot.objects.count() == 3


def test_references_hold_after_every_kind_of_import(tmp_path, monkeypatch):
    """Snapshots and follow-ups carry no database constraint on their references: the import keeps them."""
    monkeypatch.setattr(pecgm_import, "BATCH_SIZE", 2)
    known, doubtful = BeneficiaryFactory(), BeneficiaryFactory()
    unknown = record_for(None, nir="2880582121456")
    stock = [record_for(known), record_for(doubtful, birth_date=date(1970, 1, 1)), unknown]
    import_pecgm(pecgm_file(tmp_path, stock, JAN))
    import_pecgm(pecgm_file(tmp_path, [unknown, ceased(unknown, date(2025, 2, 3))], date(2025, 2, 5), "H"))
    # A third of January's stock: forced past the small-stock guard, to mark the others absent.
    import_pecgm(pecgm_file(tmp_path, [record_for(known)], FEB), force_small_stock=True)

    people = set(Beneficiary.objects.values_list("id", flat=True))
    runs = set(ImportRun.objects.values_list("id", flat=True))
    snapshots = set(JobSeekerSnapshot.objects.values_list("id", flat=True))
    assert len(snapshots) == 6
    for beneficiary_id, run_id in JobSeekerSnapshot.objects.values_list("beneficiary_id", "run_id"):
        assert beneficiary_id is None or beneficiary_id in people
        assert run_id in runs
    assert JobSeekerSnapshot.objects.filter(beneficiary=None).count() == 1  # the doubtful record
    for source in FollowUp.objects.values_list("source_snapshot_id", flat=True):
        assert source in snapshots
    assert set(ReviewCase.objects.values_list("snapshot_id", flat=True)) <= snapshots


def test_values_needing_escapes_are_stored_as_received(tmp_path):
    # Backslashes and tabs mean something to PostgreSQL's COPY: they must arrive unchanged.
    person = BeneficiaryFactory()
    label = "Agent\\d'entretien \\N\tpolyvalent"
    import_pecgm(pecgm_file(tmp_path, [record_for(person, rome_code="K2204", rome_label=label)], JAN))
    assert JobSeekerSnapshot.objects.get().rome_label == label
    assert FollowUp.objects.get().rome_label == label


# --- A monthly stock far smaller than the previous one ---------------------------------------


def _january_stock(tmp_path, size: int = 4) -> list[dict]:
    january = [record_for(BeneficiaryFactory()) for _ in range(size)]
    assert import_pecgm(pecgm_file(tmp_path, january, JAN)).status == ImportStatus.IMPORTED
    return january


@pytest.mark.parametrize("kept", [0, 1])
def test_a_collapsed_stock_is_refused_and_changes_nothing(tmp_path, kept):
    """An empty or cut stock would make everyone missing from it 'absent', with a 'left' event each."""
    january = _january_stock(tmp_path)
    before = data_counts()
    run = import_pecgm(pecgm_file(tmp_path, january[:kept], FEB))
    assert run.status == ImportStatus.REJECTED and run.records == kept
    assert data_counts() == before
    assert not FollowUp.objects.filter(absent_from_last_stock=True).exists()
    assert not StatusEvent.objects.exists()
    stored = ImportRun.objects.get(pk=run.pk)
    assert stored.status == ImportStatus.REJECTED and stored.reference_date == FEB
    assert "PECGM_082_20250228_M.xml" in stored.error_message
    assert f"{kept} enregistrement" in stored.error_message and "4" in stored.error_message
    assert "--force-small-stock" in stored.error_message
    (error,) = stored.summary()["errors"]
    assert (error["record"], error["field"]) == (None, "NB_ENREGISTREMENTS")


def test_a_small_stock_is_imported_when_the_operator_forces_it(tmp_path):
    january = _january_stock(tmp_path)
    run = import_pecgm(pecgm_file(tmp_path, january[:1], FEB), force_small_stock=True)
    assert run.status == ImportStatus.IMPORTED and run.imported == 1
    assert FollowUp.objects.filter(absent_from_last_stock=True).count() == 3
    assert StatusEvent.objects.filter(run=run, kind=EventKind.LEFT_STOCK).count() == 3
    # The override stays visible on the run.
    note = ImportReject.objects.get(run=run, level=RejectLevel.WARNING)
    assert note.field == "NB_ENREGISTREMENTS" and "--force-small-stock" in note.message
    assert run.warnings == 1


def test_the_stock_ratio_is_a_setting_and_the_limit_itself_is_accepted(tmp_path, settings):
    january = _january_stock(tmp_path)
    settings.PECGM_MIN_STOCK_RATIO = 0.5
    assert import_pecgm(pecgm_file(tmp_path, january[:2], FEB)).status == ImportStatus.IMPORTED
    settings.PECGM_MIN_STOCK_RATIO = 0.0  # the guard switched off
    assert import_pecgm(pecgm_file(tmp_path, [], MAR)).status == ImportStatus.IMPORTED


def test_the_first_stock_and_fluxes_are_not_compared(tmp_path):
    # The first stock has nothing to be compared with, however small.
    assert import_pecgm(pecgm_file(tmp_path, [], date(2024, 12, 31))).status == ImportStatus.IMPORTED
    january = [record_for(BeneficiaryFactory()) for _ in range(4)]
    assert import_pecgm(pecgm_file(tmp_path, january, JAN)).status == ImportStatus.IMPORTED
    # A flux holds only what changed: its size means nothing.
    for periodicity in ("H", "Q"):
        run = import_pecgm(pecgm_file(tmp_path, january[:1], FEB, periodicity))
        assert run.status == ImportStatus.IMPORTED


def test_a_refused_stock_is_compared_with_the_last_accepted_one(tmp_path):
    january = _january_stock(tmp_path)
    assert import_pecgm(pecgm_file(tmp_path, january[:1], FEB)).status == ImportStatus.REJECTED
    # The refused stock is not the reference: the real February stock is compared with January.
    assert import_pecgm(pecgm_file(tmp_path, january[:3], FEB)).status == ImportStatus.IMPORTED


def test_a_late_older_stock_is_compared_with_the_month_before_it(tmp_path):
    # December (2 people), then January (6): a December re-sent late, a correction with its
    # 2 people, is as big as the month it replaces, though not half of January.
    dec = date(2024, 12, 31)
    december = [record_for(BeneficiaryFactory()) for _ in range(2)]
    assert import_pecgm(pecgm_file(tmp_path, december, dec)).status == ImportStatus.IMPORTED
    january = december + [record_for(BeneficiaryFactory()) for _ in range(4)]
    assert import_pecgm(pecgm_file(tmp_path, january, JAN)).status == ImportStatus.IMPORTED
    corrected = [dict(record, ft_counsellor="CONSEILLER CORRIGE") for record in december[:2]]
    late = import_pecgm(pecgm_file(tmp_path, corrected[:1] + december[1:], dec))
    assert late.status == ImportStatus.IMPORTED


def test_a_small_stock_in_a_dry_run_is_reported_as_refused(tmp_path):
    _january_stock(tmp_path)
    run = import_pecgm(pecgm_file(tmp_path, [], FEB), dry_run=True)
    assert run.status == ImportStatus.REJECTED and "--force-small-stock" in run.error_message
    assert ImportRun.objects.count() == 1


def test_change_based_history_through_the_imports_and_the_parcours(tmp_path):
    """Six monthly stocks: only what changed is stored; the parcours still accounts for each month."""
    from pages.timeline import build_timeline

    person, other = BeneficiaryFactory(), BeneficiaryFactory()
    record, others = record_for(person), record_for(other)
    days = [date(2025, month, 28) for month in range(1, 7)]
    # January; February and March repeat it; April changes the work axis; May leaves the
    # person out of the stock; June brings them back, unchanged.
    stocks = [[record, others], [record, others], [record, others], [{**record, "work_axis": "03"}, others]]
    stocks += [[others], [{**record, "work_axis": "03"}, others]]
    runs = [import_pecgm(pecgm_file(tmp_path, stock, day)) for stock, day in zip(stocks, days, strict=True)]
    stored = list(
        JobSeekerSnapshot.objects.filter(beneficiary=person)
        .order_by("reference_date")
        .values_list("reference_date", flat=True)
    )
    # January, April's change, June's return (a return is always stored).
    assert stored == [days[0], days[3], days[5]]
    assert JobSeekerSnapshot.objects.filter(beneficiary=other).count() == 1  # never changed
    followup = FollowUp.objects.get(beneficiary=other)
    assert (followup.reference_date, followup.confirmed_run_id) == (days[5], runs[5].pk)
    assert followup.source_snapshot.run_id == runs[0].pk
    # The re-delivery of a confirming file changes nothing.
    again = import_pecgm(pecgm_file(tmp_path, stocks[5], days[5]))
    assert again.status == ImportStatus.DUPLICATE and JobSeekerSnapshot.objects.count() == 4

    timeline, _older = build_timeline(person)
    unchanged = [entry for entry in timeline if entry.kind == "unchanged"]
    # February and March as January; June (back after May, away) as April.
    assert [(entry.day, entry.source) for entry in unchanged] == [
        (days[5], f"inchangée depuis le fichier {runs[3].file_name}, enregistrement n° 1"),
        (days[2], f"inchangée depuis le fichier {runs[0].file_name}, enregistrement n° 1"),
    ]
    assert unchanged[0].title.startswith("Situation France Travail inchangée dans 1 stock mensuel, du 28/06")
    assert unchanged[1].title.startswith(
        "Situation France Travail inchangée dans 2 stocks mensuels, du 28/02"
    )
    [left] = [entry for entry in timeline if entry.kind == "event" and entry.day == days[4]]
    timeline, _older = build_timeline(other)
    [unchanged] = [entry for entry in timeline if entry.kind == "unchanged"]
    assert unchanged.title == (
        "Situation France Travail inchangée dans 5 stocks mensuels, du 28/02/2025 au 28/06/2025"
    )


def test_a_merge_keeps_the_newest_confirmation_of_the_created_person(tmp_path):
    """Someone known only from France Travail in three stocks (stored once, confirmed twice), then
    linked by an admin to the beneficiary they are: the follow-up stays that of the third stock."""
    from exchanges import review

    stranger = record_for(None, nir="1991282121123")
    days = [date(2025, month, 28) for month in (1, 2, 3)]
    runs = [import_pecgm(pecgm_file(tmp_path, [stranger], day)) for day in days]
    case = ReviewCase.objects.get(reason=ReviewReason.CREATED_FROM_FT)
    assert JobSeekerSnapshot.objects.count() == 1
    local = BeneficiaryFactory(birth_name="Local")
    review.link(case, local, user=None)
    followup = FollowUp.objects.get(beneficiary=local)
    assert (followup.reference_date, followup.absent_from_last_stock, followup.confirmed_run_id) == (
        days[2],
        False,
        runs[2].pk,
    )
    assert followup.source_snapshot.beneficiary_id == local.pk


def test_a_month_delivered_late_is_kept_whole_and_sets_only_its_own_month(tmp_path):
    from pages.timeline import build_timeline

    person = BeneficiaryFactory()
    record = record_for(person, work_axis="05")
    jan, feb, mar, apr = (date(2025, month, 28) for month in (1, 2, 3, 4))
    first = import_pecgm(pecgm_file(tmp_path, [record], jan))
    for day in (feb, apr):
        import_pecgm(pecgm_file(tmp_path, [record], day))
    late = import_pecgm(pecgm_file(tmp_path, [{**record, "work_axis": "03"}], mar))
    assert late.status == ImportStatus.IMPORTED
    followup = FollowUp.objects.get(beneficiary=person)
    # April's situation stays: an older file never overwrites a newer one.
    assert (followup.reference_date, followup.work_axis, followup.source_snapshot.run_id) == (
        apr,
        "05",
        first.pk,
    )
    assert list(
        JobSeekerSnapshot.objects.order_by("reference_date").values_list("reference_date", flat=True)
    ) == [
        jan,
        mar,
    ]
    timeline, _older = build_timeline(person)
    march = [entry for entry in timeline if entry.kind == "snapshot" and entry.day == mar]
    assert march and march[0].source.startswith(f"fichier {late.file_name}")
    [unchanged] = [entry for entry in timeline if entry.kind == "unchanged"]
    # February and April repeat January; March is shown with its own record.
    assert unchanged.title == (
        "Situation France Travail inchangée dans 2 stocks mensuels, du 28/02/2025 au 28/04/2025"
    )
