"""Fresh planner statistics for the tables an import has outgrown (PostgreSQL only).

PostgreSQL plans each query from what its statistics say of the tables (row
counts, value distributions). Autovacuum refreshes them in the background, a
minute or more after a change, once a tenth of a table has changed. The first
import into a new installation fills tables that were empty: until autovacuum
came by, PostgreSQL took the beneficiaries for a few dozen and joined them to
30 000 follow-ups by a nested loop, and the dashboard's first count, computed
right after the import, took over two minutes instead of a few milliseconds
(seen in the end-to-end test). So once an import has committed, a table whose
statistics know fewer than half the rows the import brought is analyzed at
once, before the pages' counts are computed (`pecgm_import.after_imports()`:
the exchange run and `manage.py import_pecgm`, once for all of a run's files),
and not inside `import_pecgm()`, whose time is the
import's (analyzing the tables after a first import of 150 000 records takes
~2 s). A monthly import into a Département's database changes each table by
a fraction and leaves them to autovacuum: analyzing its ten million status
events takes a minute.
"""

from __future__ import annotations

import logging

from django.db import connection
from django.db.models import Model

from beneficiaries.models import Beneficiary
from exchanges.models import FollowUp, JobSeekerSnapshot, StatusEvent

logger = logging.getLogger(__name__)

# The tables an import fills, and that the pages and counts read.
IMPORTED_MODELS = [Beneficiary, FollowUp, JobSeekerSnapshot, StatusEvent]


def analyze_outgrown(models: list[type[Model]], rows: int) -> list[str]:
    """ANALYZE the tables of `models` whose statistics count fewer than half of `rows`; their names.

    A failure is logged, not raised: the import has committed, and autovacuum will do it later.
    """
    if connection.vendor != "postgresql" or rows <= 0:
        return []
    tables = [model._meta.db_table for model in models]
    try:
        with connection.cursor() as cursor:
            # reltuples is -1 for a table never analyzed (PostgreSQL 14+), 0 for an empty one.
            cursor.execute(
                "SELECT relname FROM pg_class WHERE oid = ANY(%s::regclass[]) AND reltuples * 2 < %s",
                [tables, rows],
            )
            outgrown = sorted(name for (name,) in cursor.fetchall())
            for name in outgrown:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(name)}")
    except Exception:
        logger.exception("Planner statistics not refreshed after the import: autovacuum will")
        return []
    return outgrown
