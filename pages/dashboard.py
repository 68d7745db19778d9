"""The Département's dashboard: counts, monthly evolution, and the server-drawn charts.

Its figures are cached per scope and data version (pages.versioned_cache):
France Travail's until an import, the decisions' until one changes.

Charts are inline SVG computed here (coordinates only) and drawn by the
template: no JavaScript, no inline style (colours come from classes in
static/css/app.css), each with a data table beside it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection
from datetime import date

from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Beneficiary
from beneficiaries.scoping import beneficiaries_in
from caseloads.models import Handling
from caseloads.worklists import handled_count
from contract.layouts import CATEGORIES, ORIENTATION_NATURES
from exchanges.models import (
    EventKind,
    FollowUpStatus,
    StatusEvent,
)
from orientations.models import OrientationDecision
from pages.cohorts import cohorts, current_month
from pages.versioned_cache import EVERYTHING, WITHOUT_DECISIONS, WORK, cached

MONTHS = 24
NO_FOLLOWUP = "aucune"
# The status events drawn month by month, and their series.
SERIES_OF_EVENTS = {
    EventKind.NEW_REGISTRATION: "registrations",
    EventKind.CESSATION: "cessations",
    EventKind.RADIATION: "radiations",
}


# --- Counts -----------------------------------------------------------------


def cohort_counts(communes: Collection[str] | None) -> dict[str, int]:
    """The cohorts' counts of the people of `communes` (None: the whole Département), net of the
    lines handled this month: the count a list shows is the length of its default view.

    Those that read no decision come from the counts by commune (`_ft_counts`); the one that does
    is counted for the scope, since a decision recorded during the day changes it. The handled
    lines are few (a caseworker marks them one by one): counted apart, they follow the worklists
    (WORK) without recomputing the rest.
    """
    beneficiaries = beneficiaries_in(communes)

    def from_the_counts_by_commune() -> dict[str, int]:
        counts = _ft_counts(communes)
        return {c.slug: counts[("cohort", c.slug)] for c in _cohorts(reads_decisions=False)}

    def reading_the_decisions() -> dict[str, int]:
        return {c.slug: c.queryset(beneficiaries).count() for c in _cohorts(reads_decisions=True)}

    def handled_lines() -> dict[str, int]:
        month = current_month()
        handled = set(Handling.objects.filter(month=month).values_list("cohort", flat=True).distinct())
        return {
            c.slug: handled_count(c.queryset(beneficiaries), c.slug, month)
            for c in cohorts()
            if c.slug in handled
        }

    counts = cached(
        "cohorts", beneficiaries, from_the_counts_by_commune, WITHOUT_DECISIONS, stale_while_computing=True
    )
    counts = counts | cached(
        "cohorts-decisions", beneficiaries, reading_the_decisions, EVERYTHING, stale_while_computing=True
    )
    handled = cached("cohorts-handled", beneficiaries, handled_lines, (*EVERYTHING, WORK))
    return {slug: count - handled.get(slug, 0) for slug, count in counts.items()}


def _cohorts(*, reads_decisions: bool) -> list:
    return [cohort for cohort in cohorts() if cohort.reads_decisions == reads_decisions]


def month_starts(end: date, count: int = MONTHS) -> list[date]:
    index = end.year * 12 + end.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def dashboard_data(communes: Collection[str] | None, today: date) -> dict:
    """The dashboard of the people of `communes` (`scoping.territory_communes`; None: the whole
    Département): France Travail's figures cached until an import, the decisions' until one changes.
    """
    beneficiaries = beneficiaries_in(communes)
    france_travail = cached(
        "dashboard-ft",
        beneficiaries,
        lambda: _ft_figures(communes, month_starts(today)),
        WITHOUT_DECISIONS,
        stale_while_computing=True,
        variant=f"{today:%Y%m}",
    )
    # Served stale in the seconds after a monthly import, France Travail's figures are the previous
    # month's: the whole page then shows that month's 24 months.
    months = france_travail["months"]
    # The month in the name: a stale value of the decisions is always of the same months.
    decisions = cached(
        f"dashboard-decisions-{months[-1]:%Y%m}",
        beneficiaries,
        lambda: _decision_figures(communes, months),
        stale_while_computing=True,
    )
    return {
        **france_travail,
        "by_nature": decisions["by_nature"],
        "months": months,
        "series": {**france_travail["series"], "orientations": decisions["orientations"]},
    }


def _ft_figures(communes: Collection[str] | None, months: list[date]) -> dict:
    counts = _ft_counts(communes)
    by_status = [(label, counts[("status", value)]) for value, label in FollowUpStatus.choices]
    by_status.append((_("aucune donnée France Travail"), counts[("status", None)]))
    by_category = [(f"{code} — {label}", counts[("category", code)]) for code, label in CATEGORIES.items()]
    unknown_category = sum(
        n for (kind, code), n in counts.items() if kind == "category" and code not in CATEGORIES
    )
    if unknown_category:
        by_category.append((_("sans catégorie ou code inconnu"), unknown_category))
    series = {name: dict.fromkeys(months, 0) for name in SERIES_OF_EVENTS.values()}
    for kind, month, n in _events(communes, months):
        month = _as_date(month)
        if month in series[SERIES_OF_EVENTS[kind]]:
            series[SERIES_OF_EVENTS[kind]][month] += n
    return {
        "total": sum(n for _label, n in by_status),
        "by_status": by_status,
        "by_category": by_category,
        "series": {name: [values[m] for m in months] for name, values in series.items()},
        "months": months,
    }


def _ft_counts(communes: Collection[str] | None) -> Counter:
    """France Travail's counts of the people of `communes` (None: everyone), summed from
    `_ft_counts_by_commune()`: ("status", status), ("category", category of the registered),
    ("cohort", slug) of the cohorts that read no decision.
    """
    if communes is not None and not communes:
        return Counter()  # nobody to count (a social worker without territory): no need for the table
    total: Counter = Counter()
    for commune, counts in _ft_counts_by_commune().items():
        if communes is None or commune in communes:
            total.update(counts)
    return total


def _ft_counts_by_commune() -> dict[str | None, Counter]:
    """France Travail's counts of everyone, by commune, once per data version: every scope sums its own.

    A territory counted on its own joined its people to their follow-ups, ~0.8 s each at 200 000
    people: after each import, the warming of 8 territories and the Département took 8 s on a
    quiet machine, 9-11 s while caseworkers browsed. This pass counts the Département by commune
    in ~1.2 s for every scope; the warming takes 3 s (docs/performance.md, "Pages", "Seventh
    pass"). Not served stale: each scope's figures are cached for the new data version as
    computed from it.
    """

    def compute() -> dict[str | None, Counter]:
        table: dict[str | None, Counter] = defaultdict(Counter)

        def add(kind: str, rows) -> None:
            for commune, value, n in rows:
                table[commune][(kind, value)] += n

        everyone = Beneficiary.objects.order_by()
        add("status", everyone.values_list("commune_code", "followup__status").annotate(n=Count("id")))
        registered = everyone.filter(followup__status=FollowUpStatus.REGISTERED)
        add("category", registered.values_list("commune_code", "followup__category").annotate(n=Count("id")))
        for cohort in _cohorts(reads_decisions=False):
            rows = cohort.queryset(everyone).values_list("commune_code").annotate(n=Count("id"))
            add("cohort", ((commune, cohort.slug, n) for commune, n in rows))
        return dict(table)

    return cached("ft-counts-by-commune", Beneficiary.objects.all(), compute, WITHOUT_DECISIONS)


def _events(communes: Collection[str] | None, months: list[date]) -> list[tuple[str, date, int]]:
    """The events of the series over `months` of the people of `communes` (None: everyone), as
    (kind, month, n) rows.

    The Département's are counted without the people (`_event_counts` alone reads an index); a
    territory's are summed from `_events_by_commune()`.
    """
    if communes is None:
        return list(_event_counts(months))
    if not communes:
        return []  # nobody to count (a social worker without territory): no need for the table
    by_commune = _events_by_commune(months)
    return [row for commune in communes for row in by_commune.get(commune, ())]


def _event_counts(months: list[date], *by: str):
    """The events of the series over `months`, counted by `by` (columns), kind and month."""
    return (
        StatusEvent.objects.filter(date__gte=months[0], kind__in=SERIES_OF_EVENTS)
        .order_by()
        .annotate(month=TruncMonth("date"))
        .values_list(*by, "kind", "month")
        # COUNT(*), not COUNT(id): with nothing in `by`, the (kind, date) index then holds all the
        # query reads, and two years of events are counted without reading the table (migration
        # exchanges 0009).
        .annotate(n=Count("*"))
        .values_list(*by, "kind", "month", "n")
    )


def _events_by_commune(months: list[date]) -> dict[str, list[tuple[str, date, int]]]:
    """The events of the series over `months`, counted by commune: the territories' dashboards.

    Computed once per data version for all the territories: counting one territory's events
    joined two years of them to its people, ~2 s each on the bench database (12 million events,
    8 territories: 16 s after each import); this one pass takes 2.6 s for them all
    (docs/performance.md, "Pages", "Sixth pass"). Not served stale: a territory's figures are
    cached for the new data version as computed from it.
    """

    def compute() -> dict[str, list[tuple[str, date, int]]]:
        table: dict[str, list[tuple[str, date, int]]] = {}
        for commune, kind, month, n in _event_counts(months, "beneficiary__commune_code"):
            table.setdefault(commune, []).append((kind, _as_date(month), n))
        return table

    return cached(
        "dashboard-events-by-commune",
        Beneficiary.objects.all(),
        compute,
        WITHOUT_DECISIONS,
        variant=f"{months[-1]:%Y%m}",
    )


def _decision_figures(communes: Collection[str] | None, months: list[date]) -> dict:
    decisions = OrientationDecision.objects.all()
    if communes is not None:
        # Not for everyone (an admin, a worker without territory limits): the `IN (SELECT id
        # FROM beneficiaries)` would only make PostgreSQL join every decision to every person.
        decisions = decisions.filter(beneficiary__in=beneficiaries_in(communes))
    nature_rows = dict(
        decisions.filter(ended_on__isnull=True)
        .order_by()
        .values_list("nature")
        .annotate(n=Count("id"))
        .values_list("nature", "n")
    )
    by_nature = [
        (f"{code} — {label}", nature_rows.get(code, 0)) for code, label in ORIENTATION_NATURES.items()
    ]
    per_month = dict.fromkeys(months, 0)
    rows = (
        decisions.filter(decision_date__gte=months[0])
        .order_by()
        .annotate(month=TruncMonth("decision_date"))
        .values_list("month")
        .annotate(n=Count("id"))
        .values_list("month", "n")
    )
    for month, n in rows:
        month = _as_date(month)
        if month in per_month:
            per_month[month] += n
    return {"by_nature": by_nature, "orientations": [per_month[m] for m in months]}


def _as_date(value) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value


# --- Charts (coordinates for the template's inline SVG) ----------------------

SERIES_LABELS = {
    "registrations": _("Inscriptions"),
    "cessations": _("Cessations"),
    "radiations": _("Radiations"),
    "orientations": _("Décisions d'orientation"),
}


def bar_chart(
    rows: list[tuple[str, int]], *, width: int = 640, label_width: int = 300, bar: int = 22
) -> dict:
    """Horizontal bars: one row per (label, value), scaled to the largest value."""
    largest = max((value for _label, value in rows), default=0) or 1
    room = width - label_width - 60
    bars = []
    for index, (label, value) in enumerate(rows):
        y = index * (bar + 8) + 4
        bars.append(
            {
                "label": label,
                "value": value,
                "y": y,
                # Formatted here: the French locale would write "19,84", which SVG reads as a list.
                "text_y": f"{y + bar * 0.72:.1f}",
                "x": label_width,
                "width": max(1, round(room * value / largest)) if value else 0,
                "value_x": label_width + (round(room * value / largest) if value else 0) + 6,
            }
        )
    return {
        "width": width,
        "height": len(rows) * (bar + 8) + 8,
        "bars": bars,
        "bar": bar,
        "label_x": label_width - 8,
    }


def line_chart(
    months: list[date], series: dict[str, list[int]], *, width: int = 720, height: int = 260
) -> dict:
    """One polyline per series over the months, with a few gridlines and month ticks."""
    # The right margin holds half of the last month's label, centred on the last point.
    left, right, top, bottom = 48, 24, 12, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    largest = max((max(values, default=0) for values in series.values()), default=0) or 1
    step = plot_w / max(1, len(months) - 1)

    def point(i: int, value: int) -> str:
        return f"{left + i * step:.1f},{top + plot_h - plot_h * value / largest:.1f}"

    lines = [
        {
            "name": name,
            "label": SERIES_LABELS[name],
            "points": " ".join(point(i, value) for i, value in enumerate(values)),
        }
        for name, values in series.items()
    ]
    grid = []
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = top + plot_h - plot_h * fraction
        grid.append({"y": f"{y:.1f}", "label": round(largest * fraction), "label_y": f"{y + 4:.1f}"})
    ticks = [
        {"x": f"{left + i * step:.1f}", "label": month.strftime("%m/%y")}
        for i, month in enumerate(months)
        if i % 3 == 0 or i == len(months) - 1
    ]
    return {
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "bottom": top + plot_h,
        "tick_y": height - 12,
        "lines": lines,
        "grid": grid,
        "ticks": ticks,
    }
