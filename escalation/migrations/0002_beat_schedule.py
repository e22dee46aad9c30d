"""The checks' default schedule, in django-celery-beat's tables so an admin can change it:
a full run nightly at 02:00 and an incremental run every 15 minutes (issue 3)."""

from django.db import migrations

SCHEDULE_TZ = "Europe/London"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone=SCHEDULE_TZ
    )
    every_15, _ = IntervalSchedule.objects.get_or_create(every=15, period="minutes")
    PeriodicTask.objects.get_or_create(
        name="Safeguarding checks: full run (nightly)",
        defaults={"task": "escalation.run_full_checks", "crontab": nightly, "enabled": True},
    )
    PeriodicTask.objects.get_or_create(
        name="Safeguarding checks: incremental run (changed families)",
        defaults={"task": "escalation.run_incremental_checks", "interval": every_15, "enabled": True},
    )


def remove_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=["escalation.run_full_checks", "escalation.run_incremental_checks"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("escalation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
