from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Case, Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.shortcuts import get_object_or_404
from django.utils import timezone

from cases.access import restrict_to_visible, visible_teams
from cases.models import Family, User

from .models import ACTIVE_PROMPT_STATUSES, EscalationPrompt, Flag, PromptEvent


def flag_list(*, user: User) -> QuerySet[Flag]:
    return restrict_to_visible(Flag.objects.all(), user).select_related("family", "member")


def flag_get_for_user(*, user: User, flag_id) -> Flag:
    return get_object_or_404(flag_list(user=user), pk=flag_id)


def prompt_list(*, user: User) -> QuerySet[EscalationPrompt]:
    return (
        restrict_to_visible(EscalationPrompt.objects.all(), user)
        .select_related("flag", "family", "assigned_to", "escalated_to")
        .prefetch_related(Prefetch("events", queryset=PromptEvent.objects.select_related("actor").order_by("at", "id")))
    )


def prompt_get_for_user(*, user: User, prompt_id) -> EscalationPrompt:
    return get_object_or_404(prompt_list(user=user), pk=prompt_id)


# --- the dashboard ---------------------------------------------------------------------------

AGE_BANDS = [(0, 5, "0–5 days"), (6, 10, "6–10 days"), (11, 20, "11–20 days"), (21, None, "21 days or more")]


@dataclass
class DashboardFilters:
    team: int | None = None
    assigned_to: int | None = None
    rule: str = ""
    severity: str = ""
    status: str = "active"  # active = open or acknowledged
    min_age_days: int | None = None
    mine: bool = False


def dashboard_prompts(*, user: User, filters: DashboardFilters) -> QuerySet[EscalationPrompt]:
    """Prompts for the dashboard: those of the families the user may see (a manager's team; a head
    of service's agency). Overdue first, then high before medium, then
    the oldest first: what matters most is at the top."""
    today = timezone.localdate()
    # Whoever a prompt is assigned to can see its family (team, head of service's agency, or share).
    qs = restrict_to_visible(EscalationPrompt.objects.all(), user)
    if filters.mine:
        qs = qs.filter(assigned_to=user)
    if filters.status == "active":
        qs = qs.filter(status__in=ACTIVE_PROMPT_STATUSES)
    elif filters.status:
        qs = qs.filter(status=filters.status)
    if filters.team:
        qs = qs.filter(family__team_id=filters.team)
    if filters.assigned_to:
        qs = qs.filter(assigned_to_id=filters.assigned_to)
    if filters.rule:
        qs = qs.filter(flag__rule=filters.rule)
    if filters.severity:
        qs = qs.filter(flag__severity=filters.severity)
    if filters.min_age_days:
        qs = qs.filter(created_at__lte=timezone.now() - dt.timedelta(days=filters.min_age_days))
    return (
        qs.select_related("flag", "family", "assigned_to")
        .annotate(
            overdue=Case(
                When(status__in=ACTIVE_PROMPT_STATUSES, due__lt=today, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            severity_rank=Case(
                When(flag__severity="high", then=Value(1)), default=Value(0), output_field=IntegerField()
            ),
        )
        .order_by("-overdue", "-severity_rank", "created_at", "id")
    )


def dashboard_counts(*, prompts: QuerySet[EscalationPrompt]) -> dict:
    """Counts by rule, severity and status over the filtered prompts: one grouped query."""
    rows = prompts.order_by().values("flag__rule", "flag__severity", "status", "overdue").annotate(n=Count("id"))
    by_rule: dict[str, int] = defaultdict(int)
    by_severity: dict[str, int] = defaultdict(int)
    by_status: dict[str, int] = defaultdict(int)
    overdue = total = 0
    for r in rows:
        by_rule[r["flag__rule"]] += r["n"]
        by_severity[r["flag__severity"]] += r["n"]
        by_status[r["status"]] += r["n"]
        overdue += r["n"] if r["overdue"] else 0
        total += r["n"]
    return {
        "by_rule": dict(by_rule),
        "by_severity": dict(by_severity),
        "by_status": dict(by_status),
        "overdue": overdue,
        "total": total,
    }


def team_workload(*, user: User, team_id: int | None) -> list[dict]:
    """Each practitioner's caseload (open families they lead) and open prompts: one query."""
    team_id = team_id or user.team_id
    if not team_id:
        return []
    open_families = (
        Family.objects.filter(lead_professional=OuterRef("pk"), status="open")
        .values("lead_professional")
        .annotate(n=Count("id"))
        .values("n")
    )
    open_prompts = (
        EscalationPrompt.objects.filter(assigned_to=OuterRef("pk"), status__in=ACTIVE_PROMPT_STATUSES)
        .values("assigned_to")
        .annotate(n=Count("id"))
        .values("n")
    )
    overdue_prompts = open_prompts.filter(due__lt=timezone.localdate())
    return list(
        # Only a team the user may see (a `?team=` of another team shows nobody): no extra round trip.
        User.objects.filter(team_id=team_id, team_id__in=visible_teams(user).values("pk"))
        .filter(is_active=True, role__in=["practitioner", "manager"])
        .annotate(
            n_families=Coalesce(Subquery(open_families, output_field=IntegerField()), 0),
            n_prompts=Coalesce(Subquery(open_prompts, output_field=IntegerField()), 0),
            n_overdue=Coalesce(Subquery(overdue_prompts, output_field=IntegerField()), 0),
        )
        .order_by("-n_overdue", "-n_prompts", "last_name", "first_name")
        .values("id", "first_name", "last_name", "username", "role", "n_families", "n_prompts", "n_overdue")
    )


CHART_CACHE_SECONDS = 300


def chart_data_cached(*, user: User) -> dict:
    """The weekly and monthly history changes slowly, so it is cached for a few minutes per user
    (the same visibility, never another user's figures); the open prompts' ages are always live."""
    from django.core.cache import cache

    key = f"dashboard-charts:v1:{user.pk}:{timezone.localdate().isoformat()}"
    history = cache.get(key)
    if history is None:
        history = chart_history(user=user)
        cache.set(key, history, CHART_CACHE_SECONDS)
    return {**history, **prompt_ages(user=user)}


def chart_data(*, user: User) -> dict:
    return {**chart_history(user=user), **prompt_ages(user=user)}


def chart_history(*, user: User, months: int = 6) -> dict:
    """The dashboard's charts, from the project's own records, each a small grouped query:
    flags opened and resolved per week by rule; "was not brought" per agency per month; open
    prompts by age band."""
    from visits.models import Appointment, AppointmentStatus

    now = timezone.now()
    since = now - dt.timedelta(weeks=4 * months + 2)
    flags = restrict_to_visible(Flag.objects.all(), user)
    opened = (
        flags.filter(first_seen__gte=since)
        .annotate(week=TruncWeek("first_seen"))
        .values("week", "rule")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    resolved = (
        flags.filter(resolved_at__gte=since)
        .annotate(week=TruncWeek("resolved_at"))
        .values("week", "rule")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    weeks = []
    start = timezone.localdate(since) - dt.timedelta(days=timezone.localdate(since).weekday())
    day = start
    while day <= timezone.localdate(now):
        weeks.append(day)
        day += dt.timedelta(weeks=1)
    week_keys = [w.isoformat() for w in weeks]

    def series(rows) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for r in rows:
            week = r["week"]
            key = (timezone.localdate(week) if isinstance(week, dt.datetime) else week).isoformat()
            if key not in week_keys:
                continue
            out.setdefault(r["rule"], [0] * len(week_keys))[week_keys.index(key)] += r["n"]
        return out

    month_start = (timezone.localdate(now).replace(day=1) - dt.timedelta(days=31 * (months - 1))).replace(day=1)
    wnb = (
        restrict_to_visible(Appointment.objects.all(), user)
        .filter(
            status=AppointmentStatus.WAS_NOT_BROUGHT,
            scheduled_for__gte=timezone.make_aware(dt.datetime.combine(month_start, dt.time.min)),
            scheduled_for__lte=now,
        )
        .annotate(month=TruncMonth("scheduled_for"))
        .values("month", "agency__name")
        .annotate(n=Count("id"))
        .order_by("month")
    )
    month_keys = []
    m = month_start
    while m <= timezone.localdate(now):
        month_keys.append(m.strftime("%Y-%m"))
        m = (m + dt.timedelta(days=32)).replace(day=1)
    by_agency: dict[str, list[int]] = {}
    for r in wnb:
        key = (r["month"].date() if isinstance(r["month"], dt.datetime) else r["month"]).strftime("%Y-%m")
        if key in month_keys:
            by_agency.setdefault(r["agency__name"], [0] * len(month_keys))[month_keys.index(key)] += r["n"]

    return {
        "weeks": week_keys,
        "opened": series(opened),
        "resolved": series(resolved),
        "months": month_keys,
        "wnb_by_agency": by_agency,
    }


def prompt_ages(*, user: User) -> dict:
    """Open prompts by age band: live, since a decision changes it at once."""
    now = timezone.now()
    # Open prompts by age band, counted in the database (one aggregate, not a row per prompt).
    today = timezone.localdate(now)

    def day_start(days_ago: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time.min))

    band_filters = {}
    for i, (lo, hi, _label) in enumerate(AGE_BANDS):
        q = Q(created_at__lt=day_start(lo - 1)) if lo > 0 else Q()
        if hi is not None:
            q &= Q(created_at__gte=day_start(hi))
        band_filters[f"band{i}"] = Count("id", filter=q)
    counted = restrict_to_visible(EscalationPrompt.objects.filter(status__in=ACTIVE_PROMPT_STATUSES), user).aggregate(
        **band_filters
    )
    bands = [counted[f"band{i}"] for i in range(len(AGE_BANDS))]
    return {
        "age_bands": [label for _lo, _hi, label in AGE_BANDS],
        "age_counts": bands,
        "age_table": [[label, n] for (_lo, _hi, label), n in zip(AGE_BANDS, bands, strict=True)],
    }
