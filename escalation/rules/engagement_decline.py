"""`engagement_decline`: in the last 90 days at least 3 unsuccessful contacts and an unsuccessful
share of at least 50 %, or at least double the share of the 90 days before; or 2 consecutive
`no_access` planned visits (high at 3).

Child L (seed 000): missed, rescheduled and late-cancelled appointments and refused entry,
where "the fact that parent hadn't disengaged completely impacted on the professional response":
partial engagement still counts. Opportunistic visiting "should not be seen as a way of evidencing
non-engagement", so only planned visits count.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q
from django.utils import timezone

from escalation.models import Severity
from visits.models import Appointment, AppointmentStatus, Visit, VisitStatus

from .base import Finding, Scope, fmt_date, plural

VISIT_CONTACT = (
    VisitStatus.COMPLETED,
    VisitStatus.NO_ACCESS,
    VisitStatus.CANCELLED_BY_FAMILY,
    VisitStatus.CANCELLED_LATE,
    VisitStatus.RESCHEDULED,
)
VISIT_UNSUCCESSFUL = (
    VisitStatus.NO_ACCESS,
    VisitStatus.CANCELLED_BY_FAMILY,
    VisitStatus.CANCELLED_LATE,
    VisitStatus.RESCHEDULED,
)
APPOINTMENT_CONTACT = (
    AppointmentStatus.ATTENDED,
    AppointmentStatus.WAS_NOT_BROUGHT,
    AppointmentStatus.DID_NOT_ATTEND,
    AppointmentStatus.CANCELLED_BY_FAMILY,
    AppointmentStatus.RESCHEDULED,
)
APPOINTMENT_UNSUCCESSFUL = (
    AppointmentStatus.WAS_NOT_BROUGHT,
    AppointmentStatus.DID_NOT_ATTEND,
    AppointmentStatus.CANCELLED_BY_FAMILY,
    AppointmentStatus.RESCHEDULED,
)
STATUS_WORDS = {
    "no_access": "no access",
    "cancelled_by_family": "cancelled by the family",
    "cancelled_late": "cancelled late",
    "rescheduled": "rescheduled",
    "was_not_brought": "was not brought",
    "did_not_attend": "did not attend",
}
EVIDENCE_LIMIT = 30


def _counts(qs, *, contact, unsuccessful, current, previous):
    return {
        r["family_id"]: r
        for r in qs.filter(status__in=contact)
        .values("family_id")
        .annotate(
            cur=Count("id", filter=current),
            cur_bad=Count("id", filter=current & Q(status__in=unsuccessful)),
            prev=Count("id", filter=previous),
            prev_bad=Count("id", filter=previous & Q(status__in=unsuccessful)),
        )
    }


def _longest_no_access_runs(scope: Scope, since, min_run: int) -> dict[int, int]:
    """Longest run of consecutive `no_access` among each family's planned visits in the window,
    for families whose longest run is at least `min_run` (gaps and islands, set-based)."""
    ids_sql, ids_params = scope.family_ids().query.sql_with_params()
    statuses = ", ".join(["%s"] * len(VISIT_CONTACT))
    sql = f"""
        SELECT family_id, MAX(run_len) FROM (
            SELECT family_id, grp, COUNT(*) AS run_len FROM (
                SELECT family_id, status,
                       ROW_NUMBER() OVER (PARTITION BY family_id ORDER BY scheduled_for, id)
                     - ROW_NUMBER() OVER (PARTITION BY family_id, status ORDER BY scheduled_for, id) AS grp
                FROM {Visit._meta.db_table}
                WHERE planned = %s AND status IN ({statuses})
                  AND scheduled_for >= %s AND scheduled_for <= %s
                  AND family_id IN ({ids_sql})
            ) ordered
            WHERE status = %s
            GROUP BY family_id, grp
        ) runs
        GROUP BY family_id
        HAVING MAX(run_len) >= %s
    """  # noqa: S608 - only placeholders and our own table/subquery SQL are interpolated
    params = [True, *VISIT_CONTACT, since, scope.as_of, *ids_params, VisitStatus.NO_ACCESS, min_run]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


class EngagementDecline:
    code = "engagement_decline"
    title = "Engagement decline"

    def evaluate(self, scope: Scope) -> list[Finding]:
        cfg = scope.cfg
        start = scope.window_start(cfg.engagement_window_days)
        before = scope.window_start(2 * cfg.engagement_window_days)
        current = Q(scheduled_for__gte=start, scheduled_for__lte=scope.as_of)
        previous = Q(scheduled_for__gte=before, scheduled_for__lt=start)
        families = scope.family_ids()
        visits = Visit.objects.filter(family_id__in=families, planned=True, scheduled_for__gte=before)
        appts = Appointment.objects.filter(family_id__in=families, scheduled_for__gte=before)
        v = _counts(visits, contact=VISIT_CONTACT, unsuccessful=VISIT_UNSUCCESSFUL, current=current, previous=previous)
        a = _counts(
            appts,
            contact=APPOINTMENT_CONTACT,
            unsuccessful=APPOINTMENT_UNSUCCESSFUL,
            current=current,
            previous=previous,
        )
        runs = _longest_no_access_runs(scope, start, cfg.engagement_consecutive_no_access)

        pct, ratio = Decimal(cfg.engagement_share_percent), Decimal(cfg.engagement_increase_ratio)
        hits: dict[int, dict] = {}
        for family_id in set(v) | set(a) | set(runs):
            c = {
                k: v.get(family_id, {}).get(k, 0) + a.get(family_id, {}).get(k, 0)
                for k in ("cur", "cur_bad", "prev", "prev_bad")
            }
            # Integer cross-multiplication: 49 % vs 50 % must not depend on float rounding.
            share_met = c["cur_bad"] * 100 >= pct * c["cur"]
            doubled = c["prev"] > 0 and c["cur_bad"] * c["prev"] >= ratio * c["prev_bad"] * c["cur"]
            by_share = c["cur_bad"] >= cfg.engagement_min_unsuccessful and (share_met or doubled)
            run = runs.get(family_id, 0)
            if by_share or run >= cfg.engagement_consecutive_no_access:
                hits[family_id] = {**c, "run": run, "by_share": by_share, "doubled": doubled and not share_met}
        if not hits:
            return []

        evidence: dict[int, list[dict]] = defaultdict(list)
        for visit in (
            visits.filter(current, family_id__in=list(hits), status__in=VISIT_UNSUCCESSFUL)
            .select_related("agency")
            .order_by("family_id", "-scheduled_for")
        ):
            evidence[visit.family_id].append(
                {
                    "visit": visit.pk,
                    "date": timezone.localtime(visit.scheduled_for).date().isoformat(),
                    "status": visit.status,
                    "agency": visit.agency.name,
                }
            )
        for appt in (
            appts.filter(current, family_id__in=list(hits), status__in=APPOINTMENT_UNSUCCESSFUL)
            .select_related("agency")
            .order_by("family_id", "-scheduled_for")
        ):
            evidence[appt.family_id].append(
                {
                    "appointment": appt.pk,
                    "member": appt.member_id,
                    "date": timezone.localtime(appt.scheduled_for).date().isoformat(),
                    "status": appt.status,
                    "agency": appt.agency.name,
                }
            )

        findings = []
        for family_id, h in hits.items():
            items = sorted(evidence[family_id], key=lambda e: e["date"], reverse=True)
            parts = []
            if h["by_share"]:
                share = round(100 * h["cur_bad"] / h["cur"]) if h["cur"] else 0
                words = Counter(STATUS_WORDS[e["status"]] for e in items)
                listed = ", ".join(f"{n} {w}" for w, n in words.most_common())
                part = (
                    f"In the last {cfg.engagement_window_days} days {h['cur_bad']} of "
                    f"{plural(h['cur'], 'contact')} were unsuccessful ({share}%): {listed}."
                )
                if h["prev"]:
                    prev_share = round(100 * h["prev_bad"] / h["prev"])
                    part += f" In the {cfg.engagement_window_days} days before: {prev_share}%."
                parts.append(part)
            if h["run"] >= cfg.engagement_consecutive_no_access:
                last = next((e["date"] for e in items if e["status"] == "no_access"), None)
                when = f" (most recent {fmt_date_from_iso(last)})" if last else ""
                parts.append(f"{h['run']} planned visits in a row found no access{when}.")
            findings.append(
                Finding(
                    family_id=family_id,
                    member_id=None,
                    severity=Severity.HIGH
                    if h["run"] >= cfg.engagement_consecutive_no_access_high
                    else Severity.MEDIUM,
                    detail=" ".join(parts),
                    evidence={
                        "contacts": h["cur"],
                        "unsuccessful": h["cur_bad"],
                        "previous_contacts": h["prev"],
                        "previous_unsuccessful": h["prev_bad"],
                        "consecutive_no_access": h["run"],
                        "records": items[:EVIDENCE_LIMIT],
                    },
                )
            )
        return findings


def fmt_date_from_iso(iso: str) -> str:
    import datetime as dt

    return fmt_date(dt.date.fromisoformat(iso))
