"""The monthly stock: where a file stands among the others, and who is absent from it.

A monthly stock is France Travail's whole picture of the Département's job
seekers: whoever it leaves out has left it (`mark_absent`, with a "left"
event), except whom a refused record names (`mark_unreadable`: « reçu,
illisible »). A flux (daily, weekly) only adds news: its silence means nothing.
An older stock imported late enters the history only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.db.models import Q

from exchanges.followup import newest_stock_date
from exchanges.models import SUCCESSFUL_STATUSES, EventKind, FollowUp, FollowUpStatus, ImportRun, StatusEvent
from exchanges.pecgm_step import EventRow

# The columns of a StatusEvent row, in the order the record step makes them.
EVENT_COLUMNS = EventRow._fields
# Ids per statement (SQLite's limit on parameters).
CHUNK = 500


@dataclass(frozen=True)
class StockPosition:
    """Where a file stands among the files imported before it (read before its import starts)."""

    stock: bool  # a monthly stock
    # Events need something to compare with: the very first file sets the scene.
    has_history: bool
    # An older stock imported late enters the history only.
    is_late: bool
    # Older than the newest stock: its people are absent from that stock.
    absent: bool

    @classmethod
    def of(cls, day: date, periodicity: str) -> StockPosition:
        stock = periodicity == "M"
        previous_stock = newest_stock_date()
        newest_stock = max(filter(None, [previous_stock, day if stock else None]), default=None)
        return cls(
            stock=stock,
            has_history=ImportRun.objects.filter(status__in=SUCCESSFUL_STATUSES).exists(),
            is_late=bool(previous_stock and day < previous_stock),
            absent=bool(newest_stock and day < newest_stock),
        )

    @property
    def marks_absence(self) -> bool:
        """Does this file say who left the stock? A stock, not imported late."""
        return self.stock and not self.is_late


def mark_unreadable(beneficiary_ids: Iterable[int], day: date, *, stock: bool) -> None:
    """« Reçu, illisible » : people named by a refused record of the file of `day`.

    France Travail sent something about them that could not be read: they keep
    their last situation, flagged, and a stock does not count them absent (they
    are in it). Someone known who has no follow-up yet gets one, of unknown
    status, to carry the flag. A person with a readable record in the same file
    (a newer or same-day situation) is left as that record made them.
    """
    ids = sorted(set(beneficiary_ids))
    changes: dict = {"unreadable_on": day}
    if stock:
        changes["absent_from_last_stock"] = False
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        followups = FollowUp.objects.filter(beneficiary_id__in=chunk)
        followups.filter(Q(reference_date__lt=day) | Q(reference_date__isnull=True)).update(**changes)
        have = set(followups.values_list("beneficiary_id", flat=True))
        FollowUp.objects.bulk_create(
            FollowUp(beneficiary_id=beneficiary_id, status=FollowUpStatus.UNKNOWN, unreadable_on=day)
            for beneficiary_id in chunk
            if beneficiary_id not in have
        )


def mark_absent(run_id: int, day: date, *, with_events: bool) -> None:
    """Those whose newest data predates this stock are absent from it (a flux's silence means nothing).

    Not those France Travail sent an unreadable record about (`mark_unreadable`,
    called before): only people truly missing from a whole, accepted stock have
    left it. `with_events`: write a "left" event for each (not for the very first file).
    """
    leaving = FollowUp.objects.filter(reference_date__lt=day, absent_from_last_stock=False).exclude(
        unreadable_on=day
    )
    if with_events:
        # One statement: the database makes the events from the follow-ups itself
        # (a tenth of a stock may leave: as many rows not built in Python).
        sql, params = leaving.values("beneficiary_id").query.sql_with_params()
        quote = connection.ops.quote_name
        columns = ", ".join(quote(StatusEvent._meta.get_field(name).column) for name in EVENT_COLUMNS)
        given = {"run_id": run_id, "kind": EventKind.LEFT_STOCK, "date": day}
        # Each of EVENT_COLUMNS: the person, a value given here, or '' (motive, labels, values).
        selected = [
            "leaving.beneficiary_id" if name == "beneficiary_id" else "%s" if name in given else "''"
            for name in EVENT_COLUMNS
        ]
        values = [given[name] for name in EVENT_COLUMNS if name in given]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(StatusEvent._meta.db_table)} ({columns}) "  # noqa: S608
                f"SELECT {', '.join(selected)} FROM ({sql}) AS leaving",
                [*values, *params],
            )
    # An older « reçu, illisible » flag ends: this stock, readable, leaves them out.
    leaving.update(absent_from_last_stock=True, unreadable_on=None)
