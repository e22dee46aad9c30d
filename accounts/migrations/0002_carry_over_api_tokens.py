"""API tokens move from DRF's authtoken (keys kept in clear) to django-rest-knox (only a hash).

Partner systems keep the key they hold: each old key is stored as knox stores a key (its hash,
and its first characters to find it), expiring `API_TOKEN_TTL_DAYS` from now. The old table's
rows are then deleted, so no key stays in clear; the (empty) table itself is left to whoever
drops it, since `rest_framework.authtoken` is no longer installed to migrate it.
"""

import datetime as dt

from django.conf import settings
from django.db import migrations
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS

OLD_TABLE = "authtoken_token"


def carry_over_drf_tokens(apps, schema_editor) -> int:
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return 0
    AuthToken = apps.get_model("knox", "AuthToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {OLD_TABLE}")  # noqa: S608 (a constant)
        rows = cursor.fetchall()
        expiry = timezone.now() + dt.timedelta(days=settings.API_TOKEN_TTL_DAYS)
        AuthToken.objects.bulk_create(
            [
                AuthToken(digest=hash_token(key), token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], user_id=user_id, expiry=expiry)
                for key, user_id in rows
            ],
            ignore_conflicts=True,
        )
        cursor.execute(f"DELETE FROM {OLD_TABLE}")  # noqa: S608 (a constant)
    return len(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(carry_over_drf_tokens, migrations.RunPython.noop, elidable=True)]
