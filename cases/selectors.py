"""Reads of the case record. Every selector starts from what the user may see (`cases.access`)
and shapes the query so a page or API response costs a bounded number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import models
from django.db.models import Prefetch, QuerySet

from .access import get_visible_or_404, restrict_to_visible, visible_families
from .models import (
    CaseNote,
    Family,
    FamilyShare,
    InformationGap,
    LeadProfessionalAssignment,
    Member,
    Relationship,
    Role,
    User,
)


def family_list(*, user: User) -> QuerySet[Family]:
    return (
        visible_families(user)
        .select_related("team__agency", "lead_professional__agency")
        .prefetch_related(Prefetch("members", queryset=Member.objects.order_by("id")))
    )


# The columns of a member that a family's list entry shows (`MemberBriefSerializer`).
MEMBER_BRIEF_FIELDS = ("id", "family_id", "given_name", "family_name", "role", "date_of_birth", "lives_in_household")


def family_list_brief(*, user: User) -> QuerySet[Family]:
    """Families as a list shows them: the family's own columns, no joins, and in `member_rows`
    each member's brief columns. One query for the families and one for all their members; the
    members go straight into a list (`to_attr`), where a prefetch into `family.members` builds a
    queryset per family (a third of a 50-family API page's time)."""
    members = Member.objects.only(*MEMBER_BRIEF_FIELDS).order_by("id")
    return visible_families(user).prefetch_related(Prefetch("members", queryset=members, to_attr="member_rows"))


def family_get_for_user(*, user: User, family_id) -> Family:
    """The family if the user may see it, else 404 (never 403: ids must not be probeable)."""
    return get_visible_or_404(family_list(user=user), user=user, family_field="", pk=family_id)


def member_list(*, user: User, family: Family | None = None) -> QuerySet[Member]:
    qs = restrict_to_visible(Member.objects.all(), user)
    if family is not None:
        qs = qs.filter(family=family)
    return qs.select_related("family")


def member_get_for_user(*, user: User, member_id) -> Member:
    return get_visible_or_404(member_list(user=user), user=user, pk=member_id)


def relationship_list(*, family: Family) -> QuerySet[Relationship]:
    return family.relationships.select_related("from_member", "to_member").order_by("id")


def gap_list(*, family: Family, include_resolved: bool = False) -> QuerySet[InformationGap]:
    qs = family.gaps.select_related("member")
    return qs if include_resolved else qs.filter(resolved_at__isnull=True)


def share_list(*, user: User, family: Family) -> QuerySet[FamilyShare]:
    """The owning team and admins see every share; a partner sees only its own agency's."""
    qs = family.shares.select_related("agency").order_by("-starts", "-id")
    if user.role == Role.PARTNER:
        qs = qs.filter(agency_id=user.agency_id)
    return qs


def lead_history(*, family: Family) -> QuerySet[LeadProfessionalAssignment]:
    return family.lead_history.select_related("user__agency", "assigned_by")


# --- chronology ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChronologyEntry:
    at: dt.datetime
    kind: str
    summary: str
    agency: str
    record_id: int
    updated_at: dt.datetime


CHRONOLOGY_KINDS = ("referral", "visit", "appointment", "lead_professional", "share", "note", "flag", "prompt")


def _person(first: str | None, last: str | None, username: str | None) -> str:
    """`str(user)` from its columns: the full name, else the username."""
    return f"{first or ''} {last or ''}".strip() or (username or "")


def family_chronology(
    *,
    user: User,
    family: Family,
    kinds: set[str] | None = None,
    agency_id: int | None = None,
    updated_since: dt.datetime | None = None,
    shares: list[FamilyShare] | None = None,
) -> list[ChronologyEntry]:
    """One time-ordered view of the family across agencies, derived from the records.

    One query per source, whatever the family's size, each reading only the columns its summary
    needs (no model instances). `shares`, the family's shares with their agencies when the caller
    has them already (the family page does), saves the shares query. The confidential referrer is
    never read, so the chronology is safe to show anyone who may see the family.
    """
    from escalation.models import PromptEventKind, PromptLevel
    from referrals.models import Concern, ReferralDecision, ReferralSource
    from visits.models import AppointmentKind, AppointmentStatus, VisitStatus

    kinds = set(kinds or CHRONOLOGY_KINDS)
    entries: list[ChronologyEntry] = []
    add = entries.append
    home_agency = family.team.agency

    def wanted(kind: str, entry_agency_id: int | None) -> bool:
        return kind in kinds and (agency_id is None or entry_agency_id == agency_id)

    def since(qs: QuerySet) -> QuerySet:
        return qs.filter(updated_at__gte=updated_since) if updated_since else qs

    if wanted("referral", home_agency.pk):
        decisions = dict(ReferralDecision.choices)
        concern_labels = {value: label.lower() for value, label in Concern.choices}
        for pk, received_at, source, concerns, decision, updated_at in since(family.referrals.all()).values_list(
            "pk", "received_at", "source", "concerns", "decision", "updated_at"
        ):
            named = ", ".join(concern_labels[c] for c in concerns if c in concern_labels)
            summary = f"Referral from {ReferralSource(source).label.lower()}: {named}."
            if decision:
                summary += f" Decision: {str(decisions.get(decision, decision)).lower()}."
            add(ChronologyEntry(received_at, "referral", summary, home_agency.name, pk, updated_at))

    if "visit" in kinds:
        visits = since(family.visits.all())
        if agency_id is not None:
            visits = visits.filter(agency_id=agency_id)
        for pk, at, planned, status, purpose, agency_name, updated_at in visits.values_list(
            "pk", "scheduled_for", "planned", "status", "purpose", "agency__name", "updated_at"
        ):
            summary = f"{'Planned' if planned else 'Unplanned'} visit: {VisitStatus(status).label.lower()}."
            if purpose:
                summary += f" Purpose: {purpose}"
            add(ChronologyEntry(at, "visit", summary, agency_name, pk, updated_at))

    if "appointment" in kinds:
        appointments = since(family.appointments.all())
        if agency_id is not None:
            appointments = appointments.filter(agency_id=agency_id)
        for pk, at, given, family_name, kind, critical, status, agency_name, updated_at in appointments.values_list(
            "pk",
            "scheduled_for",
            "member__given_name",
            "member__family_name",
            "kind",
            "critical",
            "status",
            "agency__name",
            "updated_at",
        ):
            summary = (
                f"{given} {family_name}: {AppointmentKind(kind).label}{' (critical)' if critical else ''} — "
                f"{AppointmentStatus(status).label.lower()}."
            )
            add(ChronologyEntry(at, "appointment", summary, agency_name, pk, updated_at))

    if "lead_professional" in kinds:
        history = family.lead_history.all()
        if agency_id is not None:
            history = history.filter(user__agency_id=agency_id)
        for pk, started_at, ended_at, first, last, username, agency_name in history.values_list(
            "pk",
            "started_at",
            "ended_at",
            "user__first_name",
            "user__last_name",
            "user__username",
            "user__agency__name",
        ):
            updated = ended_at or started_at
            if updated_since and updated < updated_since:
                continue
            summary = f"{_person(first, last, username)} became lead professional."
            add(ChronologyEntry(started_at, "lead_professional", summary, agency_name or "", pk, updated))

    if "share" in kinds and wanted("share", home_agency.pk):
        # A partner sees only its own agency's shares, here as in the shares list.
        if shares is None:
            shares = list(share_list(user=user, family=family))
        elif user.role == Role.PARTNER:
            shares = [s for s in shares if s.agency_id == user.agency_id]
        for s in shares:
            if updated_since and s.updated_at < updated_since:
                continue
            summary = f"Record shared with {s.agency.name}: {s.purpose}"
            if s.ends:
                summary += f" (until {s.ends:%-d %b %Y})"
            started = dt.datetime.combine(s.starts, dt.time.min, tzinfo=dt.UTC)
            add(ChronologyEntry(max(started, s.created_at), "share", summary, home_agency.name, s.pk, s.updated_at))
            if s.ended_at:
                ended = f"Sharing with {s.agency.name} ended."
                add(ChronologyEntry(s.ended_at, "share", ended, home_agency.name, s.pk, s.updated_at))

    if "note" in kinds:
        notes = since(CaseNote.objects.filter(family=family))
        if agency_id is not None:
            notes = notes.filter(agency_id=agency_id)
        rows = notes.values_list("pk", "at", "text", "agency__name", "updated_at")
        for pk, at, text, agency_name, updated_at in rows:
            add(ChronologyEntry(at, "note", text, agency_name or "", pk, updated_at))

    if "flag" in kinds and agency_id in (None, home_agency.pk):
        from escalation.models import Flag

        for pk, first_seen, severity, detail, resolved_at, rule, updated_at in since(
            Flag.objects.filter(family=family)
        ).values_list("pk", "first_seen", "severity", "detail", "resolved_at", "rule", "updated_at"):
            add(ChronologyEntry(first_seen, "flag", f"Flag raised ({severity}): {detail}", "", pk, updated_at))
            if resolved_at:
                resolved = f"Flag resolved: {rule.replace('_', ' ')}."
                add(ChronologyEntry(resolved_at, "flag", resolved, "", pk, updated_at))

    if "prompt" in kinds and agency_id in (None, home_agency.pk):
        from escalation.models import PromptEvent

        events = PromptEvent.objects.filter(prompt__family=family)
        if updated_since:
            events = events.filter(at__gte=updated_since)
        levels, event_kinds = dict(PromptLevel.choices), dict(PromptEventKind.choices)
        for row in events.values_list(
            "pk",
            "at",
            "kind",
            "action_taken",
            "rationale",
            "reason",
            "prompt__level",
            "prompt__flag__rule",
            "actor_id",
            "actor__first_name",
            "actor__last_name",
            "actor__username",
        ):
            pk, at, kind, action_taken, rationale, reason, level, rule, actor_id, first, last, username = row
            who = f" by {_person(first, last, username)}" if actor_id else ""
            summary = (
                f"Escalation prompt ({levels.get(level, level).lower()}) {event_kinds.get(kind, kind).lower()}{who}"
                f" — {rule.replace('_', ' ')}."
            )
            for label, text in (("Action", action_taken), ("Rationale", rationale), ("Reason", reason)):
                if text:
                    summary += f" {label}: {text}"
            add(ChronologyEntry(at, "prompt", summary, home_agency.name, pk, at))

    entries.sort(key=lambda e: (e.at, e.kind, e.record_id), reverse=True)
    return entries


# --- pages -------------------------------------------------------------------------------------

CASELOAD_SORTS = {
    "name": ("name", "id"),
    "level": ("level", "name", "id"),
    # Never visited first: they need attention most.
    "last_visit": (models.F("last_visit").asc(nulls_first=True), "name", "id"),
    "next_visit": ("next_visit", "name", "id"),
    "flags": ("-high_flags", "-medium_flags", "name", "id"),
}


def caseload(*, user: User, level: str = "", status: str = "open", sort: str = "flags", mine_only: bool = False):
    """My caseload: the families I lead first, then my team's (or, for a partner, those shared with
    my agency), each with its last visit, next planned visit and open flags by severity.

    The annotations are correlated subqueries (not joins) so a family with many visits costs no more
    rows; the page's slice is all that is computed when sorting by name or level.
    """
    from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When
    from django.db.models.functions import Coalesce
    from django.utils import timezone

    from escalation.models import Flag
    from visits.models import Visit, VisitStatus

    now = timezone.now()
    qs = visible_families(user).select_related("lead_professional")
    if status:
        qs = qs.filter(status=status)
    if level:
        qs = qs.filter(level=level)
    if mine_only:
        qs = qs.filter(lead_professional=user)
    visits = Visit.objects.filter(family_id=OuterRef("pk"))
    open_flags = Flag.objects.filter(family_id=OuterRef("pk"), status="open").values("family_id")

    def flag_count(severity: str):
        return Coalesce(
            Subquery(
                open_flags.filter(severity=severity).annotate(n=models.Count("id")).values("n"),
                output_field=IntegerField(),
            ),
            0,
        )

    qs = qs.annotate(
        is_mine=Case(When(lead_professional_id=user.pk, then=Value(0)), default=Value(1), output_field=IntegerField()),
        last_visit=Subquery(
            visits.filter(status=VisitStatus.COMPLETED, scheduled_for__lte=now)
            .order_by("-scheduled_for")
            .values("scheduled_for")[:1]
        ),
        next_visit=Subquery(
            visits.filter(status=VisitStatus.SCHEDULED, planned=True, scheduled_for__gte=now)
            .order_by("scheduled_for")
            .values("scheduled_for")[:1]
        ),
        high_flags=flag_count("high"),
        medium_flags=flag_count("medium"),
    )
    return qs.order_by("is_mine", *CASELOAD_SORTS.get(sort, CASELOAD_SORTS["flags"]))


@dataclass
class Involved:
    """One agency in the team around the family, with the professionals known to be involved."""

    agency_id: int
    agency: str
    kind: str
    phone: str
    roles: set[str]
    people: dict[int, dict]


def team_around_family(*, user: User, family: Family, shares: list[FamilyShare] | None = None) -> list[Involved]:
    """Every agency and professional involved with the family in the last year, with contacts:
    the owning team, the lead professional, whoever visited, the agencies of appointments and those
    the record is shared with (Child K, seed 004: "find out about each other's roles"). Three queries,
    two when the caller passes the family's `shares` (with their agencies) it has already read."""
    from django.utils import timezone

    from visits.models import Appointment, Visit

    since = timezone.now() - dt.timedelta(days=365)
    found: dict[int, Involved] = {}

    def agency(agency_id, name, kind, phone) -> Involved:
        return found.setdefault(agency_id, Involved(agency_id, name, kind, phone or "", set(), {}))

    def person(entry: Involved, user_id, first, last, title, phone, email, role):
        p = entry.people.setdefault(
            user_id, {"name": f"{first} {last}".strip(), "title": title, "phone": phone, "email": email, "roles": set()}
        )
        p["roles"].add(role)

    home = family.team.agency
    entry = agency(home.pk, home.name, home.kind, home.phone)
    entry.roles.add(f"owning team: {family.team.name}")
    lead = family.lead_professional
    if lead is not None and lead.agency is not None:
        e = agency(lead.agency_id, lead.agency.name, lead.agency.kind, lead.agency.phone)
        person(e, lead.pk, lead.first_name, lead.last_name, lead.job_title, lead.phone, lead.email, "lead professional")
    for row in (
        Visit.objects.filter(family=family, scheduled_for__gte=since)
        .values(
            "agency_id",
            "agency__name",
            "agency__kind",
            "agency__phone",
            "practitioner_id",
            "practitioner__first_name",
            "practitioner__last_name",
            "practitioner__job_title",
            "practitioner__phone",
            "practitioner__email",
        )
        .distinct()
    ):
        e = agency(row["agency_id"], row["agency__name"], row["agency__kind"], row["agency__phone"])
        e.roles.add("visits")
        if row["practitioner_id"]:
            person(
                e,
                row["practitioner_id"],
                row["practitioner__first_name"],
                row["practitioner__last_name"],
                row["practitioner__job_title"],
                row["practitioner__phone"],
                row["practitioner__email"],
                "visits",
            )
    for row in (
        Appointment.objects.filter(family=family, scheduled_for__gte=since)
        .values("agency_id", "agency__name", "agency__kind", "agency__phone")
        .distinct()
    ):
        agency(row["agency_id"], row["agency__name"], row["agency__kind"], row["agency__phone"]).roles.add(
            "appointments"
        )
    if shares is None:
        from .access import current_shares

        current = list(current_shares().filter(family=family).select_related("agency"))
    else:
        today = timezone.localdate()
        current = [s for s in shares if s.is_current(today)]
    if user.role == Role.PARTNER:
        # A partner sees only its own agency's share, as in the shares list and the chronology.
        current = [s for s in current if s.agency_id == user.agency_id]
    for share in current:
        agency(share.agency_id, share.agency.name, share.agency.kind, share.agency.phone).roles.add(
            "record shared" + (f" until {share.ends:%-d %b %Y}" if share.ends else "")
        )
    return sorted(found.values(), key=lambda e: (e.agency_id != home.pk, e.agency))


def household(*, family: Family) -> dict:
    """The people in the family record, split into who lives in the household and who does not,
    each with their parents and partners by name. Uses the family's prefetched members plus one
    query for relationships."""
    members = list(family.members.all())
    by_id = {m.pk: m for m in members}
    parents: dict[int, list[Member]] = {}
    partners: dict[int, list[Member]] = {}
    for rel in family.relationships.all():
        if rel.kind == "parent_of":
            parents.setdefault(rel.to_member_id, []).append(by_id.get(rel.from_member_id))
        else:
            partners.setdefault(rel.from_member_id, []).append(by_id.get(rel.to_member_id))
            partners.setdefault(rel.to_member_id, []).append(by_id.get(rel.from_member_id))
    rows = [
        {
            "member": m,
            "parents": [p for p in parents.get(m.pk, []) if p],
            "partners": [p for p in partners.get(m.pk, []) if p],
        }
        for m in members
    ]
    return {
        "in_household": [r for r in rows if r["member"].lives_in_household],
        "elsewhere": [r for r in rows if not r["member"].lives_in_household],
        "has_relationships": bool(parents or partners),
    }


def family_gaps_now(*, family: Family, unresolved_gaps: list[InformationGap]) -> list[dict]:
    """What is missing about the family right now, worked out by the rule the checks run
    (escalation/rules/missing_family_details.py), so the page and the flag never disagree. Reads
    the family's members and relationships as prefetched and its unresolved gaps as given: no query."""
    from django.utils import timezone

    from escalation.rules.missing_family_details import issues_for_family

    if family.status != "open":
        return []
    return issues_for_family(
        family=family,
        members=family.members.all(),
        relationships=family.relationships.all(),
        unresolved_gaps=unresolved_gaps,
        today=timezone.localdate(),
    )


SEARCH_LIMIT = 30
SIMILARITY = 0.3


def search_people(*, user: User, query: str) -> list[Member]:
    """People in families the user may see whose name or alias is like `query`, best first.

    On PostgreSQL by trigram similarity (pg_trgm), so 'Kai Smyth' finds 'Kye Smith'; elsewhere (the
    SQLite demo) by a plain case-insensitive match on each word.
    """
    from django.db import connection
    from django.db.models import F, Q, TextField, Value
    from django.db.models.functions import Cast, Concat, Greatest

    qs = restrict_to_visible(Member.objects.all(), user).select_related("family")
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity

        qs = qs.annotate(
            full=Concat(F("given_name"), Value(" "), F("family_name"), output_field=TextField()),
            alias_text=Cast("aliases", TextField()),
        ).annotate(
            score=Greatest(
                TrigramSimilarity("full", query),
                TrigramWordSimilarity(query, "alias_text"),
                TrigramWordSimilarity(query, "family__name"),
            )
        )
        matches = Q(score__gte=SIMILARITY) | Q(family__reference__iexact=query)
        return list(qs.filter(matches).order_by("-score", "family_name", "id")[:SEARCH_LIMIT])
    words = [w for w in query.split() if w]
    for word in words:
        qs = qs.filter(
            Q(given_name__icontains=word)
            | Q(family_name__icontains=word)
            | Q(aliases__icontains=word)
            | Q(family__name__icontains=word)
            | Q(family__reference__iexact=word)
        )
    return list(qs.order_by("family_name", "given_name", "id")[:SEARCH_LIMIT])


def restriction_candidates(*, family: Family) -> QuerySet[User]:
    """Who a restriction may name (`cases.restriction`): the active people whose relation lets them
    see the family (its team, its agency's head of service and partnership lead, people of a partner
    agency with a current share), by name. Admins are never named."""
    from .access import current_shares

    shared = current_shares().filter(family=family).values("agency_id")
    agency = family.team.agency
    return (
        User.objects.filter(is_active=True)
        .exclude(role=Role.ADMIN)
        .exclude(is_superuser=True)
        .filter(
            models.Q(team_id=family.team_id, role__in=[Role.PRACTITIONER, Role.MANAGER])
            | models.Q(pk__in=[pk for pk in (agency.head_of_service_id, agency.partnership_lead_id) if pk])
            | models.Q(role=Role.PARTNER, agency_id__in=shared)
        )
        .select_related("agency")
        .order_by("last_name", "first_name", "username")
    )
