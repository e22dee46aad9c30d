"""Who may see and change which family: the one place that decides.

- practitioners and managers: the families owned by their team; a manager who is the agency's
  head of service or partnership lead: every team's families in the agency;
- partners: the families with a current share with their agency (started, not past its end
  date, not ended) — checked on every request, so ending a share ends access at once, for
  sessions and tokens already issued alike;
- admins: every family.

Every selector filters through `restrict_to_visible`; every detail fetch goes through a
selector, so an outsider gets 404, never 403. A queryset rule rather than per-object grants
(django-guardian): visibility here is a relation (team, current share), and a rule computed
in the query cannot drift out of step with the records it guards.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import Family, FamilyShare, Role, Team, User


def current_shares(*, today=None) -> QuerySet[FamilyShare]:
    today = today or timezone.localdate()
    return FamilyShare.objects.filter(ended_at__isnull=True, starts__lte=today).filter(
        Q(ends__isnull=True) | Q(ends__gte=today)
    )


def _visibility_q(user: User, family_field: str) -> Q | None:
    """A Q limiting `family_field` to the user's families; None means "everything"."""
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
    q = _visibility_q(user, family_field)
    return qs if q is None else qs.filter(q)


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
        return current_shares().filter(agency_id=user.agency_id).values("family_id").distinct().count()
    return visible_families(user).count()


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
