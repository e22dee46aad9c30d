from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.shortcuts import get_object_or_404
from django.utils import timezone

from cases.access import restrict_to_visible, visible_teams
from cases.models import Family, Role, Team, User

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


def _filters_q(*, user: User, filters: DashboardFilters) -> Q:
    """The dashboard's filters as one condition (empty: no filter), shared by the list, its counts
    and the CSV export so they can never disagree."""
    q = Q()
    if filters.mine:
        q &= Q(assigned_to=user)
    if filters.status == "active":
        q &= Q(status__in=ACTIVE_PROMPT_STATUSES)
    elif filters.status:
        q &= Q(status=filters.status)
    if filters.team:
        q &= Q(family__team_id=filters.team)
    if filters.assigned_to:
        q &= Q(assigned_to_id=filters.assigned_to)
    if filters.rule:
        q &= Q(flag__rule=filters.rule)
    if filters.severity:
        q &= Q(flag__severity=filters.severity)
    if filters.min_age_days:
        q &= Q(created_at__lte=timezone.now() - dt.timedelta(days=filters.min_age_days))
    return q


def _order_annotations(today: dt.date) -> dict:
    """`overdue` and `severity_rank`, which the dashboard's order (DASHBOARD_ORDER) sorts on."""
    return {
        "overdue": Case(
            When(status__in=ACTIVE_PROMPT_STATUSES, due__lt=today, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
        "severity_rank": Case(
            When(flag__severity="high", then=Value(1)), default=Value(0), output_field=IntegerField()
        ),
    }


# Overdue first, then high before medium, then the oldest first: what matters most is at the top.
DASHBOARD_ORDER = ("-overdue", "-severity_rank", "created_at", "id")


def dashboard_prompts(*, user: User, filters: DashboardFilters) -> QuerySet[EscalationPrompt]:
    """Prompts for the dashboard: those of the families the user may see (a manager's team; a head
    of service's agency). Overdue first, then high before medium, then
    the oldest first: what matters most is at the top."""
    # Whoever a prompt is assigned to can see its family (team, head of service's agency, or share).
    qs = restrict_to_visible(EscalationPrompt.objects.all(), user).filter(_filters_q(user=user, filters=filters))
    return (
        qs.select_related("flag", "family", "assigned_to")
        .annotate(**_order_annotations(timezone.localdate()))
        .order_by(*DASHBOARD_ORDER)
    )


@dataclass
class DashboardSummary:
    """The filtered list as ids in the dashboard's order, its counts, and (when asked for) the
    open prompts by age: all from one query over small rows, instead of sorting, grouping and
    aggregating the same joined prompts three times in the database."""

    ids: list[int]
    counts: dict
    ages: dict | None = None


def dashboard_summary(*, user: User, filters: DashboardFilters, with_ages: bool = False) -> DashboardSummary:
    """The same prompts, order and counts as `dashboard_prompts` and `dashboard_counts`, and with
    `with_ages` the same figures as `prompt_ages` (every open prompt the user may see, whatever
    the filters), in one round trip. Only the page's rows are then fetched whole
    (`dashboard_page`)."""
    now = timezone.now()
    wanted = _filters_q(user=user, filters=filters)
    qs = restrict_to_visible(EscalationPrompt.objects.all(), user)
    annotations = _order_annotations(timezone.localdate(now))
    if with_ages:
        active = Q(status__in=ACTIVE_PROMPT_STATUSES)
        if wanted:
            qs = qs.filter(wanted | active)
            annotations["in_list"] = ExpressionWrapper(wanted, output_field=BooleanField())
        else:  # no filter at all: every visible prompt is listed (an empty Q would mean "none" in `|`)
            annotations["in_list"] = Value(True, output_field=BooleanField())
        annotations["age_band"] = Case(
            *(When(active & q, then=Value(i)) for i, q in enumerate(_age_band_filters(now))),
            default=None,
            output_field=IntegerField(),
        )
        fields = ("in_list", "age_band")
    else:
        qs = qs.filter(wanted)
        fields = ()
    rows = list(
        qs.annotate(**annotations).values_list(
            "id", "status", "flag__rule", "flag__severity", "created_at", "overdue", "severity_rank", *fields
        )
    )
    listed = [r for r in rows if r[7]] if with_ages else rows
    # Python sorts as PostgreSQL does here: integers, non-null timestamps, then the id.
    listed.sort(key=lambda r: (-r[5], -r[6], r[4], r[0]))
    by_rule: dict[str, int] = defaultdict(int)
    by_severity: dict[str, int] = defaultdict(int)
    by_status: dict[str, int] = defaultdict(int)
    overdue = 0
    for r in listed:
        by_rule[r[2]] += 1
        by_severity[r[3]] += 1
        by_status[r[1]] += 1
        overdue += r[5]
    counts = {
        "by_rule": dict(by_rule),
        "by_severity": dict(by_severity),
        "by_status": dict(by_status),
        "overdue": overdue,
        "total": len(listed),
    }
    ages = None
    if with_ages:
        bands = [0] * len(AGE_BANDS)
        for r in rows:
            if r[8] is not None:
                bands[r[8]] += 1
        ages = _age_figures(bands)
    return DashboardSummary(ids=[r[0] for r in listed], counts=counts, ages=ages)


def dashboard_page(*, user: User, ids: list[int]) -> list[EscalationPrompt]:
    """The page's prompts, whole, in the order of `ids` (from `dashboard_summary`), with `overdue`."""
    if not ids:
        return []
    found = (
        restrict_to_visible(EscalationPrompt.objects.filter(pk__in=ids), user)
        .select_related("flag", "family", "assigned_to")
        .annotate(**_order_annotations(timezone.localdate()))
        .in_bulk()
    )
    return [found[pk] for pk in ids if pk in found]


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


def visible_team_list(*, user: User) -> list[Team]:
    """The teams whose families the user may see, by name: the filter's choices and the charts'
    cache scope (one query for both)."""
    return list(visible_teams(user).order_by("name"))


def chart_scope(*, user: User, teams: Iterable[Team]) -> str:
    """Whose chart figures these are. The history counts flags and appointments of the families
    `restrict_to_visible` lets the user see, and for a manager (a head of service, a partnership
    lead) that is exactly the families of `visible_teams` (the same rule in cases.access), so
    every manager with the same set of visible teams sees the same figures and can share one cache
    entry; an admin sees every family. Anyone else gets an entry of their own."""
    if user.is_active and user.is_platform_admin:
        return "all"
    if user.is_active and user.role == Role.MANAGER:
        return "teams:" + ",".join(str(pk) for pk in sorted({t.pk for t in teams}))
    return f"user:{user.pk}"


def chart_data_cached(*, user: User, teams: Iterable[Team] | None = None, ages: dict | None = None) -> dict:
    """The weekly and monthly history changes slowly, so it is cached for a few minutes per
    visibility scope (`chart_scope`: the same families, never figures of a family the user may not
    see); the open prompts' ages are always live (`ages`: already counted by `dashboard_summary`).
    `teams`: `visible_team_list(user=user)`, when the caller already has it."""
    from django.core.cache import cache

    if teams is None:
        teams = visible_team_list(user=user)
    scope = hashlib.sha256(chart_scope(user=user, teams=teams).encode()).hexdigest()[:32]
    key = f"dashboard-charts:v2:{scope}:{timezone.localdate().isoformat()}"
    history = cache.get(key)
    if history is None:
        history = chart_history(user=user)
        cache.set(key, history, CHART_CACHE_SECONDS)
    return {**history, **(ages if ages is not None else prompt_ages(user=user))}


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


def _age_band_filters(now: dt.datetime) -> list[Q]:
    """One condition on `created_at` per band of AGE_BANDS, whole local days."""
    today = timezone.localdate(now)

    def day_start(days_ago: int) -> dt.datetime:
        return timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time.min))

    filters = []
    for lo, hi, _label in AGE_BANDS:
        q = Q(created_at__lt=day_start(lo - 1)) if lo > 0 else Q()
        if hi is not None:
            q &= Q(created_at__gte=day_start(hi))
        filters.append(q)
    return filters


def _age_figures(bands: list[int]) -> dict:
    return {
        "age_bands": [label for _lo, _hi, label in AGE_BANDS],
        "age_counts": bands,
        "age_table": [[label, n] for (_lo, _hi, label), n in zip(AGE_BANDS, bands, strict=True)],
    }


def prompt_ages(*, user: User) -> dict:
    """Open prompts by age band: live, since a decision changes it at once."""
    # Open prompts by age band, counted in the database (one aggregate, not a row per prompt).
    band_filters = {f"band{i}": Count("id", filter=q) for i, q in enumerate(_age_band_filters(timezone.now()))}
    counted = restrict_to_visible(EscalationPrompt.objects.filter(status__in=ACTIVE_PROMPT_STATUSES), user).aggregate(
        **band_filters
    )
    return _age_figures([counted[f"band{i}"] for i in range(len(AGE_BANDS))])
