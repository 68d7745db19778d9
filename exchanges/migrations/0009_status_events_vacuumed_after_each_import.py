"""Vacuum the status events after each monthly import, not after a year of them (PostgreSQL only).

The dashboard counts a year and more of events by kind and month (over a million
rows at 200 000 people) from the `(kind, date)` index alone, as long as the
table's visibility map says their rows are visible to all. Only a vacuum sets
it, and autovacuum's default waits until a fifth of the table has been
inserted since the last one: with ~150 000 events a month on a table that only
grows, about a year. Until then PostgreSQL reads each row from the table too,
and the dashboard, computed again after every import, took 1.4-2.3 s instead of
0.35-0.45 s (docs/performance.md, "Fifth pass"). At 1 % the table is vacuumed
after each import; an insert-only vacuum only visits the new pages.
"""

from django.db import migrations

TABLE = "exchanges_statusevent"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} SET (autovacuum_vacuum_insert_scale_factor = 0.01)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE {TABLE} RESET (autovacuum_vacuum_insert_scale_factor)")


class Migration(migrations.Migration):
    dependencies = [("exchanges", "0008_drop_unused_followup_index")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
