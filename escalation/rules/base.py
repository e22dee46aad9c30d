"""What every rule shares: the finding it returns, the scope it evaluates, and window arithmetic."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.db.models import QuerySet
from django.utils import timezone

from cases.models import Family
from escalation.models import CheckSettings


@dataclass(frozen=True)
class Finding:
    """One flag's worth of truth: the family (and member), how serious, and why, in plain words."""

    family_id: int
    member_id: int | None
    severity: str
    detail: str
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[int, int | None]:
        return (self.family_id, self.member_id)


@dataclass(frozen=True)
class Scope:
    """The families one evaluation covers: the open families of a chunk."""

    families: QuerySet[Family]  # already limited to open families
    as_of: dt.datetime
    cfg: CheckSettings

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.as_of)

    def window_start(self, days: int) -> dt.datetime:
        """The start of the local day `days` days before today: an event on day `days` counts,
        one on day `days + 1` does not (boundary tests: 89 and 90 in, 91 out)."""
        day = self.today - dt.timedelta(days=days)
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))

    def family_ids(self) -> QuerySet:
        return self.families.values("id")


class Rule(Protocol):
    code: str
    title: str

    def evaluate(self, scope: Scope) -> list[Finding]: ...


def fmt_date(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return value.strftime("%-d %b %Y")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"
