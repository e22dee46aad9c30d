"""The audit log's actor_id is no longer a foreign key in the database (it stays one in Django).

PostgreSQL checked the constraint once per row at commit, each check a query on cases_user that
also locked the user's row (FOR KEY SHARE): on the benchmark data set that was about 0.3 ms for
a single read row and 0.5 ms of a 50-row API page's audit insert, a third to a half of the
statement; and two requests of the same user committing at once shared the lock through a
MultiXact, the slow path of PostgreSQL's row locking.

What the constraint guarded is kept otherwise: the id written is always the signed-in user's
(audit.services), the rows cannot be changed afterwards (the append-only trigger, 0004), and
Django's PROTECT still refuses to delete a user who appears in the log (users are switched off,
never deleted). Going back (migrating to 0006) adds the constraint again and checks every row.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_drop_actor_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="actor",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
