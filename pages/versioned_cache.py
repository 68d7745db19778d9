"""The pages' cache: values computed from the database, kept under a *data version*.

Counts, list ids and the dashboard are cached per scope (what the user may
see, `scope_key`: a hash of the queryset's SQL) under a data version:
`invalidate_dashboard()` bumps its counter (the import calls it), and the
version also carries a fingerprint of the database (indexed maxima), so
that a change made without it (a decision, a CSV import, another process
with a per-process cache) is seen within a few seconds. The fingerprint is
read by the first process that needs it and shared through the cache. It
has four parts, and a cached value names those it depends on:

- `FT`: France Travail's data — imports and review decisions (follow-ups,
  snapshots, status events, review cases);
- `DECISIONS`: orientation decisions, recorded all day long;
- `PEOPLE`: beneficiaries added or changed (CSV import, review, retention);
- `WORK`: référents assigned and list lines handled (caseloads): only the lists
  whose SQL reads those tables (« Mes bénéficiaires », a cohort without its
  handled lines) depend on it, so an assignment never recomputes a dashboard.

So a decision recomputes the orientation figures, not the counts by status
that only an import changes: at 200 000 people the dashboard took 1.6-3 s
and the home page's cohort counts ~1 s to recompute, after every decision.
The list pages cache their counts and page ids the same way
(pages.listing): a list follows the decisions when its query reads
them. When the version changes, counts are served stale while one process
computes them (`_get_or_compute`), and the import computes them itself
right after its commit (pages.warming): an import that says so
(`invalidate_dashboard(computed_next=True)`) holds the pages on the previous
values until it has, rather than have them compute the same at the same time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db.models import Max, QuerySet

from beneficiaries.models import Beneficiary
from caseloads.models import Assignment, Handling
from exchanges.models import SUCCESSFUL_STATUSES, ImportRun, ReviewCase
from orientations.models import OrientationDecision

_COUNTER_KEY = "beneficiaries:data-version"  # bumped by invalidate_dashboard()
_WORK_KEY = "beneficiaries:work-version"  # bumped by work_changed()
_SHARED_KEY = "beneficiaries:data-version-shared"  # the counter and fingerprint every process uses
_FINGERPRINT_TTL = 5.0  # seconds the processes share one reading of the database fingerprint
_LOCAL_TTL = 1.0  # seconds a process keeps the shared version it read
_version: tuple[float, dict[str, str]] = (0.0, {})
_COMPUTING_SECONDS = 60  # a process that died computing a value holds the others on stale data this long
# Set by an import that computes the new values itself (invalidate_dashboard(computed_next=True)).
_AFTER_IMPORT_KEY = "beneficiaries:computed-after-import"
_computing_after_import = threading.local()  # .active: this thread is the one computing them

FT, DECISIONS, PEOPLE, WORK = "ft", "decisions", "people", "work"
EVERYTHING = (FT, DECISIONS, PEOPLE)
WITHOUT_DECISIONS = (FT, PEOPLE)
# The tables whose rows WORK follows (caseloads.models).
WORK_TABLES = ("caseloads_assignment", "caseloads_handling")


def invalidate_dashboard(*, computed_next: bool = False) -> None:
    """Forget cached counts: call after an import or anything that changes follow-ups or decisions.

    `computed_next`: the caller computes the new values right away, in `computing_after_import()`.
    Until it is done (or for _COMPUTING_SECONDS at most, should it die), the pages serve the values
    they had rather than compute the same ones beside it. After a monthly import, a page that
    asked for the dashboard a moment before the import's worker did used to compute it too (3.8 s
    at 200 000 people), and with the worker's own computing that took both cores for seconds.
    """
    if computed_next:
        # Before the new version is visible: no page may see it without the flag.
        cache.set(_AFTER_IMPORT_KEY, 1, _COMPUTING_SECONDS)
    _bump(_COUNTER_KEY)
    _recent.clear()


def work_changed() -> None:
    """A référent was assigned or a list line handled: the lists that read them are recomputed.

    The shared reading is dropped too, so that the page the user is sent to next (the list
    without the line just handled) sees the change at once, not up to _FINGERPRINT_TTL later.
    """
    _bump(_WORK_KEY)


def _bump(counter_key: str) -> None:
    """Move one counter of the data version on, and drop the readings of it: the shared one and ours."""
    global _version
    try:
        cache.incr(counter_key)
    except ValueError:
        cache.set(counter_key, 1, None)
    cache.delete(_SHARED_KEY)
    _version = (0.0, {})


def _timestamp(value) -> float:
    return value.timestamp() if value else 0


def _database_fingerprint() -> dict[str, str]:
    last_run = ImportRun.objects.filter(status__in=SUCCESSFUL_STATUSES).aggregate(last=Max("id"))["last"]
    # Review decisions relink snapshots and refresh follow-ups.
    reviews = ReviewCase.objects.aggregate(last=Max("id"), resolved=Max("resolved_at"))
    last_change = OrientationDecision.objects.aggregate(last=Max("changed_at"))["last"]
    last_person = Beneficiary.objects.aggregate(last=Max("updated_at"))["last"]
    # The counter catches a handled line taken back (a deletion no maximum shows); the maxima a
    # change made by a process with a cache of its own.
    last_assignment = Assignment.objects.aggregate(last=Max("changed_at"))["last"]
    last_handling = Handling.objects.aggregate(last=Max("id"))["last"]
    return {
        FT: f"{last_run or 0}-{reviews['last'] or 0}-{_timestamp(reviews['resolved'])}",
        DECISIONS: str(_timestamp(last_change)),
        PEOPLE: str(_timestamp(last_person)),
        WORK: f"{cache.get(_WORK_KEY, 0)}-{_timestamp(last_assignment)}-{last_handling or 0}",
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
    """The version of the data that `depends` names (FT, DECISIONS, PEOPLE, WORK)."""
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


@contextmanager
def computing_after_import() -> Iterator[None]:
    """The block computes the new values an import announced: it computes, the pages wait on stale ones."""
    _computing_after_import.active = True
    try:
        yield
    finally:
        _computing_after_import.active = False
        cache.delete(_AFTER_IMPORT_KEY)


def _import_computes() -> bool:
    """An import's worker is computing the new values, and this thread is not it."""
    return not getattr(_computing_after_import, "active", False) and cache.get(_AFTER_IMPORT_KEY) is not None


def _get_or_compute(base: str, version: str, compute, stale_while_computing: bool):
    """The value of `base` at `version`, computed on a miss.

    With `stale_while_computing`, when the data version has just changed (an import committed)
    and another process is already computing the new value (or the import that changed it said
    it computes the new values, `invalidate_dashboard(computed_next=True)`), the last value
    computed is served meanwhile: without it, every worker computed the same dashboard (2-4 s
    at 200 000 people) at the same moment, and every page waited for the CPU.
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
    if _import_computes() or not cache.add(computing, 1, _COMPUTING_SECONDS):
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


# `cached(..., depends=FROM_ITS_SQL)`: the decisions (WORK) too when the queryset's SQL reads
# them (the caseloads' tables); FROM_ITS_SQL_AND_DECISIONS: the decisions always, WORK when read.
FROM_ITS_SQL = None
FROM_ITS_SQL_AND_DECISIONS = "sql+decisions"


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
    if depends is FROM_ITS_SQL or depends == FROM_ITS_SQL_AND_DECISIONS:
        sql = compiled[0] if compiled is not None else ""
        reads_decisions = depends == FROM_ITS_SQL_AND_DECISIONS or OrientationDecision._meta.db_table in sql
        depends = EVERYTHING if reads_decisions else WITHOUT_DECISIONS
        if any(table in sql for table in WORK_TABLES):
            depends = (*depends, WORK)
    return _get_or_compute(
        f"beneficiaries:{name}:{_scope_key(compiled)}",
        f"{data_version(depends)}:{variant}",
        compute,
        stale_while_computing,
    )
