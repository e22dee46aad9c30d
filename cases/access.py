"""Who may see and change which family: the one place that decides.

- practitioners and managers: the families owned by their team; a manager who is the agency's
  head of service or partnership lead: every team's families in the agency;
- partners: the families with a current share with their agency (started, not past its end
  date, not ended) — checked on every request, so ending a share ends access at once, for
  sessions and tokens already issued alike;
- admins: every family;
- and, for every role (admins included), a restricted family only if the user is named on it
  (holds the `view_restricted_family` grant, django-guardian): `hidden_restricted_families`.

Every selector filters through `restrict_to_visible`; every detail fetch goes through a
selector, so an outsider gets 404, never 403. A queryset rule rather than per-object grants:
visibility here is a relation (team, current share), and a rule computed in the query cannot
drift out of step with the records it guards. Per-object grants are used only on top of it, for
restricted records, and read in the same query (one subquery over a handful of rows).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Family, FamilyShare, FamilyUserObjectPermission, Role, Team, User

RESTRICTED_PERMISSION = "view_restricted_family"
RESTRICTED_PERM = f"cases.{RESTRICTED_PERMISSION}"


def current_shares(*, today=None) -> QuerySet[FamilyShare]:
    today = today or timezone.localdate()
    return FamilyShare.objects.filter(ended_at__isnull=True, starts__lte=today).filter(
        Q(ends__isnull=True) | Q(ends__gte=today)
    )


def restriction_grants(user: User) -> QuerySet[FamilyUserObjectPermission]:
    """The user's grants on restricted families (direct foreign key: no generic `object_pk`)."""
    return FamilyUserObjectPermission.objects.filter(
        user_id=user.pk, permission__codename=RESTRICTED_PERMISSION, permission__content_type__app_label="cases"
    )


def hidden_restricted_families(user: User) -> QuerySet[Family]:
    """The restricted families the user is not named on: hidden from them whatever their role.

    A handful of rows (the partial index `family_restricted`), so `NOT (family_id IN (...))`
    is a hashed subplan PostgreSQL works out once per query, with no join to the family table
    for members, visits, flags or prompts.
    """
    return Family.objects.filter(restricted=True).exclude(pk__in=restriction_grants(user).values("content_object_id"))


def _named_or_unrestricted_q(user: User, family_field: str) -> Q:
    """The family is not restricted, or the user is named on it.

    Written on the family's own row (`restricted`, on the join the relation already makes), not as
    `NOT IN (the hidden families)`: PostgreSQL cannot tell that subquery is almost always empty, and
    on the benchmark's dashboard charts it planned a 6.7 ms query as a 58 ms one. `restricted` is
    false on nearly every row, which the planner knows from the column's statistics."""
    prefix = f"{family_field}__" if family_field else ""
    id_path = f"{family_field}_id" if family_field else "pk"
    grants = restriction_grants(user).values("content_object_id")
    return Q(**{f"{prefix}restricted": False}) | Q(**{f"{id_path}__in": grants})


def _visibility_q(user: User, family_field: str) -> Q:
    """A Q limiting `family_field` to the user's families: the relation (team, share, admin),
    and on top of it, for every role, no restricted family the user is not named on."""
    prefix = f"{family_field}__" if family_field else ""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.role == Role.PARTNER and not user.is_platform_admin:
        if not user.agency_id:
            return Q(pk__in=[])
        # Inside the shares subquery, so a partner's lists join no family table for it.
        shared = partner_shares(user).values("family_id")
        return Q(**{f"{prefix}id__in" if not family_field else f"{family_field}_id__in": shared})
    relation = _relation_q(user, family_field)
    if relation is not None and relation == Q(pk__in=[]):
        return relation
    restriction = _named_or_unrestricted_q(user, family_field)
    return restriction if relation is None else relation & restriction


def partner_shares(user: User) -> QuerySet[FamilyShare]:
    """The current shares with the partner's agency, of families it may see (not restricted, or
    the partner is named on them). Here the hidden families are a hashed `NOT IN` over the few
    restricted rows: the shares alone are read, with no probe of the family table per share."""
    hidden = hidden_restricted_families(user).values("pk")
    return current_shares().filter(agency_id=user.agency_id).exclude(family_id__in=hidden)


def _relation_q(user: User, family_field: str) -> Q | None:
    """A Q limiting `family_field` to the families of the user's relation; None means "every family"."""
    prefix = f"{family_field}__" if family_field else ""
    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_platform_admin:
        return None
    if user.role == Role.PRACTITIONER:
        return Q(**{f"{prefix}team_id": user.team_id}) if user.team_id else Q(pk__in=[])
    if user.role == Role.MANAGER:
        # A manager sees the team's families; the agency's head of service (or its safeguarding
        # partnership lead) sees every team's, since overdue prompts are escalated to them.
        # One `team_id IN (subquery over teams)`: no extra round trip, and the family's team index serves.
        teams = Team.objects.filter(
            Q(pk=user.team_id) | Q(agency__head_of_service_id=user.pk) | Q(agency__partnership_lead_id=user.pk)
        ).values("pk")
        return Q(**{f"{prefix}team_id__in": teams})
    if user.role == Role.PARTNER and user.agency_id:
        shared = current_shares().filter(agency_id=user.agency_id).values("family_id")
        return Q(**{f"{prefix}id__in" if not family_field else f"{family_field}_id__in": shared})
    return Q(pk__in=[])


def visible_teams(user: User) -> QuerySet[Team]:
    """The teams whose families (and people's workload) the user may see: a manager's own team;
    every team of the agency for its head of service or partnership lead; all for admins."""
    if not user.is_authenticated or not user.is_active:
        return Team.objects.none()
    if user.is_platform_admin:
        return Team.objects.all()
    if user.role == Role.MANAGER:
        return Team.objects.filter(
            Q(pk=user.team_id) | Q(agency__head_of_service_id=user.pk) | Q(agency__partnership_lead_id=user.pk)
        )
    return Team.objects.filter(pk=user.team_id) if user.team_id else Team.objects.none()


def restrict_to_visible(qs: QuerySet, user: User, *, family_field: str = "family") -> QuerySet:
    """Filter any queryset to rows of families the user may see.

    `family_field` is the path from the model to Family ("" when `qs` is of Family itself).
    """
    return qs.filter(_visibility_q(user, family_field))


def visible_families(user: User) -> QuerySet[Family]:
    return restrict_to_visible(Family.objects.all(), user, family_field="")


def visible_family_count(user: User) -> int:
    """`visible_families(user).count()`, worked out the cheapest way.

    For a partner, the families it may see are those with a current share with its agency, so
    their number is the number of distinct families among those shares: counted in the shares
    alone (a few dozen pages), where the count over families probes the family table once per
    share (4,000 index pages for 2,000 shares, and the table's pages too wherever vacuum has not
    caught up). The same answer: every share names an existing family (a foreign key).
    """
    if user.is_authenticated and user.is_active and not user.is_platform_admin and user.role == Role.PARTNER:
        if not user.agency_id:
            return 0
        return partner_shares(user).values("family_id").distinct().count()
    return visible_families(user).count()


def note_restricted_refusal(*, user: User, model: type[Model], family_field: str = "family", **lookup) -> int | None:
    """After a detail fetch found nothing: if the record exists and its family is restricted
    from this user, write a security event naming the family (its manager sees the attempts on
    the access log). An ordinary outsider's miss writes nothing more than it did before.
    Returns the family's id when the refusal was because of the restriction."""
    from audit.context import note_family_refused  # audit depends on cases, not back
    from audit.security import SecurityEventKind, security_event

    if not getattr(user, "is_authenticated", False):
        return None
    prefix = f"{family_field}__" if family_field else ""
    id_path = f"{family_field}_id" if family_field else "pk"
    try:
        family_id = (
            model._default_manager.filter(**lookup)
            .filter(**{f"{prefix}restricted": True})
            .exclude(**{f"{id_path}__in": restriction_grants(user).values("content_object_id")})
            .values_list(id_path, flat=True)
            .first()
        )
    except (ValueError, TypeError, ValidationError):
        return None
    if family_id is None:
        return None
    if not note_family_refused(family_id):  # outside a request: no refusal event will follow
        security_event(SecurityEventKind.REFUSED, user=user, status_code=404, family_id=family_id)
    return family_id


def get_visible_or_404(qs: QuerySet, *, user: User, family_field: str = "family", **lookup):
    """`get_object_or_404` on a selector's queryset; a miss on a restricted record is noted."""
    try:
        return get_object_or_404(qs, **lookup)
    except Http404:
        note_restricted_refusal(user=user, model=qs.model, family_field=family_field, **lookup)
        raise


def is_named_on(user: User, family: Family) -> bool:
    """The user holds the grant on this (restricted) family."""
    return restriction_grants(user).filter(content_object_id=family.pk).exists()


def can_change_family(user: User, family: Family) -> bool:
    """Change the family record itself (members, referrals, lead professional, shares)."""
    if not user.is_active:
        return False
    if user.is_platform_admin:
        return True
    return user.role in (Role.PRACTITIONER, Role.MANAGER) and user.team_id == family.team_id


def can_record_events(user: User, family: Family) -> bool:
    """Add visits and appointments: the owning team, admins, and partners with a current share.

    Callers have already fetched `family` through a selector, so it is visible to the user.
    """
    return can_change_family(user, family) or (user.is_active and user.role == Role.PARTNER)


def sees_confidential_referrer(user: User, family: Family) -> bool:
    """The confidential referrer is shown to the owning team only (DESIGN 5), not even admins."""
    return user.is_active and user.role in (Role.PRACTITIONER, Role.MANAGER) and user.team_id == family.team_id


def may_restrict(user: User, family: Family) -> bool:
    """Restrict a family, change who is named, or lift it: a manager of the owning team, or that
    team's head of service. Callers have fetched `family` through a selector (so a restricted
    family is only reachable by someone named on it)."""
    if not user.is_active or user.role != Role.MANAGER:
        return False
    if user.team_id == family.team_id:
        return True
    return Team.objects.filter(pk=family.team_id, agency__head_of_service_id=user.pk).exists()


def could_see_unrestricted(user: User, family: Family) -> bool:
    """The user's relation to the family would let them see it if it were not restricted: the
    people a restriction may name. Admins are never named: they manage accounts and sharing, and
    see the audit of a restricted record, not the record."""
    relation = _relation_q(user, "")
    if relation is None or user.is_platform_admin:
        return False
    return Family.objects.filter(relation, pk=family.pk).exists()
