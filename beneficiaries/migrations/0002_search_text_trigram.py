"""A trigram index on the search text, for `LIKE '%word%'` lookups (PostgreSQL only).

SQLite (the embedded mode) has no such index: this migration does nothing there.
pg_trgm is a "trusted" extension since PostgreSQL 13: the database owner may create it.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS beneficiaries_search_text_trgm "
        "ON beneficiaries_beneficiary USING gin (search_text gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS beneficiaries_search_text_trgm")


class Migration(migrations.Migration):
    dependencies = [("beneficiaries", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
