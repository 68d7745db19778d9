"""The Département's dashboard: counts, monthly evolution, and the server-drawn charts.

Counts are cached per scope (what the user may see) under a *data version*:
`invalidate_dashboard()` bumps it (the import calls it), and the version
also carries a fingerprint of the database (indexed maxima), so that a
change made by another process (a Celery worker, a management command, with
a per-process cache) is seen within a few seconds even without a shared
cache. The fingerprint has three parts, and a cached value names those it
depends on:

- `FT`: France Travail's data — imports and review decisions (follow-ups,
  snapshots, status events, review cases);
- `DECISIONS`: orientation decisions, recorded all day long;
- `PEOPLE`: beneficiaries added or changed (CSV import, review, retention).

So a decision recomputes the orientation figures, not the counts by status
that only an import changes: at 200 000 people the dashboard took 1.6-3 s
and the home page's cohort counts ~1 s to recompute, after every decision.
The list pages cache their counts and page ids the same way
(beneficiaries.listing): a list follows the decisions when its query reads
them.

Charts are inline SVG computed here (coordinates only) and drawn by the
template: no JavaScript, no inline style (colours come from classes in
static/css/app.css), each with a data table beside it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
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

_COUNTER_KEY = "beneficiaries:data-version"  # bumped by invalidate_dashboard()
_SHARED_KEY = "beneficiaries:data-version-shared"  # the counter and fingerprint every process uses
_FINGERPRINT_TTL = 5.0  # seconds the processes share one reading of the database fingerprint
_LOCAL_TTL = 1.0  # seconds a process keeps the shared version it read
_version: tuple[float, dict[str, str]] = (0.0, {})
_COMPUTING_SECONDS = 60  # a process that died computing a value holds the others on stale data this long

FT, DECISIONS, PEOPLE = "ft", "decisions", "people"
EVERYTHING = (FT, DECISIONS, PEOPLE)
WITHOUT_DECISIONS = (FT, PEOPLE)

MONTHS = 24
NO_FOLLOWUP = "aucune"


def invalidate_dashboard() -> None:
    """Forget cached counts: call after an import or anything that changes follow-ups or decisions."""
    global _version
    try:
        cache.incr(_COUNTER_KEY)
    except ValueError:
        cache.set(_COUNTER_KEY, 1, None)
    cache.delete(_SHARED_KEY)
    _version = (0.0, {})
    _recent.clear()


def _timestamp(value) -> float:
    return value.timestamp() if value else 0


def _database_fingerprint() -> dict[str, str]:
    last_run = ImportRun.objects.filter(status__in=SUCCESSFUL_STATUSES).aggregate(last=Max("id"))["last"]
    # Review decisions relink snapshots and refresh follow-ups.
    reviews = ReviewCase.objects.aggregate(last=Max("id"), resolved=Max("resolved_at"))
    last_change = OrientationDecision.objects.aggregate(last=Max("changed_at"))["last"]
    last_person = Beneficiary.objects.aggregate(last=Max("updated_at"))["last"]
    return {
        FT: f"{last_run or 0}-{reviews['last'] or 0}-{_timestamp(reviews['resolved'])}",
        DECISIONS: str(_timestamp(last_change)),
        PEOPLE: str(_timestamp(last_person)),
    }


def _shared_version() -> dict[str, str]:
    """The counter and the database fingerprint, one reading shared by every process.

    Each process used to read the fingerprint on its own, every 5 s: after an import, the
    processes then held different versions for a few seconds, each missed its own keys and
    computed the same dashboard as the others (and the stale-while-computing flag, which is
    per key, could not stop them). Now the first process to need it reads the database and
    shares the reading for _FINGERPRINT_TTL seconds (cache.add: the first one wins), and each
    process keeps its copy for at most a second: a page asks for the version several times.
    """
    global _version
    now = time.monotonic()
    if now - _version[0] < min(_LOCAL_TTL, _FINGERPRINT_TTL):
        return _version[1]
    value = cache.get(_SHARED_KEY)
    if value is None:
        value = {"counter": str(cache.get(_COUNTER_KEY, 0)), **_database_fingerprint()}
        if not cache.add(_SHARED_KEY, value, _FINGERPRINT_TTL):
            value = cache.get(_SHARED_KEY) or value
    _version = (now, value)
    return value


def data_version(depends: tuple[str, ...] = EVERYTHING) -> str:
    """The version of the data that `depends` names (FT, DECISIONS, PEOPLE)."""
    parts = _shared_version()
    return f"{parts['counter']}." + "-".join(parts[part] for part in depends)


class _Recent:
    """The values this process read last, by key: a key carries its data version, so what it
    names never changes, and a process may keep it rather than ask Redis (and unpickle it)
    again on every page. The values are shared: callers never change a cached value.
    """

    def __init__(self, size: int, seconds: float):
        self.size, self.seconds = size, seconds
        self._values: OrderedDict[str, tuple[float, object]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str):
        with self._lock:
            found = self._values.get(key)
            if found is None or time.monotonic() - found[0] > self.seconds:
                return None
            self._values.move_to_end(key)
            return found[1]

    def put(self, key: str, value) -> None:
        with self._lock:
            self._values[key] = (time.monotonic(), value)
            self._values.move_to_end(key)
            while len(self._values) > self.size:
                self._values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()


_recent = _Recent(size=256, seconds=60)


def per_data_version(name: str, compute, depends: tuple[str, ...] = EVERYTHING):
    """A value read from the database once per data version (the newest file's date…)."""
    # None cannot be told from a miss: kept as "" (falsy, like None, for the callers).
    return _get_or_compute(
        f"beneficiaries:{name}",
        data_version(depends),
        lambda: _not_none(compute()),
        stale_while_computing=True,
    )


def _not_none(value):
    return "" if value is None else value


def _get_or_compute(base: str, version: str, compute, stale_while_computing: bool):
    """The value of `base` at `version`, computed on a miss.

    With `stale_while_computing`, when the data version has just changed (an import committed)
    and another process is already computing the new value, the last value computed is served
    meanwhile: without it, every worker computed the same dashboard (2-4 s at 200 000 people)
    at the same moment, and every page waited for the CPU.
    """
    key = f"{base}:{version}"
    value = _recent.get(key)
    if value is None:
        value = cache.get(key)
    if value is not None:
        _recent.put(key, value)
        return value
    if not stale_while_computing:
        value = compute()
        cache.set(key, value, settings.DASHBOARD_CACHE_SECONDS)
        _recent.put(key, value)
        return value
    latest, computing = f"{base}:latest", f"{key}:computing"
    if not cache.add(computing, 1, _COMPUTING_SECONDS):
        stale = cache.get(latest)
        if stale is not None:
            return stale
    try:
        value = compute()
        cache.set_many({key: value, latest: value}, settings.DASHBOARD_CACHE_SECONDS)
        _recent.put(key, value)
    finally:
        cache.delete(computing)
    return value


def _sql(queryset: QuerySet) -> tuple[str, tuple] | None:
    try:
        return queryset.query.sql_with_params()
    except EmptyResultSet:  # nobody visible (a social worker without territory)
        return None


def _scope_key(compiled: tuple[str, tuple] | None) -> str:
    if compiled is None:
        return "none"
    sql, params = compiled
    return hashlib.sha256(f"{sql}|{params!r}".encode()).hexdigest()[:24]


def scope_key(queryset: QuerySet) -> str:
    """A short key for what a queryset covers (territories, cohort, filters, search); no text of it kept."""
    return _scope_key(_sql(queryset))


# `cached(..., depends=FROM_ITS_SQL)`: the decisions too when the queryset's SQL reads them.
FROM_ITS_SQL = None


def cached(
    name: str,
    queryset: QuerySet,
    compute,
    depends: tuple[str, ...] | None = EVERYTHING,
    stale_while_computing: bool = False,
    variant: str = "",
):
    """`compute()`, cached for this queryset until the data `depends` names changes.

    `variant` tells apart values that differ by more than the data (the dashboard's month): it
    goes with the version, not the name, so that the value of the previous month is the one
    served stale after a monthly import.

    With `depends=FROM_ITS_SQL` (a list's ids), the value follows the decisions only when the
    queryset reads them; its SQL is compiled once, for the key and for that. Counts may be
    served a few seconds stale while another process computes them (`stale_while_computing`);
    a list's ids may not, as its rows would not match its filters.
    """
    compiled = _sql(queryset)
    if depends is FROM_ITS_SQL:
        reads_decisions = compiled is not None and OrientationDecision._meta.db_table in compiled[0]
        depends = EVERYTHING if reads_decisions else WITHOUT_DECISIONS
    return _get_or_compute(
        f"beneficiaries:{name}:{_scope_key(compiled)}",
        f"{data_version(depends)}:{variant}",
        compute,
        stale_while_computing,
    )


# --- Counts -----------------------------------------------------------------


def cohort_counts(beneficiaries: QuerySet) -> dict[str, int]:
    from beneficiaries.cohorts import cohorts

    counts = {}
    for name, depends, group in (
        ("cohorts", WITHOUT_DECISIONS, [c for c in cohorts() if not c.reads_decisions]),
        ("cohorts-decisions", EVERYTHING, [c for c in cohorts() if c.reads_decisions]),
    ):
        counts.update(
            cached(
                name,
                beneficiaries,
                lambda group=group: {cohort.slug: cohort.queryset(beneficiaries).count() for cohort in group},
                depends,
                stale_while_computing=True,
            )
        )
    return counts


def month_starts(end: date, count: int = MONTHS) -> list[date]:
    index = end.year * 12 + end.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def dashboard_data(beneficiaries: QuerySet, today: date) -> dict:
    """The dashboard's figures: France Travail's cached until an import, the decisions' until one changes."""
    france_travail = cached(
        "dashboard-ft",
        beneficiaries,
        lambda: _ft_figures(beneficiaries, month_starts(today)),
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
        lambda: _decision_figures(beneficiaries, months),
        stale_while_computing=True,
    )
    return {
        **france_travail,
        "by_nature": decisions["by_nature"],
        "months": months,
        "series": {**france_travail["series"], "orientations": decisions["orientations"]},
    }


def _related_to(queryset: QuerySet, beneficiaries: QuerySet) -> QuerySet:
    """`queryset` (events, decisions) narrowed to the people of `beneficiaries`.

    Nothing to narrow when the scope is everyone (an admin, a worker without territory limits):
    the `IN (SELECT id FROM beneficiaries)` would only make PostgreSQL join a million events to
    200 000 people to keep them all.
    """
    if not beneficiaries.query.has_filters():
        return queryset
    return queryset.filter(beneficiary__in=beneficiaries)


def _ft_figures(beneficiaries: QuerySet, months: list[date]) -> dict:
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
    by_category = [(f"{code} — {label}", category_rows.get(code, 0)) for code, label in CATEGORIES.items()]
    unknown_category = sum(n for code, n in category_rows.items() if code not in CATEGORIES)
    if unknown_category:
        by_category.append((_("sans catégorie ou code inconnu"), unknown_category))
    events = (
        _related_to(StatusEvent.objects.all(), beneficiaries)
        .filter(
            date__gte=months[0],
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
    return {
        "total": sum(n for _label, n in by_status),
        "by_status": by_status,
        "by_category": by_category,
        "series": {name: [values[m] for m in months] for name, values in series.items()},
        "months": months,
    }


def _decision_figures(beneficiaries: QuerySet, months: list[date]) -> dict:
    decisions = _related_to(OrientationDecision.objects.all(), beneficiaries)
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
