"""What the pages do when the domain announces new data (`exchanges.signals`, `beneficiaries.signals`).

Connected in `PagesConfig.ready()`: the import knows nothing of the
pages' caches.
"""

from __future__ import annotations

from pages.versioned_cache import invalidate_dashboard, work_changed
from pages.warming import warm_counts_after_import


def forget_counts(sender, *, counts_computed_next: bool = False, **kwargs) -> None:
    """An import committed: the pages' cached counts are out of date."""
    invalidate_dashboard(computed_next=counts_computed_next)


def forget_people(sender, **kwargs) -> None:
    """People changed outside an import (beneficiaries.signals.people_changed): recount."""
    invalidate_dashboard()


def forget_work(sender, **kwargs) -> None:
    """Référents or handled lines changed (beneficiaries.signals.work_changed)."""
    work_changed()


def compute_counts(sender, **kwargs) -> None:
    """The imports are over: compute the pages' counts now, rather than on a caseworker's page."""
    warm_counts_after_import()
