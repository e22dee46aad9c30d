"""Shared helpers for the checks' behaviour tests: a fixed clock and short ways to record events.

Every check is run with an explicit `as_of` so the windows are exact. `AS_OF` is Friday 13 June 2025,
10:00 in London (BST): the 90- and 180-day windows reach back into GMT, so daylight saving is covered.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from cases.models import Member
from escalation.models import Flag, FlagStatus
from escalation.services.checks import run_checks_in_process
from visits.models import Visit
from visits.tests.factories import AppointmentFactory, VisitFactory

LONDON = ZoneInfo("Europe/London")
AS_OF = dt.datetime(2025, 6, 13, 10, 0, tzinfo=LONDON)  # a Friday


def day_before(days: int, *, hour: int = 10, minute: int = 0, as_of: dt.datetime = AS_OF) -> dt.datetime:
    """A London time on the local day `days` days before `as_of`'s local date."""
    day = as_of.astimezone(LONDON).date() - dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)


def run(*, as_of: dt.datetime = AS_OF, rules: list[str] | None = None, families: list | None = None, **kwargs):
    family_ids = [f.pk for f in families] if families is not None else None
    return run_checks_in_process(as_of=as_of, rule_codes=rules, family_ids=family_ids, **kwargs)


def open_flags(*, rule: str | None = None, family=None):
    qs = Flag.objects.filter(status=FlagStatus.OPEN)
    if rule:
        qs = qs.filter(rule=rule)
    if family is not None:
        qs = qs.filter(family=family)
    return qs


def _when(when: int | dt.datetime) -> dt.datetime:
    return when if isinstance(when, dt.datetime) else day_before(when)


def appointment(member: Member, when: int | dt.datetime, status: str, *, agency=None, critical=False, **kwargs):
    """An appointment `when` days before AS_OF (or at a given time)."""
    extra = {"agency": agency} if agency is not None else {}
    return AppointmentFactory(
        member=member, status=status, scheduled_for=_when(when), critical=critical, **extra, **kwargs
    )


def visit(family, when: int | dt.datetime, status: str, *, planned: bool = True, **kwargs) -> Visit:
    """A visit `when` days before AS_OF (or at a given time); unplanned visits have no purpose."""
    extra = {} if planned else {"purpose": "", "expected_outcome": ""}
    return VisitFactory(family=family, status=status, planned=planned, scheduled_for=_when(when), **extra, **kwargs)
