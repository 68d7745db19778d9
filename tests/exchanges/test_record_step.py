"""The record step alone: one matched record in, plain rows out; no file, no database.

No test here is marked `django_db`: pytest-django refuses any query, so the
step is proved to need none.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime

from exchanges.followup import Situation, clean_values
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
