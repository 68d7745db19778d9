"""A beneficiary's current job-seeker situation, and the events between two situations.

The current situation is the beneficiary's newest record: the newest monthly
stock, or a flux newer than it. The same rules serve the import (in bulk) and
the review queue (one beneficiary at a time, `refresh_followup`).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Mapping
from datetime import date
from typing import NamedTuple

from django.db import transaction
from django.db.models import Max

from contract.layouts import PECGM
from exchanges.models import (
    SUCCESSFUL_STATUSES,
    EventKind,
    FollowUp,
    FollowUpStatus,
    ImportRun,
    JobSeekerSnapshot,
    pecgm_attrs,
)

PECGM_ATTRS = pecgm_attrs()
CODED_FIELDS = [(attr, item.codes) for _path, item, attr in PECGM.detail.flat_fields() if item.codes]


def derive_status(values: Mapping) -> str:
    """Registered, ceased or struck off: whichever of the three dates is the latest.

    A registration dated after a cessation or a radiation is a new
    registration; on the same day, the end wins. A record without any of the
    three (nor a category) says the person is known but not registered.
    """
    registered = values.get("registration_date")
    ceased = values.get("cessation_date")
    struck_off = values.get("radiation_date")
    ends = [day for day in (ceased, struck_off) if day]
    if registered and (not ends or registered > max(ends)):
        return FollowUpStatus.REGISTERED
    if struck_off and (not ceased or struck_off >= ceased):
        return FollowUpStatus.STRUCK_OFF
    if ceased:
        return FollowUpStatus.CEASED
    if values.get("category"):
        return FollowUpStatus.REGISTERED
    return FollowUpStatus.NOT_REGISTERED


def has_unknown_codes(values: Mapping) -> bool:
    """France Travail adds codes without notice: they are kept, and flagged."""
    return any(values.get(attr) and values[attr] not in codes for attr, codes in CODED_FIELDS)


def clean_values(values: Mapping) -> dict:
    """The snapshot/follow-up columns of a parsed record: '' for a missing text, None for a missing date."""
    out = {}
    for attr in PECGM_ATTRS:
        value = values.get(attr)
        out[attr] = value if value is not None else (None if attr in DATE_ATTRS else "")
    return out


DATE_ATTRS = frozenset(attr for _path, item, attr in PECGM.detail.flat_fields() if item.is_date)
_ALL_VALUES = operator.itemgetter(*PECGM_ATTRS)
_DATE_POSITIONS = tuple(position for position, attr in enumerate(PECGM_ATTRS) if attr in DATE_ATTRS)
# Dates as ISO text (`str(day)`): a file holds a few thousand distinct ones at most.
_DATE_TEXTS: dict[date, str] = {}
_DATE_TEXTS_MAX = 100_000


def date_text(day: date) -> str:
    """`day.isoformat()`, formatted once per distinct date (an import formats millions)."""
    text = _DATE_TEXTS.get(day)
    if text is None:
        text = day.isoformat()
        if len(_DATE_TEXTS) < _DATE_TEXTS_MAX:
            _DATE_TEXTS[day] = text
    return text


# The last record's texts (`value_texts`): the import asks for them twice, digest and COPY.
# One tuple, replaced whole: a thread never sees one record's values with another's texts.
_last_texts: tuple[Mapping | None, list[str]] = (None, [])


def value_texts(values: Mapping) -> list[str]:
    """The record's PECGM values as texts, in PECGM_ATTRS order: `str(value)`, '' when missing.

    What `values_digest` joins, and what the COPY sink writes (exchanges.pecgm_sinks): the
    import makes them once per record (the last record's are kept). Texts are taken as they
    are and only the date columns formatted.
    The list returned is shared: not to be changed. (A value of another type than text or
    date, which neither the reader nor a column gives, is left as it is.)
    """
    global _last_texts
    last = _last_texts
    if last[0] is values:
        return last[1]
    row = [value or "" for value in _ALL_VALUES(values)]
    texts = _DATE_TEXTS
    for position in _DATE_POSITIONS:
        day = row[position]
        if day.__class__ is date:
            row[position] = texts.get(day) or date_text(day)
    _last_texts = (values, row)
    return row


def values_digest(values: Mapping) -> str:
    """A record's PECGM values in 32 characters: equal digests, equal values.

    The same for a record as read (None for what is missing) and for the columns it was
    stored in ('' for a missing text): a monthly stock that repeats a person's follow-up
    writes no snapshot (exchanges.pecgm_step). A character no XML value can hold
    separates the values, so two different records cannot join into the same text.
    """
    row = value_texts(values)
    try:
        text = "\x1f".join(row)
    except TypeError:  # a value neither text nor date
        text = "\x1f".join([str(value) if value else "" for value in row])
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


class Situation(NamedTuple):
    """The few values events are computed from: a follow-up as an import reads it, batch by batch.

    `ft`: the France Travail identifier key (`exchanges.matching.ft_key`) the
    follow-up holds; when an import replaces the follow-up with another, the
    matcher keeps the old one findable until the end of the run.
    """

    reference_date: date | None
    status: str
    category: str
    structure: str
    absent: bool
    ft: tuple[str, str] | None = None
    # The follow-up's `values_digest` and `source_snapshot` (the record that set its values):
    # a monthly record with the same digest confirms them instead of being stored again.
    digest: str = ""
    source: int | None = None
    # The PPAE signature date it holds: a record with another one signed a PPAE (`events_between`).
    ppae: date | None = None

    @classmethod
    def of(cls, values: Mapping, reference_date: date | None, absent: bool = False) -> Situation:
        return cls(
            reference_date,
            values.get("status") or derive_status(values),
            values.get("category") or "",
            values.get("main_structure_name") or "",
            absent,
            ppae=values.get("ppae_signature_date"),
        )


# The follow-up's columns a `Situation` is read from, in the order of its fields (the
# PECGM import's matcher reads them with each person: exchanges.matching.FOLLOWUP_FIELDS).
SITUATION_COLUMNS = ("reference_date", "status", "category", "main_structure_name", "absent_from_last_stock")
# Read with them, after the identifier: what says whether a record changes anything (`digest`,
# `source`), and the PPAE date a new record's is compared with (`ppae`).
CHANGE_COLUMNS = ("values_digest", "source_snapshot", "ppae_signature_date")


def events_between(old: Situation | None, new: Situation, values: Mapping, *, stock: bool) -> list[dict]:
    """The transitions from `old` to `new`, as StatusEvent field dicts (without beneficiary and run).

    A person seen for the first time is a new registration when registered;
    a person who was absent from the previous stock and is back "returned".
    A PPAE signature date the previous situation did not hold (none, or another one) is a
    PPAE signed, dated by the signature; not for a person's first readable record (no
    situation, or one without a record: « reçu, illisible »): it says nothing of when their
    PPAE was signed.
    """
    events: list[dict] = []
    day = new.reference_date

    def add(kind: str, when: date | None, **extra) -> None:
        events.append({"kind": kind, "date": when or day, **extra})

    old_status = old.status if old else None
    if old is not None and old.absent and stock:
        add(EventKind.RETURNED, day)
    if new.status != old_status:
        if new.status == FollowUpStatus.REGISTERED:
            add(EventKind.NEW_REGISTRATION, values.get("registration_date"))
        elif new.status == FollowUpStatus.CEASED:
            add(
                EventKind.CESSATION,
                values.get("cessation_date"),
                motive=values.get("cessation_motive") or "",
                motive_label=values.get("cessation_motive_label") or "",
            )
        elif new.status == FollowUpStatus.STRUCK_OFF:
            add(
                EventKind.RADIATION,
                values.get("radiation_date"),
                motive=values.get("radiation_motive") or "",
                motive_label=values.get("radiation_motive_label") or "",
            )
    if old is not None:
        if old.structure and new.structure and old.structure != new.structure:
            add(EventKind.STRUCTURE_CHANGE, day, previous_value=old.structure, new_value=new.structure)
        if (
            old.category
            and new.category
            and old.category != new.category
            and old_status == new.status == FollowUpStatus.REGISTERED
        ):
            add(EventKind.CATEGORY_CHANGE, day, previous_value=old.category, new_value=new.category)
        # A situation without a date holds no record yet (« reçu, illisible »: exchanges.pecgm_stock).
        if new.ppae is not None and new.ppae != old.ppae and old.reference_date is not None:
            add(EventKind.PPAE_SIGNED, new.ppae)
    return events


def newest_stock_date() -> date | None:
    return ImportRun.objects.filter(status__in=SUCCESSFUL_STATUSES, periodicity="M").aggregate(
        day=Max("reference_date")
    )["day"]


def followup_from_snapshot(snapshot: JobSeekerSnapshot, stock_date: date | None) -> FollowUp:
    values = {attr: getattr(snapshot, attr) for attr in PECGM_ATTRS}
    return FollowUp(
        beneficiary_id=snapshot.beneficiary_id,
        status=derive_status(values),
        reference_date=snapshot.reference_date,
        periodicity=snapshot.periodicity,
        source_snapshot=snapshot,
        absent_from_last_stock=bool(stock_date and snapshot.reference_date < stock_date),
        has_unknown_codes=has_unknown_codes(values),
        values_digest=values_digest(values),
        confirmed_run_id=snapshot.run_id,
        confirmed_record_number=snapshot.record_number,
        **values,
    )


@transaction.atomic
def refresh_followup(beneficiary_id: int) -> FollowUp | None:
    """Recompute one beneficiary's follow-up from their snapshots (after a review decision).

    A newer stock may have confirmed the current values without storing them again
    (change-based history): while its record is still theirs and no snapshot is newer
    than that confirmation, the follow-up stays as it is (only its absence is recomputed).
    """
    snapshot = (
        JobSeekerSnapshot.objects.filter(beneficiary_id=beneficiary_id)
        .order_by("-reference_date", "-run_id", "-record_number")
        .first()
    )
    current = FollowUp.objects.filter(beneficiary_id=beneficiary_id).first()
    stock_date = newest_stock_date()
    if (
        snapshot is not None
        and current is not None
        and current.reference_date is not None
        and current.reference_date > snapshot.reference_date
        and JobSeekerSnapshot.objects.filter(
            pk=current.source_snapshot_id, beneficiary_id=beneficiary_id
        ).exists()
    ):
        current.absent_from_last_stock = bool(stock_date and current.reference_date < stock_date)
        current.save()
        return current
    FollowUp.objects.filter(beneficiary_id=beneficiary_id).delete()
    if snapshot is None:
        return None
    followup = followup_from_snapshot(snapshot, stock_date)
    followup.save()
    return followup
