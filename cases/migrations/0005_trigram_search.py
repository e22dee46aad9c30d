"""pg_trgm for name search that tolerates misspellings (PostgreSQL only; SQLite falls back to
plain matching)."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS member_full_name_trgm ON cases_member "
        "USING gin ((given_name || ' ' || family_name) gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS member_full_name_trgm")


class Migration(migrations.Migration):
    dependencies = [("cases", "0004_gap_subject_help")]

    operations = [migrations.RunPython(forwards, backwards)]
