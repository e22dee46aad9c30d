"""Writes to the case record. Keyword-only, validated, atomic, audited in the same transaction.

Callers (views, serializers, commands, tasks) fetch the family through a selector first, so the
family is already known to be visible to the actor; these services then check the *change* rules.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from accounts.services import token_issue
from audit.services import AuditAction, audit_record

from .access import can_change_family, current_shares, is_named_on, visible_families, visible_teams
from .models import (
    Agency,
    AgencyKind,
    CaseNote,
    Family,
    FamilyShare,
    InformationGap,
    LeadProfessionalAssignment,
    Member,
    MemberRole,
    Relationship,
    RelationshipKind,
    Role,
    Team,
    User,
)
from .service_utils import audit_create, family_touch, model_update

FAMILY_FIELDS = (
    "name",
    "address",
    "postcode",
    "local_authority",
    "level",
    "status",
    "significant_adults_confirmed",
    "significant_adults_note",
)
MEMBER_FIELDS = (
    "given_name",
    "family_name",
    "name_spelling_confirmed",
    "aliases",
    "date_of_birth",
    "role",
    "lives_in_household",
    "parental_responsibility",
    "contact_phone",
    "contact_address",
    "additional_needs",
    "school",
    "gp_practice",
)


def _require_change(actor: User, family: Family) -> None:
    if not can_change_family(actor, family):
        raise PermissionDenied("Only the owning team can change this family's record.")


# --- agencies, teams and users ------------------------------------------------------------


@transaction.atomic
def agency_get_or_create(*, name: str, kind: str = AgencyKind.OTHER) -> Agency:
    agency, _ = Agency.objects.get_or_create(name=name, defaults={"kind": kind})
    return agency


@transaction.atomic
def user_create(
    *,
    username: str,
    role: str,
    agency_name: str | None,
    team_name: str | None = None,
    password: str | None = None,
    agency_kind: str = AgencyKind.OTHER,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    with_token: bool = False,
) -> tuple[User, str | None]:
    """Create a user, creating the agency and team if new. Returns the user and its API token."""
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; choose one of {', '.join(Role.values)}."})
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"A user called {username!r} already exists."})
    agency = agency_get_or_create(name=agency_name, kind=agency_kind) if agency_name else None
    team = None
    if team_name:
        if agency is None:
            raise ValidationError({"team": "A team belongs to an agency: give --agency too."})
        team, _ = Team.objects.get_or_create(agency=agency, name=team_name)
    user = User(
        username=username,
        role=role,
        agency=agency,
        team=team,
        first_name=first_name,
        last_name=last_name,
        email=email,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if password:
        from django.contrib.auth.password_validation import validate_password

        validate_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    token = token_issue(user=user).key if with_token else None
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        instance=user,
        family_id=None,
        changes={"role": role},
    )
    return user, token


# --- families --------------------------------------------------------------------------------


def new_family_reference() -> str:
    return "SG-" + secrets.token_hex(4).upper()


@transaction.atomic
def family_create(*, actor: User, name: str, team: Team | None = None, **fields: Any) -> Family:
    unknown = set(fields) - set(FAMILY_FIELDS) - {"lead_professional"}
    if unknown:
        raise ValueError(f"Unknown family fields: {sorted(unknown)}")
    lead = fields.pop("lead_professional", None)
    if team is None:
        team = actor.team
    if team is None:
        raise ValidationError({"team": "Give the owning team: you do not belong to one."})
    if not actor.is_platform_admin and (
        actor.role not in (Role.PRACTITIONER, Role.MANAGER) or team.pk != actor.team_id
    ):
        raise PermissionDenied("You can create families for your own team only.")
    now = timezone.now()
    family = Family(
        name=name,
        team=team,
        reference=new_family_reference(),
        created_by=actor,
        **fields,
    )
    if family.significant_adults_confirmed:
        family.significant_adults_confirmed_at = now
    family.full_clean()
    family.save()
    audit_create(
        actor=actor,
        instance=family,
        family_id=family.pk,
        fields=("name", "team_id", "level", "status"),
    )
    if lead is not None:
        _set_lead_from_family_fields(actor=actor, family=family, user=lead)
    return family


@transaction.atomic
def family_update(*, actor: User, family: Family, data: dict[str, Any]) -> Family:
    _require_change(actor, family)
    data = dict(data)
    lead = data.pop("lead_professional", ...)
    team = data.pop("team", None)
    moved = team is not None and team.pk != family.team_id
    if moved:
        _check_team_move(actor=actor, family=family, team=team)
        data["team"] = team

    def confirmed_at(fresh: Family, changes: dict[str, Any]) -> dict[str, Any]:
        # From the saved row, under its lock: when the answer changes, so does the time it was given.
        answer = changes.get("significant_adults_confirmed", fresh.significant_adults_confirmed)
        if answer != fresh.significant_adults_confirmed:
            return {"significant_adults_confirmed_at": timezone.now() if answer else None}
        return {}

    family, _ = model_update(
        instance=family,
        data=data,
        allowed=(*FAMILY_FIELDS, "team", "significant_adults_confirmed_at"),
        actor=actor,
        family_id=family.pk,
        derive=confirmed_at,
    )
    if moved:
        # The lead professional (or a prompt's assignee) may be of the old team and no longer see it.
        lead_release_without_access(actor=actor, family_ids=[family.pk])
        family.refresh_from_db()
    if lead is not ... and lead != family.lead_professional:
        family = _set_lead_from_family_fields(actor=actor, family=family, user=lead)
    return family


def _check_team_move(*, actor: User, family: Family, team: Team) -> None:
    """Moving a family takes it out of one team's sight and into another's (and with it the
    confidential referrer): within the agency, only to a team the mover manages; to another agency,
    only an administrator (a transfer between agencies is its own process)."""
    if actor.is_platform_admin:
        return
    if actor.role != Role.MANAGER:
        raise ValidationError({"team": "Only a manager can move a family to another team."})
    if team.agency_id != family.team.agency_id:
        raise ValidationError(
            {"team": "A family cannot be moved to another agency's team here: ask an administrator to transfer it."}
        )
    if not visible_teams(actor).filter(pk=team.pk).exists():
        raise ValidationError({"team": "You can move a family only to a team you manage."})


def _set_lead_from_family_fields(*, actor: User, family: Family, user: User | None) -> Family:
    """Setting the lead through the family resource reports errors under `lead_professional`."""
    try:
        return lead_professional_set(actor=actor, family=family, user=user)
    except ValidationError as exc:
        raise ValidationError({"lead_professional": exc.message_dict.get("user", exc.messages)}) from exc


def eligible_lead_professional(*, family: Family, user: User) -> bool:
    """The lead professional can be anyone who may see the family: a member of the owning team or
    of a partner agency with a current share (a health visitor often leads early help)."""
    if not user.is_active or user.role == Role.ADMIN:
        return False
    if family.restricted and not is_named_on(user, family):  # a lead who cannot see it cannot lead it
        return False
    if user.team_id == family.team_id:
        return True
    return bool(user.agency_id) and current_shares().filter(family=family, agency_id=user.agency_id).exists()


@transaction.atomic
def lead_professional_set(*, actor: User, family: Family, user: User | None) -> Family:
    """Set (or clear, with None) the lead professional, keeping the history of who held it."""
    _require_change(actor, family)
    # Lock the family row first: two managers setting the lead at once must not both open a history
    # row, and a share ending at the same moment must not leave its agency's person as lead.
    family = Family.objects.select_for_update().get(pk=family.pk)
    if user is not None and not eligible_lead_professional(family=family, user=user):
        raise ValidationError(
            {
                "user": "The lead professional must be an active member of the owning team "
                "or of an agency the family is shared with."
            }
        )
    return _change_lead(actor=actor, family=family, user=user)


def _change_lead(*, actor: User | None, family: Family, user: User | None) -> Family:
    """The lead change itself, on a family row the caller has locked: the history row ended and
    opened, the family's new version, the audit row."""
    if family.lead_professional_id == (user.pk if user else None):
        return family
    now = timezone.now()
    LeadProfessionalAssignment.objects.filter(family=family, ended_at__isnull=True).update(ended_at=now)
    if user is not None:
        LeadProfessionalAssignment.objects.create(family=family, user=user, started_at=now, assigned_by=actor)
    previous = family.lead_professional_id
    family.lead_professional = user
    family.updated_at = now
    # A new version: an edit of the family made from before this change must not write it back.
    family.version += 1
    if getattr(actor, "pk", None):
        family._history_user = actor
    family.save(update_fields=["lead_professional", "updated_at", "version"])
    audit_record(
        actor=actor,
        action=AuditAction.CHANGE,
        instance=family,
        family_id=family.pk,
        changes={"lead_professional": {"from": previous, "to": user.pk if user else None}},
    )
    return family


def _lead_lost_access(family: Family) -> bool:
    lead = family.lead_professional
    if lead is None:
        return False
    return not visible_families(lead).filter(pk=family.pk).exists()


def lead_release_without_access(*, actor: User | None, family_ids: Iterable[int]) -> list[int]:
    """End the lead role of a lead professional who can no longer see the family (their agency's
    share ended or lapsed, the family moved team), and hand the family's open prompts held by
    people without access to its team manager. Runs in the caller's transaction; the families'
    checks run after it commits, so "no lead professional" is flagged and prompted at once.

    Returns the ids of the families whose lead was ended.
    """
    released: list[int] = []
    families = Family.objects.select_for_update(of=("self",)).select_related("lead_professional")
    for family in families.filter(pk__in=set(family_ids), lead_professional__isnull=False).order_by("pk"):
        if _lead_lost_access(family):
            _change_lead(actor=actor, family=family, user=None)
            released.append(family.pk)
    # escalation sits above cases (it reads families); the import waits until it is needed.
    from escalation.services.reassign import check_families_after_commit, reassign_prompts_without_access

    reassign_prompts_without_access(actor=actor, family_ids=family_ids)
    if released:
        check_families_after_commit(released)
    return released


# --- members and relationships -----------------------------------------------------------------


def _clean_aliases(aliases: Any) -> list[str]:
    if aliases in (None, ""):
        return []
    if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
        raise ValidationError({"aliases": "Give aliases as a list of names."})
    return [a.strip() for a in aliases if a.strip()]


@transaction.atomic
def member_create(*, actor: User, family: Family, **fields: Any) -> Member:
    _require_change(actor, family)
    unknown = set(fields) - set(MEMBER_FIELDS)
    if unknown:
        raise ValueError(f"Unknown member fields: {sorted(unknown)}")
    if "aliases" in fields:
        fields["aliases"] = _clean_aliases(fields["aliases"])
    member = Member(family=family, **fields)
    member.full_clean()
    member.save()
    audit_create(
        actor=actor,
        instance=member,
        family_id=family.pk,
        fields=("given_name", "family_name", "role"),
    )
    family_touch(family.pk)
    return member


@transaction.atomic
def member_update(*, actor: User, member: Member, data: dict[str, Any]) -> Member:
    from visits.models import Appointment

    _require_change(actor, member.family)
    data = dict(data)
    if "aliases" in data:
        data["aliases"] = _clean_aliases(data["aliases"])
    was_child = member.is_child
    member, changes = model_update(
        instance=member,
        data=data,
        allowed=MEMBER_FIELDS,
        actor=actor,
        family_id=member.family_id,
    )
    if "role" in changes and member.is_child != was_child:
        # Appointments carry the member's child/adult status so "was not brought" (child) and
        # "did not attend" (adult) stay enforced by the database.
        statuses = Appointment.objects.filter(member=member).values_list("status", flat=True)
        wrong = "did_not_attend" if member.is_child else "was_not_brought"
        if wrong in statuses:
            raise ValidationError(
                {"role": f"This person has appointments recorded as '{wrong}'; correct those before changing the role."}
            )
        # A changed row is a new version of it (an edit from before this must not write it back).
        Appointment.objects.filter(member=member).update(
            for_child=member.is_child, updated_at=timezone.now(), version=F("version") + 1
        )
    if changes:
        family_touch(member.family_id)
    return member


@transaction.atomic
def relationship_create(*, actor: User, from_member: Member, to_member: Member, kind: str) -> Relationship:
    family = from_member.family
    _require_change(actor, family)
    if to_member.family_id != family.pk:
        raise ValidationError({"to_member": "Both people must be in the same family record."})
    if kind == RelationshipKind.PARENT_OF and to_member.role != MemberRole.CHILD:
        raise ValidationError({"to_member": "A parent relationship points to a child."})
    rel = Relationship(family=family, from_member=from_member, to_member=to_member, kind=kind)
    rel.full_clean(validate_unique=False, validate_constraints=False)  # the clearer message below
    if Relationship.objects.filter(from_member=from_member, to_member=to_member, kind=kind).exists():
        raise ValidationError({"kind": "This relationship is already recorded."})
    try:
        with transaction.atomic():
            rel.save()
    except IntegrityError as exc:
        raise ValidationError({"kind": "This relationship is already recorded."}) from exc
    audit_create(
        actor=actor,
        instance=rel,
        family_id=family.pk,
        fields=("from_member_id", "to_member_id", "kind"),
    )
    family_touch(family.pk)
    return rel


@transaction.atomic
def relationship_delete(*, actor: User, relationship: Relationship) -> None:
    _require_change(actor, relationship.family)
    audit_record(
        actor=actor,
        action=AuditAction.DELETE,
        instance=relationship,
        family_id=relationship.family_id,
        changes={"kind": {"from": relationship.kind, "to": None}},
    )
    relationship.delete()
    family_touch(relationship.family_id)


# --- information gaps ----------------------------------------------------------------------------


@transaction.atomic
def gap_record(
    *,
    actor: User,
    family: Family,
    subject: str,
    reason: str,
    member: Member | None = None,
    revisit_on: dt.date | None = None,
    note: str = "",
) -> InformationGap:
    _require_change(actor, family)
    if member is not None and member.family_id != family.pk:
        raise ValidationError({"member": "That person is not in this family record."})
    gap = InformationGap(
        family=family,
        member=member,
        subject=subject.strip().lower(),
        reason=reason,
        revisit_on=revisit_on,
        note=note,
        recorded_by=actor,
    )
    gap.full_clean()
    gap.save()
    audit_create(
        actor=actor,
        instance=gap,
        family_id=family.pk,
        fields=("subject", "reason", "revisit_on"),
    )
    family_touch(family.pk)
    return gap


@transaction.atomic
def gap_resolve(*, actor: User, gap: InformationGap) -> InformationGap:
    _require_change(actor, gap.family)
    if gap.resolved_at is None:
        model_update(
            instance=gap,
            data={"resolved_at": timezone.now()},
            allowed=("resolved_at",),
            actor=actor,
            family_id=gap.family_id,
        )
        family_touch(gap.family_id)
    return gap


# --- sharing ---------------------------------------------------------------------------------


def _share_length_words(days: int) -> str:
    if days in (365, 366):
        return "12 months"
    if days % 365 == 0:
        return f"{days // 365 * 12} months"
    if days % 7 == 0:
        return f"{days // 7} weeks"
    return f"{days} days"


def _check_share_ends(*, starts: dt.date, ends: dt.date) -> None:
    """A share lasts at most SHARE_MAX_DAYS from when it starts (or from today, for one started
    already): sharing is for a purpose and is reviewed, never open-ended (issue 14, item 8)."""
    today = timezone.localdate()
    earliest_start_limit = today + dt.timedelta(days=settings.SHARE_MAX_DAYS)
    if starts > earliest_start_limit:
        # A share agreed now for a need years away is not a decision anyone can review.
        raise ValidationError(
            {
                "starts": f"A share must start within {_share_length_words(settings.SHARE_MAX_DAYS)}: "
                f"choose a first day on or before {earliest_start_limit.day} {earliest_start_limit:%B %Y}."
            }
        )
    latest = max(starts, today) + dt.timedelta(days=settings.SHARE_MAX_DAYS)
    if ends > latest:
        raise ValidationError(
            {
                "ends": f"A share can last at most {_share_length_words(settings.SHARE_MAX_DAYS)}: "
                f"choose a last day on or before {latest.day} {latest:%B %Y}."
            }
        )


@transaction.atomic
def share_create(
    *,
    actor: User,
    family: Family,
    agency: Agency,
    purpose: str,
    legal_basis: str,
    starts: dt.date | None = None,
    ends: dt.date | None = None,
) -> FamilyShare:
    _require_change(actor, family)
    if actor.agency_id == agency.pk and family.team.agency_id == agency.pk:
        raise ValidationError({"agency": "The family's own agency already has access."})
    if ends is None:
        # Sharing is explicit and ends (issue 6): every share has a last day, renewed deliberately.
        raise ValidationError({"ends": "Give the last day of access: sharing ends unless it is renewed."})
    starts = starts or timezone.localdate()
    _check_share_ends(starts=starts, ends=ends)
    share = FamilyShare(
        family=family,
        agency=agency,
        purpose=purpose,
        legal_basis=legal_basis,
        starts=starts,
        ends=ends,
        created_by=actor,
    )
    share.full_clean()
    share.save()
    audit_create(
        actor=actor,
        instance=share,
        family_id=family.pk,
        fields=("agency_id", "purpose", "legal_basis", "starts", "ends"),
    )
    family_touch(family.pk)
    return share


@transaction.atomic
def share_renew(*, actor: User, share: FamilyShare, ends: dt.date) -> FamilyShare:
    """Give a share a new last day: on or after today, and at most SHARE_MAX_DAYS from today (or
    from its start, if that is later). A share ended by a person stays ended: share again."""
    _require_change(actor, share.family)
    if share.ended_at is not None:
        raise ValidationError({"ends": "This share has been ended: share the record again instead."})
    if ends < timezone.localdate():
        raise ValidationError({"ends": "Choose a last day of access that is today or later."})
    _check_share_ends(starts=share.starts, ends=ends)
    share, changes = model_update(
        instance=share, data={"ends": ends}, allowed=("ends",), actor=actor, family_id=share.family_id
    )
    if share.ended_at is not None:  # ended by someone else while this was being renewed
        raise ValidationError({"ends": "This share has been ended: share the record again instead."})
    if changes:
        family_touch(share.family_id)
    return share


@transaction.atomic
def share_end(*, actor: User, share: FamilyShare) -> FamilyShare:
    """End a share now. The partner's access stops with this commit; the record stays. A lead
    professional of that agency (with no other current share) stops being lead at once, and the
    family's prompts held by people of that agency go to the team manager."""
    _require_change(actor, share.family)
    # The family row first, as lead_professional_set does: a lead set from this agency at the same
    # moment either commits before (and is ended here) or sees the share ended (and is refused).
    Family.objects.select_for_update().filter(pk=share.family_id).values("pk").first()
    now = timezone.now()
    updated = FamilyShare.objects.filter(pk=share.pk, ended_at__isnull=True).update(
        ended_at=now, ended_by=actor, updated_at=now
    )
    if updated:
        share.refresh_from_db()
        audit_record(
            actor=actor,
            action=AuditAction.DELETE,
            instance=share,
            family_id=share.family_id,
            changes={"ended_at": {"from": None, "to": now.isoformat()}},
        )
        lead_release_without_access(actor=actor, family_ids=[share.family_id])
        family_touch(share.family_id)
    return share


@transaction.atomic
def lapsed_shares_release(*, as_of: dt.date | None = None) -> list[int]:
    """For shares past their last day (they lapse without anyone ending them): end the lead role of
    a lead professional from a partner agency that no longer has a current share for the family.
    The daily task calls this; access itself already stopped, checked on every request.
    Returns the ids of the families whose lead was ended."""
    today = as_of or timezone.localdate()
    current = current_shares(today=today).filter(
        family=OuterRef("pk"), agency_id=OuterRef("lead_professional__agency_id")
    )
    # Leads from another agency than the owning team's, with no current share: one query.
    candidates = (
        Family.objects.filter(lead_professional__isnull=False)
        .exclude(lead_professional__agency_id=F("team__agency_id"))
        .exclude(Exists(current))
        .values_list("pk", flat=True)
    )
    return lead_release_without_access(actor=None, family_ids=list(candidates))


# --- case notes ------------------------------------------------------------------------------


@transaction.atomic
def case_note_add(*, actor: User, family: Family, text: str, at: dt.datetime | None = None) -> CaseNote:
    _require_change(actor, family)
    note = CaseNote(
        family=family,
        author=actor,
        agency=actor.agency,
        text=text,
        at=at or timezone.now(),
    )
    note.full_clean()
    note.save()
    audit_create(actor=actor, instance=note, family_id=family.pk)
    family_touch(family.pk)
    return note
