"""The database itself refuses to change an audit entry (defence in depth).

Only one UPDATE is let through: Django setting `user` to NULL when an account
is deleted (the entry keeps the username). DELETE stays possible for the
retention purge.
"""

from django.db import migrations

UNCHANGED = " AND ".join(
    f"NEW.{column} IS NOT DISTINCT FROM OLD.{column}"
    for column in ("timestamp", "username", "action", "object_type", "object_id", "ip_address")
)

POSTGRESQL = f"""
CREATE OR REPLACE FUNCTION audit_auditentry_append_only() RETURNS trigger AS $$
BEGIN
    IF NEW.user_id IS NULL AND NEW.id = OLD.id AND {UNCHANGED}
       AND NEW.extra::text = OLD.extra::text THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_auditentry_append_only BEFORE UPDATE ON audit_auditentry
    FOR EACH ROW EXECUTE FUNCTION audit_auditentry_append_only();
"""

SQLITE = f"""
CREATE TRIGGER audit_auditentry_append_only BEFORE UPDATE ON audit_auditentry
WHEN NOT (NEW.user_id IS NULL AND NEW.id = OLD.id AND {UNCHANGED.replace("IS NOT DISTINCT FROM", "IS")}
          AND NEW.extra IS OLD.extra)
BEGIN
    SELECT RAISE(ABORT, 'audit entries are append-only');
END;
"""

DROP = {
    "postgresql": "DROP TRIGGER IF EXISTS audit_auditentry_append_only ON audit_auditentry;"
    " DROP FUNCTION IF EXISTS audit_auditentry_append_only();",
    "sqlite": "DROP TRIGGER IF EXISTS audit_auditentry_append_only;",
}


def create(apps, schema_editor):
    sql = {"postgresql": POSTGRESQL, "sqlite": SQLITE}.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    sql = DROP.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(create, drop)]
