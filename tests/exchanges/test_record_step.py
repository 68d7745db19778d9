"""The record step alone: one matched record in, plain rows out; no file, no database.

No test here is marked `django_db`: pytest-django refuses any query, so the
step is proved to need none.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from exchanges.followup import Situation, clean_values, values_digest
from exchanges.matching import MatchResult, ft_key
from exchanges.models import EventKind, FollowUpStatus, MatchRule, RejectLevel, ReviewReason, ReviewStatus
from exchanges.pecgm_reader import RecordIssue
from exchanges.pecgm_step import StepContext, StepIds, identity, step_record, warning_rows
from tests.exchanges.import_files import ceased, record_for

JAN, FEB = date(2025, 1, 31), date(2025, 2, 28)
NOW = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def context(**changes) -> StepContext:
    values = {
        "run_id": 7,
        "day": FEB,
        "periodicity": "M",
        "stock": True,
        "absent": False,
        "has_history": True,
        "is_late": False,
        "now": NOW,
    }
    values.update(changes)
    return StepContext(**values)


def ids() -> StepIds:
    snapshots, reviews, people = itertools.count(100), itertools.count(500), itertools.count(900)
    return StepIds(snapshot=snapshots.__next__, review=reviews.__next__, beneficiary=people.__next__)


def values_of(record: dict) -> dict:
    """A record as the reader hands it: every PECGM attribute, None when missing."""
    return {name: (value if value != "" else None) for name, value in clean_values(record).items()}


def step(record: dict, result: MatchResult, old: Situation | None = None, warned=False, **ctx):
    values = values_of(record)
    ft = ft_key(values["ft_institution_code"], values["ft_identifier"])
    return step_record(context(**ctx), ids(), 3, values, ft, result, old, warned)


def registered(day=JAN, *, ft=None, absent=False, structure="FRANCE TRAVAIL MONTAUBAN") -> Situation:
    return Situation(day, FollowUpStatus.REGISTERED, "1", structure, absent, ft)


def test_a_match_makes_a_snapshot_and_the_current_situation():
    rows = step(record_for(None), MatchResult(42, MatchRule.NIR), registered())
    assert rows.snapshot[:7] == (100, 42, 7, 3, FEB, "M", MatchRule.NIR)
    followup = rows.followup
    assert (followup.beneficiary_id, followup.status, followup.source_snapshot_id) == (42, "inscrit", 100)
    assert followup.values is rows.snapshot.values  # one set of values, serialised once by the sink
    assert rows.situation.reference_date == FEB and rows.situation.status == FollowUpStatus.REGISTERED
    assert (rows.review, rows.new_person, rows.events, rows.counters) == (None, None, [], ("matched_nir",))


def test_a_cessation_is_an_event_with_its_motive():
    record = ceased(record_for(None), date(2025, 2, 10), motive="46")
    rows = step(record, MatchResult(42, MatchRule.FT_IDENTIFIER), registered())
    assert rows.followup.status == FollowUpStatus.CEASED
    [event] = rows.events
    assert (event.kind, event.date, event.motive, event.beneficiary_id, event.run_id) == (
        EventKind.CESSATION,
        date(2025, 2, 10),
        "46",
        42,
        7,
    )
    assert rows.counters == ("matched_ft_identifier",)


def test_no_events_without_history_nor_for_a_late_stock():
    record = ceased(record_for(None), date(2025, 2, 10))
    assert step(record, MatchResult(42, MatchRule.NIR), registered(), has_history=False).events == []
    assert step(record, MatchResult(42, MatchRule.NIR), registered(), is_late=True).events == []


def test_back_in_the_stock_after_an_absence():
    rows = step(record_for(None), MatchResult(42, MatchRule.NIR), registered(absent=True))
    assert [event.kind for event in rows.events] == [EventKind.RETURNED]
    # A flux says nothing of the stock.
    rows = step(record_for(None), MatchResult(42, MatchRule.NIR), registered(absent=True), stock=False)
    assert rows.events == []


def test_an_older_record_leaves_a_newer_situation_and_keeps_its_identifier_findable():
    newer = registered(date(2025, 3, 15), ft=("76", "OLD"))
    rows = step(record_for(None, ft_identifier="NEW1234"), MatchResult(42, MatchRule.NIR), newer)
    assert rows.followup is None and rows.events == [] and rows.situation is newer
    assert rows.kept_ft == ("76", "NEW1234")
    assert rows.snapshot.beneficiary_id == 42  # the history keeps it


def test_a_replaced_identifier_stays_findable_for_the_run():
    rows = step(
        record_for(None, ft_identifier="NEW1234"),
        MatchResult(42, MatchRule.NIR),
        registered(ft=("76", "OLD")),
    )
    assert rows.kept_ft == ("76", "OLD") and rows.situation.ft == ("76", "NEW1234")
    same = step(
        record_for(None, ft_identifier="OLD"), MatchResult(42, MatchRule.NIR), registered(ft=("76", "OLD"))
    )
    assert same.kept_ft is None


def test_a_doubtful_record_waits_for_review_with_its_candidates():
    record = record_for(None, birth_date=date(1980, 5, 17))
    result = MatchResult(rule=MatchRule.NIR, review_reason=ReviewReason.NIR_CONFLICT, candidates=[4, 5])
    rows = step(record, result)
    assert rows.snapshot.beneficiary_id is None and rows.snapshot.match_rule == ""
    assert rows.followup is None and rows.situation is None and rows.beneficiary_id is None
    review = rows.review
    assert (review.id, review.snapshot_id, review.reason, review.status) == (
        500,
        100,
        ReviewReason.NIR_CONFLICT,
        ReviewStatus.OPEN,
    )
    assert review.values["birth_date"] == "1980-05-17" and rows.candidates == [4, 5]
    assert rows.counters == ("review",)


def test_someone_unknown_is_created_and_reviewed():
    record = record_for(None, nir="2880582121456", usage_name="")
    rows = step(record, MatchResult())
    person = rows.new_person
    assert person.id == 900 and person.identity["nir"] == "2880582121456"
    assert person.identity["usage_name"] == "" and person.identity["birth_date"] == record["birth_date"]
    assert rows.review.reason == ReviewReason.CREATED_FROM_FT and rows.review.beneficiary_id == 900
    assert rows.snapshot.beneficiary_id == rows.followup.beneficiary_id == rows.beneficiary_id == 900
    # Seen for the first time: a new registration.
    assert [event.kind for event in rows.events] == [EventKind.NEW_REGISTRATION]
    assert rows.counters == ("created", "review")


def test_unknown_codes_are_flagged_only_on_a_warned_record():
    record = record_for(None, category="Z")
    assert step(record, MatchResult(42, MatchRule.NIR), warned=True).followup.has_unknown_codes
    assert not step(record, MatchResult(42, MatchRule.NIR), warned=False).followup.has_unknown_codes


def test_absent_from_the_newest_stock_when_older_than_it():
    rows = step(record_for(None), MatchResult(42, MatchRule.NIR), absent=True, stock=False, periodicity="H")
    assert rows.followup.absent_from_last_stock and rows.situation.absent


def test_review_identity_and_warning_rows_are_plain_values():
    values = values_of(record_for(None, birth_date=date(1990, 1, 2), caf_number=""))
    kept = identity(values)
    assert kept["birth_date"] == "1990-01-02" and kept["caf_number"] == ""
    [row] = warning_rows(7, [RecordIssue(3, "X" * 150, None, "élément inconnu, ignoré")])
    assert (row.run_id, row.level, row.record_number, len(row.field), row.value) == (
        7,
        RejectLevel.WARNING,
        3,
        100,
        "",
    )


def test_a_change_of_site_does_not_replace_the_new_registration_of_the_same_file():
    """Motive 46: the ceased registration after the new one (same file) leaves the new one current."""
    new = registered(FEB, ft=("82", "2222222B"))
    old_registration = ceased(record_for(None, ft_identifier="1111111A"), date(2025, 2, 20), motive="46")
    rows = step(old_registration, MatchResult(42, MatchRule.FT_IDENTIFIER), new)
    assert rows.followup is None and rows.situation is new and rows.events == []
    assert rows.kept_ft == ("76", "1111111A") and rows.snapshot.beneficiary_id == 42
    # Another motive, or a situation of an earlier file: the cessation is the situation.
    other = ceased(record_for(None, ft_identifier="1111111A"), date(2025, 2, 20), motive="11")
    assert step(other, MatchResult(42, MatchRule.FT_IDENTIFIER), new).followup.status == FollowUpStatus.CEASED
    earlier = registered(JAN, ft=("82", "2222222B"))
    assert step(old_registration, MatchResult(42, MatchRule.NIR), earlier).followup is not None


# --- Change-based history: a monthly record that repeats the current values ----------------


def stored(record: dict, day=JAN, *, source=55, absent=False) -> Situation:
    """The situation of a person whose follow-up holds `record`'s values, set by snapshot `source`."""
    values = values_of(record)
    rows = step(record, MatchResult(42, MatchRule.NIR), day=day)
    digest = values_digest(values)
    assert rows.followup.values_digest == digest  # what the import writes on the follow-up
    return rows.situation._replace(reference_date=day, absent=absent, digest=digest, source=source)


def test_a_stock_that_repeats_the_values_confirms_them_without_a_snapshot():
    record = record_for(None)
    rows = step(record, MatchResult(42, MatchRule.NIR), stored(record))
    assert rows.snapshot is None and rows.events == [] and rows.review is None
    followup = rows.followup
    # Same values and source; February's file and record confirmed them.
    assert (followup.source_snapshot_id, followup.reference_date, followup.absent_from_last_stock) == (
        55,
        FEB,
        False,
    )
    assert (followup.confirmed_run_id, followup.confirmed_record_number) == (7, 3)
    assert rows.situation.reference_date == FEB and rows.situation.source == 55
    assert rows.counters == ("matched_nir",)


def test_any_changed_value_is_stored_again():
    record = record_for(None)
    # A value no event looks at (the counsellor's name): still a new snapshot.
    rows = step({**record, "ft_counsellor": "ROUX CLAIRE"}, MatchResult(42, MatchRule.NIR), stored(record))
    assert rows.snapshot is not None and rows.followup.source_snapshot_id == rows.snapshot.id == 100
    assert rows.situation.source == 100 and rows.situation.digest == rows.followup.values_digest
    assert (rows.followup.confirmed_run_id, rows.followup.confirmed_record_number) == (7, 3)


def test_what_is_always_stored_even_when_nothing_changed():
    record = record_for(None)
    old = stored(record)
    match = MatchResult(42, MatchRule.NIR)
    # A flux, a stock imported late or older than the newest one: each record is kept.
    assert step(record, match, old, periodicity="Q", stock=False).snapshot is not None
    assert step(record, match, old, day=date(2025, 1, 31), is_late=True).snapshot is not None
    assert step(record, match, old, absent=True).snapshot is not None
    # Back after an absence (the return is an event and a record of its own).
    assert step(record, match, stored(record, absent=True)).snapshot is not None
    # A follow-up whose record is gone (purged, or never kept: no source), or without a digest.
    assert step(record, match, old._replace(source=None)).snapshot is not None
    assert step(record, match, old._replace(digest="")).snapshot is not None
    # The same file again (two records of one person): the later one is stored.
    assert step(record, match, old._replace(reference_date=FEB)).snapshot is not None
    # Unknown codes on a warned record: kept for the anomalies sent back to France Travail.
    odd = {**record, "work_axis": "99"}
    assert step(odd, match, stored(odd), warned=True).snapshot is not None
    assert step(odd, match, stored(odd)).snapshot is None


def test_the_digest_is_the_same_for_a_record_as_read_and_as_stored():
    record = record_for(None, ppae_signature_date=date(2024, 4, 1))
    read = values_of(record)  # None for what is missing
    kept = clean_values(record)  # '' for a missing text, as the columns hold it
    assert None in read.values() and "" in kept.values()
    assert values_digest(read) == values_digest(kept)
    assert values_digest({**read, "rome_code": "G1603"}) != values_digest(read)
    # Values that would join into the same text apart still differ.
    first, second = dict(read), dict(read)
    first["birth_name"], first["usage_name"] = "AB", "C"
    second["birth_name"], second["usage_name"] = "A", "BC"
    assert values_digest(first) != values_digest(second)


# --- « PPAE signé »: a signature date the person's previous situation did not hold ---------

SIGNED, SIGNED_AGAIN = date(2025, 2, 12), date(2025, 2, 20)
MATCH = MatchResult(42, MatchRule.NIR)


def ppae_events(rows) -> list[tuple]:
    return [
        (event.kind, event.date, event.beneficiary_id, event.run_id)
        for event in rows.events
        if event.kind == EventKind.PPAE_SIGNED
    ]


def test_a_first_record_says_nothing_of_when_its_ppae_was_signed():
    record = record_for(None, ppae_signature_date=SIGNED)
    # Known without a situation yet, or unknown and created from the record: no PPAE event.
    assert [event.kind for event in step(record, MATCH).events] == [EventKind.NEW_REGISTRATION]
    assert [event.kind for event in step(record, MatchResult()).events] == [EventKind.NEW_REGISTRATION]
    # The first file ever imported sets the scene.
    assert step(record, MATCH, registered(), has_history=False).events == []
    # Known only from an unreadable record (a follow-up « reçu, illisible », without a date).
    unreadable = Situation(None, FollowUpStatus.UNKNOWN, "", "", False)
    assert [event.kind for event in step(record, MATCH, unreadable).events] == [EventKind.NEW_REGISTRATION]


def test_a_new_signature_date_is_a_ppae_signed_dated_by_the_signature():
    rows = step(record_for(None, ppae_signature_date=SIGNED), MATCH, registered())
    assert ppae_events(rows) == [(EventKind.PPAE_SIGNED, SIGNED, 42, 7)]
    assert rows.events[0].motive == rows.events[0].previous_value == rows.events[0].new_value == ""
    assert rows.situation.ppae == SIGNED  # what the next record of the same import is compared with


def test_the_same_signature_date_again_is_no_news():
    record = record_for(None, ppae_signature_date=SIGNED)
    old = stored(record)
    assert old.ppae == SIGNED
    # Another value changed (a new snapshot), the signature did not.
    rows = step({**record, "ft_counsellor": "ROUX CLAIRE"}, MATCH, old)
    assert rows.snapshot is not None and rows.events == []
    # Nothing changed: the stock confirms the values.
    assert step(record, MATCH, old).events == []


def test_a_changed_signature_date_is_a_new_ppae_and_a_removed_one_is_none():
    old = stored(record_for(None, ppae_signature_date=SIGNED))
    rows = step(record_for(None, ppae_signature_date=SIGNED_AGAIN), MATCH, old)
    assert ppae_events(rows) == [(EventKind.PPAE_SIGNED, SIGNED_AGAIN, 42, 7)]
    assert step(record_for(None), MATCH, old).events == []


def test_a_file_delivered_again_writes_it_once():
    record = record_for(None, ppae_signature_date=SIGNED)
    first = step(record, MATCH, registered())
    assert len(ppae_events(first)) == 1
    # The same file's record again: the situation it set is the one compared with.
    assert step(record, MATCH, first.situation, run_id=8).events == []


def test_an_older_file_writes_none():
    record = record_for(None, ppae_signature_date=SIGNED)
    # A situation newer than the file: the record enters the history only.
    rows = step(record, MATCH, registered(date(2025, 3, 15)))
    assert rows.followup is None and rows.events == []
    # A stock imported late (older than the newest stock).
    assert step(record, MATCH, registered(), is_late=True, absent=True).events == []


def test_the_daily_flux_writes_it_and_the_monthly_stock_does_not_again():
    record = record_for(None, ppae_signature_date=SIGNED)
    flux = step(record, MATCH, stored(record_for(None)), day=SIGNED, periodicity="Q", stock=False)
    assert ppae_events(flux) == [(EventKind.PPAE_SIGNED, SIGNED, 42, 7)]
    # The month's stock repeats the flux's record: it confirms it, no event.
    stock = step(record, MATCH, flux.situation, run_id=8)
    assert stock.snapshot is None and stock.events == []
    # The stock changes something else: stored again, still no second PPAE.
    changed = step({**record, "ft_counsellor": "ROUX CLAIRE"}, MATCH, flux.situation, run_id=8)
    assert changed.snapshot is not None and changed.events == []
