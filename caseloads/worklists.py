"""« Listes à traiter » as worklists: a line marked « traité » for the month of the newest data.

A handled person leaves the default view of that list for that month (`without_handled`); the
list's toggle shows them again, with the outcome. Next month's data makes a new month: the
person comes back if they are still in the list.
"""

from __future__ import annotations

from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet

from beneficiaries.signals import announce_work_changed
from caseloads.models import Handling, Outcome


def without_handled(beneficiaries: QuerySet, cohort: str, month: date) -> QuerySet:
    handled = Handling.objects.filter(beneficiary=OuterRef("pk"), cohort=cohort, month=month)
    return beneficiaries.filter(~Exists(handled))


def handled_count(beneficiaries: QuerySet, cohort: str, month: date) -> int:
    return Handling.objects.filter(
        cohort=cohort, month=month, beneficiary__in=beneficiaries.order_by().values("pk")
    ).count()


def handlings_for(ids: list[int], cohort: str, month: date) -> dict[int, Handling]:
    rows = Handling.objects.filter(cohort=cohort, month=month, beneficiary_id__in=ids).select_related(
        "outcome", "handled_by"
    )
    return {row.beneficiary_id: row for row in rows}


def find(beneficiary_id: int, cohort: str, month: date) -> Handling | None:
    return (
        Handling.objects.filter(beneficiary_id=beneficiary_id, cohort=cohort, month=month)
        .select_related("outcome", "handled_by")
        .first()
    )


def mark_handled(beneficiary, cohort: str, month: date, outcome: Outcome, note: str, by) -> Handling:
    """Mark (or mark again, with a new outcome) the person's line of `cohort` for `month`."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                handling = Handling.objects.create(
                    beneficiary=beneficiary,
                    cohort=cohort,
                    month=month,
                    outcome=outcome,
                    note=note,
                    handled_by=by,
                )
        except IntegrityError:  # marked meanwhile, by someone else or in another tab
            handling = Handling.objects.select_for_update().get(
                beneficiary=beneficiary, cohort=cohort, month=month
            )
            handling.outcome, handling.note, handling.handled_by = outcome, note, by
            handling.save(update_fields=["outcome", "note", "handled_by"])
    announce_work_changed()
    return handling


def unmark(handling: Handling) -> None:
    handling.delete()
    announce_work_changed()
