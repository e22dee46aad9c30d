"""`was_not_brought`: a child was not brought to 2+ appointments in 90 days (any agencies), or
to 1 critical appointment. High when 3+ in 180 days, when they span 2+ agencies, or critical.

Seed 001 (theme 3): children are "not brought", they do not "fail to attend". Child K (seed 004):
"which appointments should not be missed?" — hence `critical`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Q
from django.utils import timezone

from escalation.models import Severity
from visits.models import Appointment, AppointmentStatus

from .base import Finding, Scope, fmt_date, plural


class WasNotBrought:
    code = "was_not_brought"
    title = "Was not brought"

    def evaluate(self, scope: Scope) -> list[Finding]:
        cfg = scope.cfg
        short = scope.window_start(cfg.wnb_window_days)
        long = scope.window_start(max(cfg.wnb_high_window_days, cfg.wnb_window_days))
        in_short = Q(scheduled_for__gte=short)
        base = Appointment.objects.filter(
            family_id__in=scope.family_ids(),
            for_child=True,
            status=AppointmentStatus.WAS_NOT_BROUGHT,
            scheduled_for__gte=long,
            scheduled_for__lte=scope.as_of,
        )
        # One grouped query per chunk: counts per child over both windows.
        rows = (
            base.values("family_id", "member_id")
            .annotate(
                n_short=Count("id", filter=in_short),
                n_long=Count("id"),
                agencies_short=Count("agency", filter=in_short, distinct=True),
                critical_short=Count("id", filter=in_short & Q(critical=True)),
            )
            .filter(Q(n_short__gte=cfg.wnb_min_count) | Q(critical_short__gte=1))
        )
        hits = {(r["family_id"], r["member_id"]): r for r in rows}
        if not hits:
            return []
        # One more query for the evidence of the children found: which appointments, where, when.
        evidence: dict[int, list[dict]] = defaultdict(list)
        names: dict[int, str] = {}
        for a in (
            base.filter(member_id__in=[m for _, m in hits])
            .select_related("agency", "member")
            .order_by("member_id", "-scheduled_for")
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
        findings = []
        for (family_id, member_id), r in hits.items():
            high = (
                r["n_long"] >= cfg.wnb_high_count
                or r["agencies_short"] >= cfg.wnb_high_agencies
                or r["critical_short"] >= 1
            )
            recent = [e for e in evidence[member_id] if e["in_window"]]
            agencies = sorted({e["agency"] for e in recent})
            listed = "; ".join(
                f"{fmt_date_iso(e['date'])} {e['agency']}{' (critical)' if e['critical'] else ''}" for e in recent
            )
            detail = (
                f"{names.get(member_id, 'A child')} was not brought to "
                f"{plural(r['n_short'], 'appointment')} in the last {cfg.wnb_window_days} days "
                f"across {plural(len(agencies), 'agency', 'agencies')}: {listed}."
            )
            if r["n_long"] > r["n_short"]:
                detail += f" {r['n_long']} in the last {cfg.wnb_high_window_days} days."
            findings.append(
                Finding(
                    family_id=family_id,
                    member_id=member_id,
                    severity=Severity.HIGH if high else Severity.MEDIUM,
                    detail=detail,
                    evidence={
                        "appointments": evidence[member_id],
                        "count_window": r["n_short"],
                        "count_long_window": r["n_long"],
                        "agencies": agencies,
                        "critical": r["critical_short"],
                    },
                )
            )
        return findings


def fmt_date_iso(iso: str) -> str:
    return fmt_date(dt.date.fromisoformat(iso))
