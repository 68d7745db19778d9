"""The pages' counts computed as soon as an import has committed, before a caseworker asks.

An import changes the data version (pages.versioned_cache), and the first
page to need the Département's dashboard or cohort counts would then compute
them while its user waits: 2-4 s at 200 000 people. The worker computes them
right after the import: once per exchange run, after all its files
(exchanges.transfers), and after `manage.py import_pecgm`. Meanwhile the pages
show the previous values: the import said it computes them
(`import_pecgm(counts_computed_next=True)`, then `after_imports()`), and
`versioned_cache` serves them stale until it has (for a minute at most, should
the worker die). Not inside `import_pecgm()` itself: the import's time is the
import's, and a run of two files needs one computing.

Warmed for each scope in use: the whole Département (orientation officers and
admins without territory) and each set of territories an active user holds,
with the querysets the pages build (`scoping.beneficiaries_in`, behind
`visible_beneficiaries`), so that the cache keys are theirs.
"""

from __future__ import annotations

import logging

from accounts.models import User
from beneficiaries.scoping import territory_communes
from pages.cohorts import data_month, newest_stock
from pages.dashboard import cohort_counts, dashboard_data
from pages.filters import followup_choices
from pages.versioned_cache import computing_after_import

logger = logging.getLogger(__name__)


def scopes_in_use() -> list[tuple[str, ...] | None]:
    """What the users see: the whole Département (None), then each set of communes a user is limited to."""
    scopes: list[tuple[str, ...] | None] = [None]
    for user in User.objects.filter(is_active=True).prefetch_related("territories"):
        communes = territory_communes(user)
        if communes and (scope := tuple(sorted(communes))) not in scopes:
            scopes.append(scope)
    return scopes


def warm_counts() -> int:
    """Compute the dashboard, cohort counts and per-version values of every scope; returns the scopes."""
    today = data_month()[1]
    newest_stock()
    followup_choices()
    scopes = scopes_in_use()
    for communes in scopes:
        dashboard_data(communes, today)
        cohort_counts(communes)
    return len(scopes)


def warm_counts_after_import() -> None:
    """warm_counts(), whose failure costs a caseworker a wait, never the import: logged, not raised."""
    try:
        with computing_after_import():
            scopes = warm_counts()
    except Exception:
        logger.exception("Counts not computed after the import: the first pages will compute them")
    else:
        logger.info("Counts computed after the import for %s scopes", scopes)
