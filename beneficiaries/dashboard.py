"""The Département's dashboard: counts, monthly evolution, and the server-drawn charts.

Counts are cached per scope (what the user may see) under a *data version*:
`invalidate_dashboard()` bumps it, and the import and orientation decisions
call it. The version also carries a fingerprint of the newest import and the
newest decision change, review and change to a beneficiary, read from the
database (indexed maxima), so that a change made by another process (a
Celery worker, a management command, with a per-process cache) is seen
within a few seconds even without a shared cache. The list pages cache their
counts and page ids under the same version (beneficiaries.listing).

Charts are inline SVG computed here (coordinates only) and drawn by the
template: no JavaScript, no inline style (colours come from classes in
static/css/app.css), each with a data table beside it.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import Count, Max, QuerySet
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext_lazy as _

from beneficiaries.models import Beneficiary
from exchanges.layouts import CATEGORIES, ORIENTATION_NATURES
from exchanges.models import (
    SUCCESSFUL_STATUSES,
    EventKind,
    FollowUpStatus,
    ImportRun,
    ReviewCase,
    StatusEvent,
)
from orientations.models import OrientationDecision

_VERSION_KEY = "beneficiaries:data-version"
_FINGERPRINT_TTL = 5.0  # seconds a process trusts its last database fingerprint
_fingerprint: tuple[float, str] = (0.0, "")

MONTHS = 24
NO_FOLLOWUP = "aucune"


def invalidate_dashboard() -> None:
    """Forget cached counts: call after an import or anything that changes follow-ups or decisions."""
    global _fingerprint
    try:
        cache.incr(_VERSION_KEY)
    except ValueError:
        cache.set(_VERSION_KEY, 1, None)
    _fingerprint = (0.0, "")


def _database_fingerprint() -> str:
    global _fingerprint
    now = time.monotonic()
    if now - _fingerprint[0] < _FINGERPRINT_TTL:
        return _fingerprint[1]
    last_run = ImportRun.objects.filter(status__in=SUCCESSFUL_STATUSES).aggregate(last=Max("id"))["last"]
    last_change = OrientationDecision.objects.aggregate(last=Max("changed_at"))["last"]
    # Review decisions relink snapshots and refresh follow-ups.
    reviews = ReviewCase.objects.aggregate(last=Max("id"), resolved=Max("resolved_at"))
    resolved = reviews["resolved"].timestamp() if reviews["resolved"] else 0
    # People added or changed (CSV import, review, retention, admin) change the lists.
    last_person = Beneficiary.objects.aggregate(last=Max("updated_at"))["last"]
    value = (
        f"{last_run or 0}-{last_change.timestamp() if last_change else 0}-{reviews['last'] or 0}-{resolved}"
        f"-{last_person.timestamp() if last_person else 0}"
    )
    _fingerprint = (now, value)
    return value


def data_version() -> str:
    return f"{cache.get(_VERSION_KEY, 0)}.{_database_fingerprint()}"


def per_data_version(name: str, compute):
    """A value read from the database once per data version (the newest file's date…)."""
    key = f"beneficiaries:{name}:{data_version()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        # None cannot be told from a miss: kept as "" (falsy, like None, for the callers).
        cache.set(key, "" if value is None else value, settings.DASHBOARD_CACHE_SECONDS)
    return value


def scope_key(queryset: QuerySet) -> str:
    """A short key for what a queryset covers (territories, cohort, filters, search); no text of it kept."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # nobody visible (a social worker without territory)
        return "none"
    return hashlib.sha256(f"{sql}|{params!r}".encode()).hexdigest()[:24]


def cached(name: str, queryset: QuerySet, compute):
    """`compute()`, cached for this queryset until the data version changes."""
    key = f"beneficiaries:{name}:{scope_key(queryset)}:{data_version()}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, settings.DASHBOARD_CACHE_SECONDS)
    return value


# --- Counts -----------------------------------------------------------------


def cohort_counts(beneficiaries: QuerySet) -> dict[str, int]:
    from beneficiaries.cohorts import cohorts

    def compute() -> dict[str, int]:
        return {cohort.slug: cohort.queryset(beneficiaries).count() for cohort in cohorts()}

    return cached("cohorts", beneficiaries, compute)


def month_starts(end: date, count: int = MONTHS) -> list[date]:
    index = end.year * 12 + end.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def dashboard_data(beneficiaries: QuerySet, today: date) -> dict:
    def compute() -> dict:
        status_rows = dict(
            beneficiaries.order_by()
            .values_list("followup__status")
            .annotate(n=Count("id"))
            .values_list("followup__status", "n")
        )
        by_status = [(label, status_rows.get(value, 0)) for value, label in FollowUpStatus.choices]
        by_status.append((_("aucune donnée France Travail"), status_rows.get(None, 0)))
        category_rows = dict(
            beneficiaries.filter(followup__status=FollowUpStatus.REGISTERED)
            .order_by()
            .values_list("followup__category")
            .annotate(n=Count("id"))
            .values_list("followup__category", "n")
        )
        by_category = [
            (f"{code} — {label}", category_rows.get(code, 0)) for code, label in CATEGORIES.items()
        ]
        unknown_category = sum(n for code, n in category_rows.items() if code not in CATEGORIES)
        if unknown_category:
            by_category.append((_("sans catégorie ou code inconnu"), unknown_category))
        nature_rows = dict(
            OrientationDecision.objects.filter(beneficiary__in=beneficiaries, ended_on__isnull=True)
            .order_by()
            .values_list("nature")
            .annotate(n=Count("id"))
            .values_list("nature", "n")
        )
        by_nature = [
            (f"{code} — {label}", nature_rows.get(code, 0)) for code, label in ORIENTATION_NATURES.items()
        ]

        months = month_starts(today)
        first = months[0]
        events = (
            StatusEvent.objects.filter(
                beneficiary__in=beneficiaries,
                date__gte=first,
                kind__in=[EventKind.NEW_REGISTRATION, EventKind.CESSATION, EventKind.RADIATION],
            )
            .order_by()
            .annotate(month=TruncMonth("date"))
            .values_list("kind", "month")
            .annotate(n=Count("id"))
            .values_list("kind", "month", "n")
        )
        series = {kind: dict.fromkeys(months, 0) for kind in ("registrations", "cessations", "radiations")}
        names = {
            EventKind.NEW_REGISTRATION: "registrations",
            EventKind.CESSATION: "cessations",
            EventKind.RADIATION: "radiations",
        }
        for kind, month, n in events:
            month = _as_date(month)
            if month in series[names[kind]]:
                series[names[kind]][month] += n
        series["orientations"] = dict.fromkeys(months, 0)
        decisions = (
            OrientationDecision.objects.filter(beneficiary__in=beneficiaries, decision_date__gte=first)
            .order_by()
            .annotate(month=TruncMonth("decision_date"))
            .values_list("month")
            .annotate(n=Count("id"))
            .values_list("month", "n")
        )
        for month, n in decisions:
            month = _as_date(month)
            if month in series["orientations"]:
                series["orientations"][month] += n
        return {
            "total": sum(n for _label, n in by_status),
            "by_status": by_status,
            "by_category": by_category,
            "by_nature": by_nature,
            "months": months,
            "series": {name: [values[m] for m in months] for name, values in series.items()},
        }

    return cached(f"dashboard-{today:%Y%m}", beneficiaries, compute)


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
                "text_y": y + bar * 0.72,
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
    left, right, top, bottom = 48, 12, 12, 36
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
