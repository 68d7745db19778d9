"""Holding a named lock as another process would: from another thread, its own session or open file."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

from exchanges.tracked_runs import NamedLock


@contextmanager
def held_elsewhere(lock: NamedLock) -> Iterator[None]:
    """Hold `lock` for the block from another holder (PostgreSQL: another session; SQLite: another
    open file), as a live worker or import would; fails if it cannot be taken."""
    taken, release = threading.Event(), threading.Event()
    outcome: dict[str, bool] = {}

    def hold() -> None:
        try:
            outcome["held"] = lock.acquire()
            taken.set()
            release.wait(120)
            if outcome["held"]:
                lock.release()
        finally:
            taken.set()
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=hold, name=f"holder-{lock.name}")
    thread.start()
    taken.wait(30)
    try:
        assert outcome.get("held"), f"{lock.name}: could not be held by another holder"
        yield
    finally:
        release.set()
        thread.join(30)
