"""A lead professional's families indexed by (lead_professional_id, status) instead of the lead
alone.

The dashboard's workload counts each practitioner's open families: by the index on the lead
alone that fetched every one of the team's ~900 families from the table to read its status
(3.4 ms); with the status in the index the count reads the index alone. The caseload's "only
mine" filter asks the same. The index on the lead alone is then redundant (this one also serves
the PROTECT check when a user is deleted), and every family write paid for it, so it goes.

Both CONCURRENTLY on PostgreSQL, so families can be written meanwhile; the old index goes only
once the new one is valid (safeguarding/migration_indexes.py).
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from safeguarding.migration_indexes import swap_index

OLD = "cases_family_lead_professional_id_7ea462bd"
NEW = "family_lead_status"


def forwards(apps, schema_editor):
    swap_index(schema_editor, table="cases_family", new=NEW, new_columns=["lead_professional_id", "status"], old=OLD)


def backwards(apps, schema_editor):
    swap_index(schema_editor, table="cases_family", new=OLD, new_columns=["lead_professional_id"], old=NEW)


class Migration(migrations.Migration):
    atomic = False  # CREATE and DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("cases", "0007_family_team_id_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="family",
                    name="lead_professional",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="lead_for",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                migrations.AddIndex(
                    model_name="family",
                    index=models.Index(fields=["lead_professional", "status"], name="family_lead_status"),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards, atomic=False)],
        ),
    ]
