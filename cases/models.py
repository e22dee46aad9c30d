"""The case record: agencies, teams, users, families and the people in them.

Business rules live in `cases.services`; who may see what lives in `cases.access`.
Rules that must always hold are database constraints as well as validation.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import UserObjectPermissionBase
from simple_history.models import HistoricalRecords


class AgencyKind(models.TextChoices):
    SOCIAL_CARE = "social_care", "Children's social care"
    EARLY_HELP = "early_help", "Early help"
    HEALTH_VISITING = "health_visiting", "Health visiting"
    MIDWIFERY = "midwifery", "Midwifery"
    GP = "gp", "GP practice"
    HOSPITAL = "hospital", "Hospital"
    SCHOOL = "school", "School"
    POLICE = "police", "Police"
    HOUSING = "housing", "Housing"
    YOUTH_JUSTICE = "youth_justice", "Youth justice"
    OTHER = "other", "Other"


class Agency(models.Model):
    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=32, choices=AgencyKind.choices, default=AgencyKind.OTHER)
    phone = models.CharField(max_length=40, blank=True)
    # Where overdue escalation prompts go beyond the team manager (DESIGN 4).
    head_of_service = models.ForeignKey(
        "cases.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    partnership_lead = models.ForeignKey(
        "cases.User",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The safeguarding partnership's contact for prompts escalated to the partnership.",
    )
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["agency__name", "name"]
        constraints = [models.UniqueConstraint(fields=["agency", "name"], name="team_unique_name_per_agency")]

    def __str__(self) -> str:
        return f"{self.name} ({self.agency.name})"


class Role(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    MANAGER = "manager", "Manager"
    PARTNER = "partner", "Partner agency"
    ADMIN = "admin", "Administrator"


class User(AbstractUser):
    """A person (or a partner's system) using the service, always of one agency."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.PRACTITIONER)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="users", null=True, blank=True)
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="members", null=True, blank=True)
    job_title = models.CharField(max_length=120, blank=True)
    phone = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [
            # Everyone but a platform administrator belongs to an agency: partners' visibility and
            # the team around the family both depend on it.
            models.CheckConstraint(
                condition=Q(role="admin") | Q(is_superuser=True) | Q(agency__isnull=False),
                name="user_non_admin_has_agency",
            ),
            # Practitioners and managers see their team's families, so they must have one.
            models.CheckConstraint(
                condition=~Q(role__in=["practitioner", "manager"]) | Q(is_superuser=True) | Q(team__isnull=False),
                name="user_practitioner_manager_has_team",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def clean(self) -> None:
        super().clean()
        if self.team_id and self.agency_id and self.team.agency_id != self.agency_id:
            raise ValidationError({"team": "The team must belong to the user's agency."})
        if self.is_superuser:
            return
        if self.role != Role.ADMIN and not self.agency_id:
            raise ValidationError({"agency": "Every user except an administrator belongs to an agency."})
        if self.role in (Role.PRACTITIONER, Role.MANAGER) and not self.team_id:
            raise ValidationError({"team": "Practitioners and managers belong to a team."})

    @property
    def is_partner(self) -> bool:
        return self.role == Role.PARTNER

    @property
    def is_platform_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser


class FamilyLevel(models.TextChoices):
    EARLY_HELP = "early_help", "Early help"
    CHILD_IN_NEED = "child_in_need", "Child in need"
    CHILD_PROTECTION = "child_protection", "Child protection"
    LOOKED_AFTER = "looked_after", "Looked after"


class FamilyStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Family(models.Model):
    reference = models.CharField(max_length=32, unique=True, help_text="The service's case reference.")
    name = models.CharField(max_length=200, help_text="How the family is known, e.g. 'Smith family'.")
    address = models.TextField(blank=True)
    postcode = models.CharField(max_length=12, blank=True)
    local_authority = models.CharField(max_length=120, blank=True)
    level = models.CharField(max_length=20, choices=FamilyLevel.choices, default=FamilyLevel.EARLY_HELP)
    status = models.CharField(max_length=10, choices=FamilyStatus.choices, default=FamilyStatus.OPEN)
    # Indexed with the id (Meta.indexes), not alone: see migration 0007.
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="families", db_index=False)
    # Indexed with the status (Meta.indexes), not alone: see migration 0008.
    lead_professional = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="lead_for", null=True, blank=True, db_index=False
    )
    # Child K (seed 002): the father, who lived elsewhere, was never recorded. The family must be
    # asked about other significant adults, partners living elsewhere included, and the answer kept.
    significant_adults_confirmed = models.BooleanField(
        default=False,
        help_text="The family was asked about other significant adults (partners elsewhere included) "
        "and the answer is recorded.",
    )
    significant_adults_note = models.TextField(blank=True, help_text="What the family said.")
    significant_adults_confirmed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Optimistic concurrency: each save adds one; an edit made from an older version is refused
    # (409 in the API, a conflict page in the browser) instead of overwriting what was saved since.
    version = models.PositiveIntegerField(
        default=1,
        help_text="Counts up on each change. Send it back (or an If-Match header) when changing the record: "
        "if someone else changed it since, the change is refused with 409 Conflict.",
    )
    # A restricted record (DESIGN 6: a staff member's own family, a family known in the press, a
    # child in hiding) is seen only by the people holding the `view_restricted_family` grant on
    # it (`FamilyUserObjectPermission`); `cases.access` applies that to every role, admins too.
    restricted = models.BooleanField(
        default=False, help_text="Only the people named on the record can see it, whatever their role."
    )
    restriction_reason = models.TextField(blank=True, help_text="Why the record is restricted.")
    # Prompts the checks raise for a restricted family go to this manager when the person they
    # would go to is not named on it (`escalation.services.prompts`).
    restricted_by = models.ForeignKey(
        User, on_delete=models.PROTECT, related_name="+", null=True, blank=True, db_index=False
    )

    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "families"
        permissions = [("view_restricted_family", "See a restricted family")]
        indexes = [
            models.Index(fields=["team", "status"], name="family_team_status"),
            models.Index(fields=["team", "id"], name="family_team_id"),
            models.Index(fields=["lead_professional", "status"], name="family_lead_status"),
            # The few restricted families, read by every visibility query (`cases.access`).
            models.Index(fields=["id"], condition=Q(restricted=True), name="family_restricted"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.reference})"


class FamilyUserObjectPermission(UserObjectPermissionBase):
    """django-guardian's per-object grant with a real foreign key to the family (not its generic
    `object_pk` text column), so the visibility rule is one indexed `id IN (subquery)`."""

    content_object = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="user_grants")

    # The base's unique (user, permission, content_object) index serves the visibility subquery.
    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = "restricted-record grant"


class LeadProfessionalAssignment(models.Model):
    """Who held the lead professional role for a family, and when (Child K, seed 004)."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="lead_history")
    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    assigned_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)

    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["family"],
                condition=Q(ended_at__isnull=True),
                name="one_current_lead_professional",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="lead_assignment_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} lead for family {self.family_id} from {self.started_at:%Y-%m-%d}"


class FamilyShare(models.Model):
    """An information-sharing agreement with one partner agency for one family.

    Access holds only while the share is current: started, not past its end date, not ended.
    Ending a share (DELETE in the API) sets `ended_at` so the record of the share stays.
    """

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="shares")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="shares")
    purpose = models.TextField()
    legal_basis = models.CharField(max_length=300)
    starts = models.DateField(default=dt.date.today)
    ends = models.DateField(null=True, blank=True, help_text="Last day of access (inclusive).")
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When the share was ended early.")
    ended_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-starts", "-id"]
        indexes = [models.Index(fields=["agency", "family"], name="share_agency_family")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends__isnull=True) | Q(ends__gte=models.F("starts")),
                name="share_ends_after_start",
            ),
            models.CheckConstraint(condition=~Q(purpose=""), name="share_has_purpose"),
            models.CheckConstraint(condition=~Q(legal_basis=""), name="share_has_legal_basis"),
        ]

    def __str__(self) -> str:
        return f"Family {self.family_id} shared with {self.agency}"

    def clean(self) -> None:
        super().clean()
        if self.ends and self.starts and self.ends < self.starts:
            raise ValidationError({"ends": "The share cannot end before it starts."})

    def is_current(self, today: dt.date | None = None) -> bool:
        today = today or timezone.localdate()
        return self.ended_at is None and self.starts <= today and (self.ends is None or self.ends >= today)


class MemberRole(models.TextChoices):
    CHILD = "child", "Child"
    MOTHER = "mother", "Mother"
    FATHER = "father", "Father"
    STEP_PARENT = "step_parent", "Step-parent"
    PARTNER = "partner", "Partner"
    GRANDPARENT = "grandparent", "Grandparent"
    SIBLING = "sibling", "Sibling"
    CARER = "carer", "Carer"
    OTHER_ADULT = "other_adult", "Other adult"


PARENT_ROLES = (MemberRole.MOTHER, MemberRole.FATHER, MemberRole.STEP_PARENT)


class Member(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="members")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    # Child K (seed 004): "check out the exact spelling of names according to the family".
    name_spelling_confirmed = models.BooleanField(default=False)
    aliases = models.JSONField(default=list, blank=True, help_text="Other names and spellings in use.")
    date_of_birth = models.DateField(null=True, blank=True)
    role = models.CharField(max_length=20, choices=MemberRole.choices)
    lives_in_household = models.BooleanField(default=True)
    parental_responsibility = models.BooleanField(default=False)
    contact_phone = models.CharField(max_length=40, blank=True)
    contact_address = models.TextField(blank=True)
    additional_needs = models.TextField(blank=True, help_text="Additional needs or disability (children).")
    school = models.CharField(max_length=200, blank=True)
    gp_practice = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Optimistic concurrency: each save adds one; an edit made from an older version is refused
    # (409 in the API, a conflict page in the browser) instead of overwriting what was saved since.
    version = models.PositiveIntegerField(
        default=1,
        help_text="Counts up on each change. Send it back (or an If-Match header) when changing the record: "
        "if someone else changed it since, the change is refused with 409 Conflict.",
    )
    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["family_id", "id"]
        indexes = [models.Index(fields=["family", "role"], name="member_family_role")]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def is_child(self) -> bool:
        return self.role == MemberRole.CHILD

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class RelationshipKind(models.TextChoices):
    PARENT_OF = "parent_of", "Parent of"
    PARTNER_OF = "partner_of", "Partner of"


class Relationship(models.Model):
    """`from_member` is the parent (or a partner) of `to_member`."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="relationships")
    from_member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="relationships_from")
    to_member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="relationships_to")
    kind = models.CharField(max_length=20, choices=RelationshipKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["from_member", "to_member", "kind"], name="relationship_unique"),
            models.CheckConstraint(
                condition=~Q(from_member=models.F("to_member")),
                name="relationship_not_self",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_member_id} {self.kind} {self.to_member_id}"

    def clean(self) -> None:
        super().clean()
        if self.from_member_id and self.from_member_id == self.to_member_id:
            raise ValidationError({"to_member": "A person cannot be related to themselves."})


class GapReason(models.TextChoices):
    NOT_ASKED = "not_asked", "Not asked yet"
    DECLINED = "declined", "Family declined to say"
    UNKNOWN = "unknown", "Not known to the family"


class InformationGap(models.Model):
    """A fact about the family not yet known, why, and when to ask again (seed 002)."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="gaps")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="gaps", null=True, blank=True)
    subject = models.CharField(
        max_length=200,
        help_text="The field or question, e.g. 'father', 'mother', 'parent', 'date_of_birth', 'contact'. "
        "A family-wide gap about 'father', 'mother', 'parent', 'other_parent' or 'parents' explains a child's "
        "missing parent until its revisit date.",
    )
    reason = models.CharField(max_length=20, choices=GapReason.choices)
    note = models.TextField(blank=True)
    revisit_on = models.DateField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["revisit_on", "id"]
        indexes = [models.Index(fields=["family", "resolved_at"], name="gap_family_resolved")]

    def __str__(self) -> str:
        return f"{self.subject} ({self.get_reason_display()})"


class CaseNote(models.Model):
    """A significant event typed by a practitioner, shown in the chronology."""

    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
    at = models.DateTimeField(default=timezone.now)
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["family", "at"], name="note_family_at")]

    def __str__(self) -> str:
        return f"Note on family {self.family_id} at {self.at:%Y-%m-%d %H:%M}"
