"""Shares made before sharing had a maximum length could be open-ended. Each current one gets a
last day, SHARE_MAX_DAYS from today (or from its start, if that is later): access continues for
now and ends unless someone renews it deliberately. Ended shares are left as they were."""

import datetime as dt

from django.conf import settings
from django.db import migrations
from django.utils import timezone


def cap(apps, schema_editor):
    FamilyShare = apps.get_model("cases", "FamilyShare")
    today = timezone.localdate()
    for share in FamilyShare.objects.filter(ends__isnull=True, ended_at__isnull=True).only("pk", "starts"):
        ends = max(share.starts, today) + dt.timedelta(days=settings.SHARE_MAX_DAYS)
        FamilyShare.objects.filter(pk=share.pk).update(ends=ends, updated_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("cases", "0009_family_restricted")]

    operations = [migrations.RunPython(cap, migrations.RunPython.noop)]
