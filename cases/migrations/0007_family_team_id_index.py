"""A team's families indexed by (team_id, id) instead of team_id alone.

A team's ~1,000 families are spread over the whole table, so reading them by the team_id index
visited ~890 heap pages. With the id in the index, the pages that only need the ids (the
dashboard's prompts of a team, a team's family count) read the index alone (8 pages instead of
887), and a team's families in id order (the API's cursor pages) come straight off the index:
51 rows for 52 pages. The index on team_id alone is then redundant, and every family write
paid for it, so it goes.

Both CONCURRENTLY on PostgreSQL, so families can be written meanwhile; the old index goes only
once the new one is valid (safeguarding/migration_indexes.py).
"""

import django.db.models.deletion
from django.db import migrations, models

from safeguarding.migration_indexes import swap_index

OLD = "cases_family_team_id_cfdeecc4"
NEW = "family_team_id"


def forwards(apps, schema_editor):
    swap_index(schema_editor, table="cases_family", new=NEW, new_columns=["team_id", "id"], old=OLD)


def backwards(apps, schema_editor):
    swap_index(schema_editor, table="cases_family", new=OLD, new_columns=["team_id"], old=NEW)


class Migration(migrations.Migration):
    atomic = False  # CREATE and DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("cases", "0006_family_version_member_version_historicalcasenote_and_more"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="family",
                    name="team",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="families",
                        to="cases.team",
                    ),
                ),
                migrations.AddIndex(
                    model_name="family",
                    index=models.Index(fields=["team", "id"], name="family_team_id"),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards, atomic=False)],
        ),
    ]
