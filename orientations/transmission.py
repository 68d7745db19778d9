"""What becomes of each decision on its way to France Travail: sent, waiting, or not carried.

The person's pages show it beside each decision (« transmise le … dans CGPEM_… », « partira
dans le CGPEM du … »), a decision that cannot be carried is flagged when it is recorded and
listed under « Non transmises », and « Prochain CGPEM » previews the next file. All of them
fit the decisions exactly as `orientations.cgpem.generate_cgpem` does (`fit_records`): one set
of rules, never a second guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from beneficiaries.models import ANONYMOUS_NAME
from contract.departement import departement_on_three
from contract.layouts import CGPEM
from orientations.cgpem import Report, fit_decisions, period_bounds, select_decisions
from orientations.models import CgpemExport, OrientationDecision


@dataclass
class Preview:
    """The file a CGPEM of that period would be, as things stand (nothing written)."""

    periodicity: str
    period_start: date
    period_end: date
    file_name: str
    carried: list[int] = field(default_factory=list)  # decision ids, in the file's order
    report: Report = field(default_factory=Report)
    selected: QuerySet | None = None

    @property
    def count(self) -> int:
        return len(self.carried)

    @property
    def decisions(self) -> QuerySet:
        """The decisions the file would carry, as a query (the selection less those left out)."""
        return self.selected.exclude(pk__in=[item["decision"] for item in self.report.excluded])


def preview(periodicity: str, period_end: date, decisions: QuerySet | None = None) -> Preview:
    """Fit the decisions of the period the way generate_cgpem would, without writing anything.

    `decisions` narrows the selection (a person's decisions, one decision).
    """
    period_start, period_end = period_bounds(periodicity, period_end)
    departement = departement_on_three(settings.DEPARTEMENT)
    result = Preview(
        periodicity,
        period_start,
        period_end,
        CGPEM.file_name(departement, period_end.strftime("%Y%m%d"), periodicity),
    )
    selected = select_decisions(periodicity, period_start, period_end)
    if decisions is not None:
        selected = selected.filter(pk__in=decisions.values("pk"))
    for _record in fit_decisions(selected, result.report, result.carried):
        pass
    result.selected = selected
    return result


def problems(decisions: QuerySet) -> dict[int, list[str]]:
    """Why each of these decisions could not be carried by a CGPEM file (id → French reasons).

    Decisions that fit are absent. Fitted as in the file, whatever the period.
    """
    report = Report()
    for _record in fit_decisions(decisions.order_by("beneficiary_id", "id"), report):
        pass
    return {item["decision"]: item["reasons"] for item in report.excluded}


def next_deposit(today: date | None = None, decision_date: date | None = None) -> tuple[str, date] | None:
    """(periodicity, day) of the next automatic deposit that would carry a decision changed today.

    The daily flux (EXCHANGE_DAILY_DEPOSIT) leaves the next morning with yesterday's changes; the
    monthly stock (EXCHANGE_MONTHLY_DEPOSIT) on EXCHANGE_MONTHLY_DEPOSIT_DAY, with the decisions
    in force at the end of the previous month (one dated later waits a month more). None when
    neither deposit is automatic: an admin deposits by hand.
    """
    today = today or timezone.localdate()
    if settings.EXCHANGE_DAILY_DEPOSIT:
        return "Q", today + timedelta(days=1)
    if not settings.EXCHANGE_MONTHLY_DEPOSIT:
        return None
    day = today + timedelta(days=1)
    while True:
        deposit = day.replace(day=settings.EXCHANGE_MONTHLY_DEPOSIT_DAY)
        if deposit < day:
            deposit = (day.replace(day=28) + timedelta(days=4)).replace(
                day=settings.EXCHANGE_MONTHLY_DEPOSIT_DAY
            )
        period_end = deposit.replace(day=1) - timedelta(days=1)
        if decision_date is None or decision_date <= period_end:
            return "M", deposit
        day = deposit + timedelta(days=1)


def next_preview_period(today: date | None = None) -> tuple[str, date]:
    """The periodicity and period end of the next file, for « Prochain CGPEM ».

    The daily flux: today's changes. Otherwise the monthly stock: the end of last month while
    its deposit is still to come this month, else the end of this month (as it stands today).
    """
    today = today or timezone.localdate()
    if settings.EXCHANGE_DAILY_DEPOSIT:
        return "Q", today
    last_month_end = today.replace(day=1) - timedelta(days=1)
    if today.day <= settings.EXCHANGE_MONTHLY_DEPOSIT_DAY and not _stock_deposited(last_month_end):
        return "M", last_month_end
    month_end = (today.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return "M", month_end


def _stock_deposited(period_end: date) -> bool:
    return CgpemExport.objects.filter(
        periodicity="M", period_end=period_end, deposited_at__isnull=False
    ).exists()


@dataclass(frozen=True)
class Transmission:
    """One decision's transmission, as its person's pages show it."""

    state: str  # "sent", "written", "waiting", "blocked", "never"
    text: str


def transmissions(decisions: list[OrientationDecision], today: date | None = None) -> dict[int, Transmission]:
    """The transmission of each of a person's decisions (their `last_export` selected with them)."""
    today = today or timezone.localdate()
    if not decisions:
        return {}
    blocked = problems(OrientationDecision.objects.filter(pk__in=[d.pk for d in decisions]))
    result = {}
    for decision in decisions:
        result[decision.pk] = _transmission(decision, blocked.get(decision.pk), today)
    return result


def _transmission(decision: OrientationDecision, reasons: list[str] | None, today: date) -> Transmission:
    person = decision.beneficiary
    if person.birth_name == ANONYMOUS_NAME and not person.nir:
        return Transmission(
            "never", _("Non transmise : personne anonymisée (durée de conservation dépassée).")
        )
    export = decision.last_export
    changed = max(filter(None, (decision.changed_at, person.identity_changed_at)))
    # A decision no longer in force keeps the last file that carried it, even before a change.
    if export is not None and (export.created_at >= changed or not decision.is_current):
        when = export.deposited_at or export.created_at
        values = {
            "date": date_format(timezone.localtime(when), "SHORT_DATE_FORMAT"),
            "file": export.file_name,
        }
        if export.deposited_at:
            return Transmission("sent", _("Transmise le %(date)s dans %(file)s.") % values)
        return Transmission(
            "written", _("Écrite le %(date)s dans %(file)s, fichier pas encore déposé.") % values
        )
    if not decision.is_current:
        return Transmission("never", _("Non transmise : remplacée avant tout envoi."))
    if reasons:
        return Transmission(
            "blocked", _("Ne peut pas être transmise : %(reasons)s.") % {"reasons": " ; ".join(reasons)}
        )
    deposit = next_deposit(today, decision.decision_date)
    if deposit is None:
        return Transmission("waiting", _("Partira dans le prochain CGPEM déposé par un administrateur."))
    return Transmission(
        "waiting",
        _("Partira dans le CGPEM du %(date)s.") % {"date": date_format(deposit[1], "SHORT_DATE_FORMAT")},
    )


def untransmitted(decisions: QuerySet) -> dict[int, list[str]]:
    """Among current decisions, those no CGPEM can carry (id → reasons); anonymised people aside."""
    current = decisions.filter(ended_on__isnull=True).exclude(
        beneficiary__birth_name=ANONYMOUS_NAME, beneficiary__nir=""
    )
    return problems(current)
