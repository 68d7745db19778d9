"""The migrations say what the models say: a model change without its migration fails here."""

from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_no_model_change_lacks_its_migration():
    # --check exits with a non-zero status when makemigrations would write something.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
@pytest.mark.postgres
def test_the_status_events_are_vacuumed_after_each_import():
    """Migration exchanges 0009: the dashboard counts the events from their index alone."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'exchanges_statusevent'")
        (options,) = cursor.fetchone()
    assert "autovacuum_vacuum_insert_scale_factor=0.01" in options


SQUASHED = ("exchanges", "0001_squashed_0013")
CHAIN_END = ("exchanges", "0013_merge_reading_policy_and_site_change")


@pytest.mark.django_db
def test_the_squashed_migration_builds_the_state_of_the_fourteen_it_replaces():
    """exchanges 0001_squashed_0013 stands for 0001-0013 on a new installation: same tables,
    fields, indexes and constraints, to the option."""
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    chain = MigrationLoader(connection, ignore_no_migrations=True, replace_migrations=False)
    squashed = MigrationLoader(connection, ignore_no_migrations=True, replace_migrations=True)
    # Without replacing, the chain stands as it was; with it, the squashed migration stands for it.
    assert CHAIN_END in chain.graph.nodes and CHAIN_END not in squashed.graph.nodes
    before = chain.project_state(CHAIN_END, at_end=True)
    after = squashed.project_state(SQUASHED, at_end=True)
    names = {name for app, name in before.models if app == "exchanges"}
    assert names == {name for app, name in after.models if app == "exchanges"} and len(names) == 7
    for name in sorted(names):
        old, new = before.models["exchanges", name], after.models["exchanges", name]
        assert dict(old.fields).keys() == dict(new.fields).keys(), name
        for field, definition in old.fields.items():
            assert definition.deconstruct()[1:] == new.fields[field].deconstruct()[1:], (name, field)
        assert old.options == new.options, name
