"""What every rule shares: the finding it returns, the scope it evaluates, and window arithmetic."""

from __future__ import annotations

import datetime as dt
import hashlib
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
    # A digest of everything `detail` and `evidence` are built from ("" when the rule cannot tell):
    # an open flag with the same severity and signature is unchanged, without rebuilding either.
    signature: str = ""

    @property
    def key(self) -> tuple[int, int | None]:
        return (self.family_id, self.member_id)


@dataclass(frozen=True)
class Scope:
    """The families one evaluation covers: the open families of a chunk."""

    families: QuerySet[Family]  # already limited to open families
    as_of: dt.datetime
    cfg: CheckSettings
    # The chunk's inclusive family id range, when it is one: lets a query on a large table scan an
    # index range instead of probing it once per family.
    id_range: tuple[int, int] | None = None

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

    def narrow(self, qs: QuerySet, field: str = "family_id") -> QuerySet:
        """`qs` limited to the scope's families (by id range first, when the scope is one)."""
        if self.id_range is not None:
            qs = qs.filter(**{f"{field}__gte": self.id_range[0], f"{field}__lte": self.id_range[1]})
        return qs.filter(**{f"{field}__in": self.family_ids()})


class Rule(Protocol):
    code: str
    title: str

    def evaluate(self, scope: Scope) -> list[Finding]: ...


class TwoPhaseRule(Rule, Protocol):
    """A rule that can find without explaining: `detect` returns findings with severity and
    signature but no detail or evidence, in one cheap query; `explain` builds the detail and
    evidence of the ones it is given. The checks explain only new and changed findings, so a run
    where nothing changed never builds evidence. `evaluate` is `explain(detect())`."""

    def detect(self, scope: Scope) -> list[Finding]: ...

    def explain(self, scope: Scope, found: list[Finding]) -> list[Finding]: ...


def digest(*parts: Any) -> str:
    """A short, stable digest of a finding's inputs (for `Finding.signature`)."""
    return hashlib.md5("\x1f".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def fmt_date(value: dt.datetime | dt.date) -> str:
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return value.strftime("%-d %b %Y")


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"
