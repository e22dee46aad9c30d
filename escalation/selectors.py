from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter

from django.db import connection, connections
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    IntegerField,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.functional import cached_property

from audit.reads import logged_reads
from cases.access import get_visible_or_404, hidden_restricted_families, restrict_to_visible, visible_teams
from cases.models import Family, FamilyStatus, Role, Team, User

from .models import ACTIVE_PROMPT_STATUSES, EscalationPrompt, Flag, PromptEvent, PromptStatus, Severity
from .rules import RULES


def flag_list(*, user: User) -> QuerySet[Flag]:
    return restrict_to_visible(Flag.objects.all(), user).select_related("family", "member")


def flag_get_for_user(*, user: User, flag_id) -> Flag:
    return get_visible_or_404(flag_list(user=user), user=user, pk=flag_id)


def prompt_list(*, user: User) -> QuerySet[EscalationPrompt]:
    return (
        restrict_to_visible(EscalationPrompt.objects.all(), user)
        .select_related("flag", "family", "assigned_to", "escalated_to")
        .prefetch_related(Prefetch("events", queryset=PromptEvent.objects.select_related("actor").order_by("at", "id")))
    )


def prompt_get_for_user(*, user: User, prompt_id) -> EscalationPrompt:
    return get_visible_or_404(prompt_list(user=user), user=user, pk=prompt_id)


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
    open prompts by age: one query over small rows, where sorting, grouping and aggregating the
    same joined prompts took three."""

    ids: list[int]
    overdue_ids: set[int]
    counts: dict
    ages: dict | None = None

    @cached_property
    def listed(self) -> frozenset[int]:
        return frozenset(self.ids)


def dashboard_summary(*, user: User, filters: DashboardFilters, with_ages: bool = False) -> DashboardSummary:
    """The same prompts in the same order as `dashboard_prompts`, with their counts by rule,
    severity and status, and with `with_ages` the same figures as `prompt_ages` (every open prompt
    the user may see, whatever the filters): one query over small rows. Only the page's rows are
    then fetched (`dashboard_page`)."""
    now = timezone.now()
    wanted = _filters_q(user=user, filters=filters)
    active = Q(status__in=ACTIVE_PROMPT_STATUSES)
    qs = restrict_to_visible(EscalationPrompt.objects.all(), user)
    annotations = _order_annotations(timezone.localdate(now))
    names = ["id", "status", "flag__rule", "flag__severity", "overdue"]
    every_row_listed = True
    if not with_ages:
        qs = qs.filter(wanted)
    elif wanted == active:  # the default list is the open prompts themselves
        qs = qs.filter(active)
    elif wanted:  # the list, and the open prompts for their ages
        qs = qs.filter(wanted | active)
        annotations["in_list"] = ExpressionWrapper(wanted, output_field=BooleanField())
        names.append("in_list")
        every_row_listed = False
    # (no filter at all: every prompt the user may see is listed, the open ones among them)
    if with_ages:
        annotations["age_band"] = Case(
            *(When(q, then=Value(i)) for i, q in enumerate(_age_band_filters(now))),
            default=None,
            output_field=IntegerField(),
        )
        names.append("age_band")
    # Sorted in the database, and no timestamp in the rows (turning ~1,000 timestamps into Python
    # datetimes costs more than the query itself); the ORM's SQL run on a plain cursor, since
    # values_list() costs more per row than fetching it.
    qs = qs.annotate(**annotations).order_by(*DASHBOARD_ORDER).values_list(*names)
    sql, params = qs.query.get_compiler(qs.db).as_sql()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        position = {column[0]: i for i, column in enumerate(cursor.description)}  # DB-API: name first
        order = [position[name] for name in names]
        rows = cursor.fetchall()
    if order != list(range(len(position))):  # not exactly `names`, in that order
        rows = [*map(itemgetter(*order), rows)]
    # Each row: id, status, rule, severity, overdue[, in_list][, age_band], as in `names`.
    listed = rows if every_row_listed else [r for r in rows if r[5]]
    by_rule: dict[str, int] = defaultdict(int)
    by_severity: dict[str, int] = defaultdict(int)
    by_status: dict[str, int] = defaultdict(int)
    for _id, status, rule, severity, _overdue, *_rest in listed:
        by_rule[rule] += 1
        by_severity[severity] += 1
        by_status[status] += 1
    overdue_ids = {r[0] for r in listed if r[4]}
    counts = {
        # In the order the filter offers them (the database's grouping had none).
        "by_rule": _in_order(by_rule, RULES),
        "by_severity": _in_order(by_severity, Severity.values),
        "by_status": _in_order(by_status, PromptStatus.values),
        "overdue": len(overdue_ids),
        "total": len(listed),
    }
    ages = None
    if with_ages:
        bands = [0] * len(AGE_BANDS)
        for r in rows:
            if r[1] in ACTIVE_PROMPT_STATUSES and r[-1] is not None:
                bands[r[-1]] += 1
        ages = _age_figures(bands)
    return DashboardSummary(ids=[r[0] for r in listed], overdue_ids=overdue_ids, counts=counts, ages=ages)


def _in_order(counts: dict[str, int], order) -> dict[str, int]:
    rank = {code: i for i, code in enumerate(order)}
    return {code: counts[code] for code in sorted(counts, key=lambda c: (rank.get(c, len(rank)), c))}


# What the prompt table shows (templates/escalation/_prompt_table.html) and the read audit needs.
DASHBOARD_PAGE_FIELDS = (
    "id",
    "family_id",
    "level",
    "status",
    "due",
    "created_at",
    "flag__rule",
    "flag__severity",
    "family__name",
    "family__reference",
    "assigned_to_id",
    "assigned_to__username",
    "assigned_to__first_name",
    "assigned_to__last_name",
)


def dashboard_page(*, summary: DashboardSummary, ids: Iterable[int], read_by: User | None = None) -> list[dict]:
    """The rows (DASHBOARD_PAGE_FIELDS) of a page of `summary.ids`, in that order: plain rows, at a
    third of the cost of four model instances a row. `read_by`: the user whose read of the rows
    the same query writes to the audit log (audit.reads).

    Only ids of the summary are fetched, so only prompts `dashboard_summary` found through
    `restrict_to_visible` a moment ago: restricting again here made PostgreSQL walk all of the
    team's families for 25 rows (2 ms of the page)."""
    listed = summary.listed
    ids = [pk for pk in ids if pk in listed]
    if not ids:
        return []
    rows = EscalationPrompt.objects.filter(pk__in=ids).order_by().values(*DASHBOARD_PAGE_FIELDS)
    if read_by is not None:
        rows = logged_reads(rows, actor=read_by)
    found = {row["id"]: row for row in rows}
    return [found[pk] for pk in ids if pk in found]


def team_members(*, team_id: int | None) -> list[dict]:
    """The team's practitioners and managers (who prompts are assigned to), by name. (No team:
    those of no team, as the filter's "Assigned to" has always offered an admin without one.)"""
    return list(
        User.objects.filter(team_id=team_id, is_active=True, role__in=[Role.PRACTITIONER, Role.MANAGER])
        .order_by("last_name", "first_name")
        .values("id", "first_name", "last_name", "username", "role")
    )


# `{hidden}`: the restricted families the viewer is not named on (`hidden_restricted_families`),
# left out of both counts so a person's workload never counts a family the viewer may not see.
_WORKLOAD_SQL = f"""
SELECT 'families', lead_professional_id, COUNT(*), 0
FROM {Family._meta.db_table}
WHERE lead_professional_id = ANY(%s) AND status = %s AND NOT (id IN ({{hidden}}))
GROUP BY lead_professional_id
UNION ALL
SELECT 'prompts', assigned_to_id, COUNT(*), COUNT(*) FILTER (WHERE due < %s)
FROM {EscalationPrompt._meta.db_table}
WHERE assigned_to_id = ANY(%s) AND status = ANY(%s) AND NOT (family_id IN ({{hidden}}))
GROUP BY assigned_to_id
"""  # noqa: S608 - table names from the models, values as parameters


def _workload_counts(ids: list[int], *, today: dt.date, viewer: User) -> list[tuple[str, int, int, int]]:
    """(kind, person, count, overdue) rows: 'families' each person leads (open), 'prompts' assigned
    to each (active, and how many of them overdue), of the families `viewer` may see if restricted."""
    active = [status.value for status in ACTIVE_PROMPT_STATUSES]
    hidden = hidden_restricted_families(viewer).values("pk")
    if connection.vendor == "postgresql":
        # Both counts in one round trip, in plain SQL: building the two grouped queries with the
        # ORM cost ~3 ms of CPU a page on the benchmark machine, this ~0.5 ms.
        hidden_sql, hidden_params = hidden.query.get_compiler(connection.alias).as_sql()
        with connection.cursor() as cursor:
            cursor.execute(
                _WORKLOAD_SQL.format(hidden=hidden_sql),
                [ids, FamilyStatus.OPEN.value, *hidden_params, today, ids, active, *hidden_params],
            )
            return cursor.fetchall()
    # Elsewhere (SQLite, the demo's embedded default: no `= ANY(array)`), the same counts by the ORM.
    families = (
        Family.objects.filter(lead_professional_id__in=ids, status=FamilyStatus.OPEN)
        .exclude(pk__in=hidden)
        .values_list("lead_professional_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    prompts = (
        EscalationPrompt.objects.filter(assigned_to_id__in=ids, status__in=active)
        .exclude(family_id__in=hidden)
        .values_list("assigned_to_id")
        .annotate(n=Count("id"), overdue=Count("id", filter=Q(due__lt=today)))
        .order_by()
    )
    return [("families", pk, n, 0) for pk, n in families] + [("prompts", pk, n, o) for pk, n, o in prompts]


def team_workload(
    *, user: User, team_id: int | None, teams: Iterable[Team] | None = None, members: list[dict] | None = None
) -> list[dict]:
    """Each practitioner's caseload (open families they lead) and open prompts, the most overdue
    first. `teams`: `visible_team_list(user=user)` and `members`: `team_members(team_id=...)` of
    the same team, when the caller already has them."""
    team_id = team_id or user.team_id
    if not team_id:
        return []
    # Only a team the user may see (a `?team=` of another team shows nobody).
    if teams is None:
        teams = visible_team_list(user=user)
    if team_id not in {t.pk for t in teams}:
        return []
    people = [dict(m) for m in (members if members is not None else team_members(team_id=team_id))]
    ids = [m["id"] for m in people]
    families: dict[int, int] = {}
    prompts: dict[int, tuple[int, int]] = {}
    if ids:
        for kind, pk, n, overdue in _workload_counts(ids, today=timezone.localdate(), viewer=user):
            if kind == "families":
                families[pk] = n
            else:
                prompts[pk] = (n, overdue)
    for m in people:
        m["n_families"] = families.get(m["id"], 0)
        m["n_prompts"], m["n_overdue"] = prompts.get(m["id"], (0, 0))
    # Stable: people with as many overdue and open prompts stay in order of name.
    people.sort(key=lambda m: (-m["n_overdue"], -m["n_prompts"]))
    return people


CHART_CACHE_SECONDS = 300


def visible_team_list(*, user: User) -> list[Team]:
    """The teams whose families the user may see, by name: the filter's choices and the charts'
    cache scope (one query for both)."""
    return list(visible_teams(user).order_by("name"))


def chart_scope(*, user: User, teams: Iterable[Team]) -> str:
    """Whose figures a cached chart history holds. The history counts flags and appointments of
    the families `restrict_to_visible` lets the user see. For a manager (a team manager, a head of
    service, a partnership lead) those are the families of exactly the teams `visible_teams`
    returns (the same rule in cases.access), so the managers who see the same set of teams see the
    same figures and share one entry; every admin sees every family. Anyone else: their own."""
    if not user.is_active or user.role not in (Role.ADMIN, Role.MANAGER) and not user.is_platform_admin:
        return f"user:{user.pk}"
    # Restricted families are seen only by those named on them, whatever their teams: the scope
    # names the ones this user may not see, so only people with the same view share an entry.
    hidden = ",".join(str(pk) for pk in hidden_restricted_families(user).order_by("pk").values_list("pk", flat=True))
    if user.is_platform_admin:
        return f"all;hidden:{hidden}"
    return "teams:" + ",".join(str(pk) for pk in sorted({t.pk for t in teams})) + f";hidden:{hidden}"


def chart_data_cached(*, user: User, teams: Iterable[Team] | None = None, ages: dict | None = None) -> dict:
    """The weekly and monthly history changes slowly, so it is cached for a few minutes per
    visibility scope (`chart_scope`: the same families, never figures of a family the user may not
    see); the open prompts' ages are always live (`ages`: already counted by `dashboard_summary`).
    `teams`: `visible_team_list(user=user)`, when the caller already has it."""
    from django.core.cache import cache

    if teams is None:
        teams = visible_team_list(user=user)
    scope = chart_scope(user=user, teams=teams)
    digest = hashlib.sha256(scope.encode()).hexdigest()[:32]
    key = f"dashboard-charts:v2:{digest}:{timezone.localdate().isoformat()}"
    history = cache.get(key)
    if history is None:
        history = chart_history(user=user)
        # Shared only if the user's visibility did not change while it was counted (a head of
        # service appointed meanwhile): an entry never holds more than its key says.
        if chart_scope(user=user, teams=visible_team_list(user=user)) == scope:
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
