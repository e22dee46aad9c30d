"""Writes to the case record. Keyword-only, validated, atomic, audited in the same transaction.

Callers (views, serializers, commands, tasks) fetch the family through a selector first, so the
family is already known to be visible to the actor; these services then check the *change* rules.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from audit.services import AuditAction, audit_record

from .access import can_change_family, current_shares
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
    token = Token.objects.create(user=user).key if with_token else None
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
    if team is not None and team.pk != family.team_id:
        # A transfer takes the family out of this team's sight: a manager's (or an admin's) decision.
        if not (actor.is_platform_admin or actor.role == Role.MANAGER):
            raise ValidationError({"team": "Only a manager or an administrator can transfer a family to another team."})
        data["team"] = team
    if (
        "significant_adults_confirmed" in data
        and data["significant_adults_confirmed"] != family.significant_adults_confirmed
    ):
        family.significant_adults_confirmed_at = timezone.now() if data["significant_adults_confirmed"] else None
    family, _ = model_update(
        instance=family, data=data, allowed=(*FAMILY_FIELDS, "team"), actor=actor, family_id=family.pk
    )
    if lead is not ... and lead != family.lead_professional:
        _set_lead_from_family_fields(actor=actor, family=family, user=lead)
    return family


def _set_lead_from_family_fields(*, actor: User, family: Family, user: User | None) -> None:
    """Setting the lead through the family resource reports errors under `lead_professional`."""
    try:
        lead_professional_set(actor=actor, family=family, user=user)
    except ValidationError as exc:
        raise ValidationError({"lead_professional": exc.message_dict.get("user", exc.messages)}) from exc


def eligible_lead_professional(*, family: Family, user: User) -> bool:
    """The lead professional can be anyone who may see the family: a member of the owning team or
    of a partner agency with a current share (a health visitor often leads early help)."""
    if not user.is_active or user.role == Role.ADMIN:
        return False
    if user.team_id == family.team_id:
        return True
    return bool(user.agency_id) and current_shares().filter(family=family, agency_id=user.agency_id).exists()


@transaction.atomic
def lead_professional_set(*, actor: User, family: Family, user: User | None) -> Family:
    """Set (or clear, with None) the lead professional, keeping the history of who held it."""
    _require_change(actor, family)
    if user is not None and not eligible_lead_professional(family=family, user=user):
        raise ValidationError(
            {
                "user": "The lead professional must be an active member of the owning team "
                "or of an agency the family is shared with."
            }
        )
    # Lock the family row: two managers setting the lead at once must not both open a history row.
    family = Family.objects.select_for_update().get(pk=family.pk)
    if family.lead_professional_id == (user.pk if user else None):
        return family
    now = timezone.now()
    LeadProfessionalAssignment.objects.filter(family=family, ended_at__isnull=True).update(ended_at=now)
    if user is not None:
        LeadProfessionalAssignment.objects.create(family=family, user=user, started_at=now, assigned_by=actor)
    previous = family.lead_professional_id
    family.lead_professional = user
    family.updated_at = now
    family.save(update_fields=["lead_professional", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.CHANGE,
        instance=family,
        family_id=family.pk,
        changes={"lead_professional": {"from": previous, "to": user.pk if user else None}},
    )
    return family


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
        Appointment.objects.filter(member=member).update(for_child=member.is_child, updated_at=timezone.now())
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
    share = FamilyShare(
        family=family,
        agency=agency,
        purpose=purpose,
        legal_basis=legal_basis,
        starts=starts or timezone.localdate(),
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
def share_end(*, actor: User, share: FamilyShare) -> FamilyShare:
    """End a share now. The partner's access stops with this commit; the record stays."""
    _require_change(actor, share.family)
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
        family_touch(share.family_id)
    return share


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
