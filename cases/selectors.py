"""Reads of the case record. Every selector starts from what the user may see (`cases.access`)
and shapes the query so a page or API response costs a bounded number of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404

from .access import restrict_to_visible, visible_families
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


def family_get_for_user(*, user: User, family_id) -> Family:
    """The family if the user may see it, else 404 (never 403: ids must not be probeable)."""
    return get_object_or_404(family_list(user=user), pk=family_id)


def member_list(*, user: User, family: Family | None = None) -> QuerySet[Member]:
    qs = restrict_to_visible(Member.objects.all(), user)
    if family is not None:
        qs = qs.filter(family=family)
    return qs.select_related("family")


def member_get_for_user(*, user: User, member_id) -> Member:
    return get_object_or_404(member_list(user=user), pk=member_id)


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


def family_chronology(
    *,
    user: User,
    family: Family,
    kinds: set[str] | None = None,
    agency_id: int | None = None,
    updated_since: dt.datetime | None = None,
) -> list[ChronologyEntry]:
    """One time-ordered view of the family across agencies, derived from the records.

    One query per source, whatever the family's size. The confidential referrer is never part
    of a summary, so the chronology is safe to show anyone who may see the family.
    """
    from referrals.models import Concern, ReferralSource
    from visits.models import AppointmentKind, AppointmentStatus, VisitStatus

    kinds = set(kinds or CHRONOLOGY_KINDS)
    entries: list[ChronologyEntry] = []
    home_agency = family.team.agency

    def wanted(kind: str, entry_agency_id: int | None) -> bool:
        return kind in kinds and (agency_id is None or entry_agency_id == agency_id)

    def since(qs: QuerySet) -> QuerySet:
        return qs.filter(updated_at__gte=updated_since) if updated_since else qs

    if wanted("referral", home_agency.pk):
        for r in since(family.referrals.all()):
            concerns = ", ".join(Concern(c).label.lower() for c in r.concerns if c in Concern.values)
            summary = f"Referral from {ReferralSource(r.source).label.lower()}: {concerns}."
            if r.decision:
                summary += f" Decision: {r.get_decision_display().lower()}."
            entries.append(ChronologyEntry(r.received_at, "referral", summary, home_agency.name, r.pk, r.updated_at))

    if "visit" in kinds:
        for v in since(family.visits.select_related("agency")):
            if not wanted("visit", v.agency_id):
                continue
            kind = "Planned visit" if v.planned else "Unplanned visit"
            summary = f"{kind}: {VisitStatus(v.status).label.lower()}."
            if v.purpose:
                summary += f" Purpose: {v.purpose}"
            entries.append(ChronologyEntry(v.scheduled_for, "visit", summary, v.agency.name, v.pk, v.updated_at))

    if "appointment" in kinds:
        for a in since(family.appointments.select_related("agency", "member")):
            if not wanted("appointment", a.agency_id):
                continue
            critical = " (critical)" if a.critical else ""
            summary = (
                f"{a.member.given_name} {a.member.family_name}: {AppointmentKind(a.kind).label}{critical} — "
                f"{AppointmentStatus(a.status).label.lower()}."
            )
            entries.append(ChronologyEntry(a.scheduled_for, "appointment", summary, a.agency.name, a.pk, a.updated_at))

    if "lead_professional" in kinds:
        for h in lead_history(family=family):
            if not wanted("lead_professional", h.user.agency_id):
                continue
            summary = f"{h.user} became lead professional."
            updated = h.ended_at or h.started_at
            if updated_since and updated < updated_since:
                continue
            agency_name = h.user.agency.name if h.user.agency else ""
            entries.append(ChronologyEntry(h.started_at, "lead_professional", summary, agency_name, h.pk, updated))

    if "share" in kinds:
        # A partner sees only its own agency's shares, here as in the shares list.
        for s in since(share_list(user=user, family=family)):
            if not wanted("share", home_agency.pk):
                continue
            summary = f"Record shared with {s.agency.name}: {s.purpose}"
            if s.ends:
                summary += f" (until {s.ends:%-d %b %Y})"
            started = dt.datetime.combine(s.starts, dt.time.min, tzinfo=dt.UTC)
            entries.append(
                ChronologyEntry(max(started, s.created_at), "share", summary, home_agency.name, s.pk, s.updated_at)
            )
            if s.ended_at:
                ended = f"Sharing with {s.agency.name} ended."
                entries.append(ChronologyEntry(s.ended_at, "share", ended, home_agency.name, s.pk, s.updated_at))

    if "note" in kinds:
        for n in since(CaseNote.objects.filter(family=family).select_related("agency")):
            if not wanted("note", n.agency_id):
                continue
            agency_name = n.agency.name if n.agency else ""
            entries.append(ChronologyEntry(n.at, "note", n.text, agency_name, n.pk, n.updated_at))

    if "flag" in kinds and agency_id in (None, home_agency.pk):
        from escalation.models import Flag

        for f in since(Flag.objects.filter(family=family)):
            entries.append(
                ChronologyEntry(f.first_seen, "flag", f"Flag raised ({f.severity}): {f.detail}", "", f.pk, f.updated_at)
            )
            if f.resolved_at:
                entries.append(
                    ChronologyEntry(
                        f.resolved_at, "flag", f"Flag resolved: {f.rule.replace('_', ' ')}.", "", f.pk, f.updated_at
                    )
                )

    if "prompt" in kinds and agency_id in (None, home_agency.pk):
        from escalation.models import PromptEvent

        events = PromptEvent.objects.filter(prompt__family=family).select_related("prompt__flag", "actor")
        if updated_since:
            events = events.filter(at__gte=updated_since)
        for e in events:
            who = f" by {e.actor}" if e.actor else ""
            summary = f"Escalation prompt ({e.prompt.get_level_display().lower()}) {e.get_kind_display().lower()}{who}"
            summary += f" — {e.prompt.flag.rule.replace('_', ' ')}."
            for label, text in (("Action", e.action_taken), ("Rationale", e.rationale), ("Reason", e.reason)):
                if text:
                    summary += f" {label}: {text}"
            entries.append(ChronologyEntry(e.at, "prompt", summary, home_agency.name, e.pk, e.at))

    entries.sort(key=lambda e: (e.at, e.kind, e.record_id), reverse=True)
    return entries
