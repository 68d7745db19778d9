"""The monthly stock: where a file stands among the others, and who is absent from it.

A monthly stock is France Travail's whole picture of the Département's job
seekers: whoever it leaves out has left it (`mark_absent`, with a "left"
event). A flux (daily, weekly) only adds news: its silence means nothing.
An older stock imported late enters the history only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import connection

from exchanges.followup import newest_stock_date
from exchanges.models import SUCCESSFUL_STATUSES, EventKind, FollowUp, ImportRun, StatusEvent
from exchanges.pecgm_step import EventRow

# The columns of a StatusEvent row, in the order the record step makes them.
EVENT_COLUMNS = EventRow._fields


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


def mark_absent(run_id: int, day: date, *, with_events: bool) -> None:
    """Those whose newest data predates this stock are absent from it (a flux's silence means nothing).

    `with_events`: write a "left" event for each (not for the very first file).
    """
    leaving = FollowUp.objects.filter(reference_date__lt=day, absent_from_last_stock=False)
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
    leaving.update(absent_from_last_stock=True)
