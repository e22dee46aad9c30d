"""The audit log loses its index on actor_id.

Every read a request makes is written here (50 rows for an API list page), and each row was
entered in four indexes. No query reads the log by actor alone: a family's access log goes by
audit_family_at, the admin's list by `at`, and the admin's search ORs the username with `route`
contains and so scans the table whatever its indexes. What the index served was deleting a user
(the PROTECT check and the foreign key's own check), which the application never does: accounts
are switched off, never deleted. Measured on a 3-million-row log: about 0.13 ms of a 50-row insert.

The foreign key itself stays. Django's own AlterField would drop it, drop the index and add it
back (re-checking every row while holding a lock that stops every audit insert), so the database
side here only drops the index, CONCURRENTLY on PostgreSQL so reads keep being logged meanwhile.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEX = "audit_auditevent_actor_id_270bb4b7"


def drop_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'DROP INDEX {concurrently}IF EXISTS "{INDEX}"')


def create_index(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f'CREATE INDEX {concurrently}IF NOT EXISTS "{INDEX}" ON "audit_auditevent" ("actor_id")')


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("audit", "0005_drop_duplicate_family_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="actor",
                    field=models.ForeignKey(
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_index, create_index, atomic=False)],
        ),
    ]
