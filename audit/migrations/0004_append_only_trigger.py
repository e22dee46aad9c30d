"""The audit and security logs refuse UPDATE and DELETE in PostgreSQL itself, so not even a bug
or a raw query in the application can rewrite them (the models refuse too, for SQLite).
TRUNCATE is left to the database's owner (test databases are emptied that way); in production
the application's database role should hold only INSERT and SELECT on these tables."""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the %% table is append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""

TABLES = ("audit_auditevent", "audit_securityevent")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
    schema_editor.execute("DROP FUNCTION IF EXISTS audit_append_only();")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_securityevent_auditevent_audit_family_at_and_more")]

    operations = [migrations.RunPython(forwards, backwards)]
