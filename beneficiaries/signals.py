"""What the domain announces to the layers above it, rather than calling them.

The pages keep counts and lists in a cache under a data version (pages.versioned_cache); the
modules that change people (rights) or the caseloads (référents assigned, list lines handled)
sit below the pages, so they send these and the pages listen (pages.receivers, connected in
PagesConfig.ready()). The PECGM import has its own (exchanges.signals).
"""

from __future__ import annotations

from django.dispatch import Signal

# People changed outside an import (rectification, restriction, erasure, end of convention).
people_changed = Signal()
# A référent was assigned or ended, or a list line handled: the lists that read them are stale.
work_changed = Signal()


def announce_people_changed() -> None:
    people_changed.send(sender=None)


def announce_work_changed() -> None:
    work_changed.send(sender=None)
