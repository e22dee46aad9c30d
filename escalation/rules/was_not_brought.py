"""`was_not_brought`: a child was not brought to 2+ appointments in 90 days (any agencies), or
to 1 critical appointment. High when 3+ in 180 days, when they span 2+ agencies, or critical.

Seed 001 (theme 3): children are "not brought", they do not "fail to attend". Child K (seed 004):
"which appointments should not be missed?" — hence `critical`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace

from django.conf import settings
from django.contrib.postgres.aggregates import StringAgg
from django.db import connection
from django.db.models import Count, ExpressionWrapper, Func, OuterRef, Q, Subquery, TextField
from django.db.models import Value as V
from django.db.models.functions import MD5
from django.utils import timezone

from cases.models import Member
from escalation.models import Severity
from visits.models import Appointment, AppointmentStatus

from .base import Finding, Scope, digest, fmt_date, plural


class OncePerGroup(ExpressionWrapper):
    """An expression of a grouped query's keys only (a subquery on them), kept out of its GROUP BY:
    PostgreSQL then works it out once for each group in the result, not for each row grouped."""

    def get_group_by_cols(self):
        return []


class WasNotBrought:
    code = "was_not_brought"
    title = "Was not brought"
    # Bump when the wording of `detail` or the shape of `evidence` changes: every flag is rebuilt.
    version = 2

    def _windows(self, scope: Scope) -> tuple[dt.datetime, dt.datetime]:
        cfg = scope.cfg
        return scope.window_start(cfg.wnb_window_days), scope.window_start(
            max(cfg.wnb_high_window_days, cfg.wnb_window_days)
        )

    def _base(self, scope: Scope):
        _short, long = self._windows(scope)
        return scope.narrow(Appointment.objects).filter(
            for_child=True,
            status=AppointmentStatus.WAS_NOT_BROUGHT,
            scheduled_for__gte=long,
            scheduled_for__lte=scope.as_of,
        )

    def evaluate(self, scope: Scope) -> list[Finding]:
        return self.explain(scope, self.detect(scope))

    def detect(self, scope: Scope) -> list[Finding]:
        """One grouped query per chunk: counts per child over both windows, the severity, and (on
        PostgreSQL) a digest of every appointment and name the detail would be built from."""
        cfg = scope.cfg
        short, _long = self._windows(scope)
        in_short = Q(scheduled_for__gte=short)
        counts = {
            "n_short": Count("id", filter=in_short),
            "n_long": Count("id"),
            "agencies_short": Count("agency", filter=in_short, distinct=True),
            "critical_short": Count("id", filter=in_short & Q(critical=True)),
        }
        rows = (
            self._base(scope)
            .values("family_id", "member_id")
            .annotate(**counts)
            .filter(Q(n_short__gte=cfg.wnb_min_count) | Q(critical_short__gte=1))
        )
        if connection.vendor == "postgresql":
            rows = rows.annotate(inputs=self._inputs(scope))
        found = []
        for r in rows:
            high = (
                r["n_long"] >= cfg.wnb_high_count
                or r["agencies_short"] >= cfg.wnb_high_agencies
                or r["critical_short"] >= 1
            )
            signature = ""
            if r.get("inputs"):
                signature = digest(
                    self.version,
                    cfg.wnb_window_days,
                    cfg.wnb_high_window_days,
                    settings.TIME_ZONE,
                    r["n_short"],
                    r["n_long"],
                    r["inputs"],
                )
            found.append(
                Finding(
                    family_id=r["family_id"],
                    member_id=r["member_id"],
                    severity=Severity.HIGH if high else Severity.MEDIUM,
                    detail="",
                    evidence={
                        "count_window": r["n_short"],
                        "count_long_window": r["n_long"],
                        "critical": r["critical_short"],
                    },
                    signature=signature,
                )
            )
        return found

    def _inputs(self, scope: Scope) -> OncePerGroup:
        """A digest of everything the detail is built from, for each child the grouped query keeps:
        the child's name, and its appointments newest first (as the evidence lists them; with
        n_short, this also fixes which are inside the window) with their agencies' names.

        Worked out once per child found (PostgreSQL evaluates the select list after HAVING), not
        joined into every appointment row of every child counted: a third of the query's time."""
        _short, long = self._windows(scope)
        name = Member.objects.filter(pk=OuterRef("member_id")).values(
            name=Func(V("|"), "given_name", "family_name", function="CONCAT_WS", output_field=TextField())
        )
        appointments = (
            Appointment.objects.filter(
                family_id=OuterRef("family_id"),
                member_id=OuterRef("member_id"),
                for_child=True,
                status=AppointmentStatus.WAS_NOT_BROUGHT,
                scheduled_for__gte=long,
                scheduled_for__lte=scope.as_of,
            )
            .order_by()
            .values("member_id")
            .values(
                listed=StringAgg(
                    Func(
                        V("|"),
                        *("id", "scheduled_for", "kind", "agency_id", "agency__name", "critical"),
                        function="CONCAT_WS",
                        output_field=TextField(),
                    ),
                    delimiter=";",
                    order_by=("-scheduled_for", "-id"),
                )
            )
        )
        return OncePerGroup(
            MD5(Func(V("|"), Subquery(name), Subquery(appointments), function="CONCAT_WS", output_field=TextField())),
            output_field=TextField(),
        )

    def explain(self, scope: Scope, found: list[Finding]) -> list[Finding]:
        """One query for the evidence of the children given: which appointments, where, when."""
        if not found:
            return []
        cfg = scope.cfg
        short, _long = self._windows(scope)
        evidence: dict[int, list[dict]] = defaultdict(list)
        names: dict[int, str] = {}
        for a in (
            self._base(scope)
            .filter(member_id__in=[f.member_id for f in found])
            .select_related("agency", "member")
            .order_by("member_id", "-scheduled_for", "-id")
        ):
            names[a.member_id] = f"{a.member.given_name} {a.member.family_name}"
            evidence[a.member_id].append(
                {
                    "appointment": a.pk,
                    "date": timezone.localtime(a.scheduled_for).date().isoformat(),
                    "kind": a.kind,
                    "agency": a.agency.name,
                    "agency_id": a.agency_id,
                    "critical": a.critical,
                    "in_window": a.scheduled_for >= short,
                }
            )
        explained = []
        for f in found:
            n_short, n_long = f.evidence["count_window"], f.evidence["count_long_window"]
            recent = [e for e in evidence[f.member_id] if e["in_window"]]
            agencies = sorted({e["agency"] for e in recent})
            listed = "; ".join(
                f"{fmt_date_iso(e['date'])} {e['agency']}{' (critical)' if e['critical'] else ''}" for e in recent
            )
            detail = (
                f"{names.get(f.member_id, 'A child')} was not brought to "
                f"{plural(n_short, 'appointment')} in the last {cfg.wnb_window_days} days "
                f"across {plural(len(agencies), 'agency', 'agencies')}: {listed}."
            )
            if n_long > n_short:
                detail += f" {n_long} in the last {cfg.wnb_high_window_days} days."
            explained.append(
                replace(
                    f,
                    detail=detail,
                    evidence={
                        "appointments": evidence[f.member_id],
                        "count_window": n_short,
                        "count_long_window": n_long,
                        "agencies": agencies,
                        "critical": f.evidence["critical"],
                    },
                )
            )
        return explained


def fmt_date_iso(iso: str) -> str:
    return fmt_date(dt.date.fromisoformat(iso))
