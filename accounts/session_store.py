"""The production session store: Django's cached_db, whose writes do not wait for the disk.

A session is written at login and once a minute while a user is active (the
search texts are no longer kept there: beneficiaries.search_tokens). With
PostgreSQL's default `synchronous_commit`, each of those commits waits until
the write-ahead log is flushed to disk, and during a monthly import, which
writes hundreds of megabytes of log, that flush took the pages' time (see
docs/performance.md). A session write lost in a database crash costs at most a
minute of idle time: not worth the wait. The
rest of the application keeps synchronous commits.
"""

from __future__ import annotations

from django.contrib.sessions.backends import cached_db
from django.db import connections, router, transaction


class SessionStore(cached_db.SessionStore):
    def save(self, must_create: bool = False) -> None:
        using = router.db_for_write(self.model)
        connection = connections[using]
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            # Inside someone else's transaction, SET LOCAL would relax their commit too.
            return super().save(must_create)
        with transaction.atomic(using=using):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            super().save(must_create)
