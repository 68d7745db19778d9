"""The record step: what one matched PECGM record produces, as plain rows.

The import (`exchanges.pecgm_import`) reads and matches records by batches;
for each accepted record it hands this step the record's values, the match
and the person's current situation, and gets back the rows to write: the
snapshot, the follow-up, the events, the review case, the person to create.
A sink (`exchanges.pecgm_sinks`) serialises them, by COPY or by the ORM.

Nothing here reads or writes the database, nor knows which one it is: the
rules of one record are tested with plain values (tests/exchanges/test_record_step.py).
Ids come from the caller (`StepIds`): the import takes them from sequences
or counters, a test from `itertools.count`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, NamedTuple

from exchanges.followup import (
    PECGM_ATTRS,
    Situation,
    derive_status,
    events_between,
    has_unknown_codes,
    values_digest,
)
from exchanges.matching import SITE_CHANGE_MOTIVE, MatchResult
from exchanges.models import ImportReject, MatchRule, RejectLevel, ReviewReason, ReviewStatus
from exchanges.pecgm_reader import RecordIssue
from exchanges.review import BENEFICIARY_FIELDS

# The identity kept on a review case, to show the admin what was received.
REVIEW_VALUES = (*BENEFICIARY_FIELDS, "ft_institution_code", "ft_identifier")
# The run's counter each rule adds to.
MATCH_COUNTERS = {
    MatchRule.NIR: "matched_nir",
    MatchRule.FT_IDENTIFIER: "matched_ft_identifier",
    # France Travail announced the new identifier (cessation motive 46): an identifier's link.
    MatchRule.SITE_CHANGE: "matched_ft_identifier",
    MatchRule.CAF_MSA: "matched_caf_msa",
    MatchRule.NAME: "matched_name",
    MatchRule.CONFIRMED: "matched_confirmed",
}
FIELD_NAME_LENGTH = ImportReject._meta.get_field("field").max_length


class StepContext(NamedTuple):
    """What every record of one file shares."""

    run_id: int
    day: date  # the file's reference date
    periodicity: str
    stock: bool  # a monthly stock (not a flux)
    absent: bool  # older than the newest stock: its people are absent from that stock
    has_history: bool  # an earlier file was imported: events have something to compare with
    is_late: bool  # an older stock imported late: it enters the history only
    now: datetime


class StepIds(NamedTuple):
    """Where new rows' primary keys come from (known before the rows are written)."""

    snapshot: Callable[[], int]
    review: Callable[[], int]
    beneficiary: Callable[[], int]


class SnapshotRow(NamedTuple):
    id: int
    beneficiary_id: int | None
    run_id: int
    record_number: int
    reference_date: date
    periodicity: str
    match_rule: str
    values: Mapping[str, Any]  # the record's PECGM values, as read


class FollowUpRow(NamedTuple):
    beneficiary_id: int
    status: str
    reference_date: date
    periodicity: str
    source_snapshot_id: int
    absent_from_last_stock: bool
    has_unknown_codes: bool
    updated_at: datetime
    values_digest: str  # exchanges.followup.values_digest of `values`
    # The newest file that sent these values, and its record (`source_snapshot_id` set them).
    confirmed_run_id: int
    confirmed_record_number: int
    values: Mapping[str, Any]  # the same values as the snapshot's


class EventRow(NamedTuple):
    beneficiary_id: int
    run_id: int
    kind: str
    date: date
    motive: str
    motive_label: str
    previous_value: str
    new_value: str


class ReviewRow(NamedTuple):
    id: int
    run_id: int
    snapshot_id: int
    record_number: int
    reason: str
    beneficiary_id: int | None  # the person created from the record (created_from_ft)
    values: dict[str, Any]  # the identity as received
    status: str
    created_at: datetime
    resolution_note: str


class NewPerson(NamedTuple):
    """A beneficiary known only from France Travail, created from the record."""

    id: int
    identity: dict[str, Any]  # BENEFICIARY_FIELDS
    created_at: datetime


class WarningRow(NamedTuple):
    run_id: int
    level: str
    record_number: int | None
    field: str
    value: str
    message: str


class RecordRows(NamedTuple):
    """What one record produces, and what the import keeps in memory from it."""

    # None: a monthly stock's record that repeats the person's current values (`confirms`).
    snapshot: SnapshotRow | None
    followup: FollowUpRow | None  # None: in review, or a newer situation is known
    events: list[EventRow]
    review: ReviewRow | None
    candidates: list[int]  # the review case's possible people
    new_person: NewPerson | None
    beneficiary_id: int | None  # the person the record is linked to
    # The person's current situation once the record is taken (None: no person linked).
    situation: Situation | None
    # An identifier no follow-up will hold any more, to keep findable for the run.
    kept_ft: tuple[str, str] | None
    counters: tuple[str, ...]  # the run's counters to add one to


def step_record(
    ctx: StepContext,
    ids: StepIds,
    number: int,
    values: Mapping[str, Any],
    ft: tuple[str, str] | None,
    result: MatchResult,
    old: Situation | None,
    warned: bool,
) -> RecordRows:
    """The rows of one accepted record.

    `ft`: its France Travail identifier key (`matching.ft_key`); `result`: its
    match; `old`: the matched person's current situation (None for a person
    without one, or when nobody is linked); `warned`: the reader found
    something odd in it (an unknown code is always among such things).
    """
    if result.needs_review:
        snapshot_id = ids.snapshot()
        review = _review(ctx, ids.review(), snapshot_id, number, result.review_reason, None, values)
        snapshot = SnapshotRow(snapshot_id, None, ctx.run_id, number, ctx.day, ctx.periodicity, "", values)
        return RecordRows(
            snapshot, None, [], review, list(result.candidates), None, None, None, None, ("review",)
        )
    digest = values_digest(values)
    if result.is_match:
        beneficiary_id, rule, new_person, review = result.beneficiary_id, result.rule, None, None
        counters: tuple[str, ...] = (MATCH_COUNTERS[rule],)
        if confirms(ctx, old, digest, values, warned):
            followup, situation = _confirm(ctx, beneficiary_id, number, digest, old, values)
            return RecordRows(None, followup, [], None, [], None, beneficiary_id, situation, None, counters)
        snapshot_id = ids.snapshot()
    else:
        snapshot_id = ids.snapshot()
        beneficiary_id, rule = ids.beneficiary(), ""
        new_person = NewPerson(
            beneficiary_id,
            {name: values[name] or "" for name in BENEFICIARY_FIELDS},  # birth date required, never ""
            ctx.now,
        )
        review = _review(
            ctx, ids.review(), snapshot_id, number, ReviewReason.CREATED_FROM_FT, beneficiary_id, values
        )
        counters = ("created", "review")
        old = None  # nobody knew them
    snapshot = SnapshotRow(
        snapshot_id, beneficiary_id, ctx.run_id, number, ctx.day, ctx.periodicity, rule, values
    )
    followup, events, situation, kept_ft = _follow(
        ctx, beneficiary_id, snapshot_id, number, digest, values, ft, old, warned
    )
    return RecordRows(
        snapshot, followup, events, review, [], new_person, beneficiary_id, situation, kept_ft, counters
    )


def confirms(
    ctx: StepContext, old: Situation | None, digest: str, values: Mapping[str, Any], warned: bool
) -> bool:
    """Does this record only repeat the person's current values? Then it is not stored again.

    Only a monthly stock, imported in its turn (not late, not older than the newest
    stock), for a person whose follow-up holds exactly these values, set by a record
    still kept (`old.source`), from an earlier file, and who was not absent from the
    last stock (a return is worth its own record). A record with unknown codes is
    always kept: it is what the anomalies sent back to France Travail quote.
    """
    return (
        ctx.stock
        and not ctx.is_late
        and not ctx.absent
        and old is not None
        and old.digest == digest
        and old.source is not None
        and not old.absent
        and old.reference_date is not None
        and old.reference_date < ctx.day
        and not (warned and has_unknown_codes(values))
    )


def _confirm(
    ctx: StepContext,
    beneficiary_id: int,
    number: int,
    digest: str,
    old: Situation,
    values: Mapping[str, Any],
) -> tuple[FollowUpRow, Situation]:
    """The follow-up as it was, confirmed by this file: same values and source, newer date."""
    followup = FollowUpRow(
        beneficiary_id,
        old.status,
        ctx.day,
        ctx.periodicity,
        old.source,
        False,
        False,
        ctx.now,
        digest,
        ctx.run_id,
        number,
        values,
    )
    # (`old._replace(reference_date=ctx.day)`, without its cost: most records of a month take this way.)
    return followup, Situation(ctx.day, *old[1:])


def _follow(
    ctx: StepContext,
    beneficiary_id: int,
    snapshot_id: int,
    number: int,
    digest: str,
    values: Mapping[str, Any],
    ft: tuple[str, str] | None,
    old: Situation | None,
    warned: bool,
) -> tuple[FollowUpRow | None, list[EventRow], Situation, tuple[str, str] | None]:
    """Make this record the person's current situation, unless a newer one is known."""
    if (
        old is not None
        and old.reference_date
        and (old.reference_date > ctx.day or (old.reference_date == ctx.day and _left_for(values, ft, old)))
    ):
        # No follow-up will hold this identifier: the matcher keeps it (as it kept every one).
        return None, [], old, ft if ft and ft != old.ft else None
    # The follow-up replaced held another identifier: still found until the end of the run.
    kept_ft = old.ft if old is not None and old.ft and old.ft != ft else None
    status = derive_status(values)
    new = Situation(
        ctx.day,
        status,
        values["category"] or "",
        values["main_structure_name"] or "",
        ctx.absent,
        ft,
        digest,
        snapshot_id,
        values["ppae_signature_date"],
    )
    followup = FollowUpRow(
        beneficiary_id,
        status,
        ctx.day,
        ctx.periodicity,
        snapshot_id,
        ctx.absent,
        warned and has_unknown_codes(values),
        ctx.now,
        digest,
        ctx.run_id,
        number,
        values,
    )
    events = []
    if ctx.has_history and not ctx.is_late:
        for event in events_between(old, new, values, stock=ctx.stock):
            events.append(
                EventRow(
                    beneficiary_id,
                    ctx.run_id,
                    event["kind"],
                    event["date"],
                    event.get("motive") or "",
                    event.get("motive_label") or "",
                    event.get("previous_value") or "",
                    event.get("new_value") or "",
                )
            )
    return followup, events, new, kept_ft


def _left_for(values: Mapping[str, Any], ft: tuple[str, str] | None, old: Situation) -> bool:
    """A registration ceased for a change of site (motive 46), after the same file gave the
    person's new identifier: the new registration stays their situation."""
    return values.get("cessation_motive") == SITE_CHANGE_MOTIVE and bool(old.ft) and old.ft != ft


def _review(
    ctx: StepContext,
    review_id: int,
    snapshot_id: int,
    number: int,
    reason: str,
    created_id: int | None,
    values: Mapping[str, Any],
) -> ReviewRow:
    return ReviewRow(
        review_id,
        ctx.run_id,
        snapshot_id,
        number,
        reason,
        created_id,
        identity(values),
        ReviewStatus.OPEN,
        ctx.now,
        "",
    )


def identity(values: Mapping[str, Any]) -> dict[str, Any]:
    """The identity kept on a review case (JSON: dates as ISO text, missing values as '')."""
    return {name: _json_value(values[name]) for name in REVIEW_VALUES}


def _json_value(value):
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, date) else value


def field_name(field: str | None) -> str:
    # An unknown element's tag comes from the file: it must fit its column whatever its length.
    return (field or "")[:FIELD_NAME_LENGTH]


def warning_rows(run_id: int, issues: Iterable[RecordIssue]) -> list[WarningRow]:
    """A kept record's warnings (unknown codes, long labels, unknown elements), as rows."""
    return [
        WarningRow(
            run_id,
            RejectLevel.WARNING,
            issue.record,
            field_name(issue.field),
            str(issue.value or ""),
            issue.message,
        )
        for issue in issues
    ]


assert set(BENEFICIARY_FIELDS) <= set(PECGM_ATTRS)
