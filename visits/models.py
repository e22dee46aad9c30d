"""Visits by practitioners and appointments with any agency, and how they went.

Words matter here: a child's missed appointment is "was not brought" — children do not fail
to attend (seed 001, theme 3). `did_not_attend` is for adults only; the database enforces both.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cases.models import Agency, Family, Member, User
from cases.validators import validate_plausible_datetime


class VisitStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    COMPLETED = "completed", "Completed"
    NO_ACCESS = "no_access", "No access"
    CANCELLED_BY_FAMILY = "cancelled_by_family", "Cancelled by the family"
    CANCELLED_LATE = (
        "cancelled_late",
        "Cancelled by the family with under 24 hours' notice",
    )
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED_BY_SERVICE = "cancelled_by_service", "Cancelled by the service"


class Visit(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="visits")
    practitioner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="visits", null=True, blank=True)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="visits")
    # Child L (seed 000): every planned visit has a clear purpose and desired outcome, shared
    # with the family; opportunistic (unplanned) visits are not evidence of non-engagement.
    planned = models.BooleanField(default=True)
    purpose = models.TextField(blank=True)
    expected_outcome = models.TextField(blank=True)
    purpose_shared_with_family = models.BooleanField(default=False)
    scheduled_for = models.DateTimeField(validators=[validate_plausible_datetime])
    status = models.CharField(max_length=24, choices=VisitStatus.choices, default=VisitStatus.SCHEDULED)
    outcome = models.TextField(blank=True)
    next_steps = models.TextField(blank=True)
    children_seen = models.ManyToManyField(Member, related_name="visits_seen", blank=True)
    children_seen_alone = models.ManyToManyField(Member, related_name="visits_seen_alone", blank=True)
    voice_of_child = models.TextField(blank=True, help_text="What the child said; their lived experience.")
    home_conditions = models.TextField(blank=True)
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
    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        indexes = [models.Index(fields=["family", "scheduled_for"], name="visit_family_scheduled")]
        constraints = [
            models.CheckConstraint(
                condition=Q(planned=False) | (~Q(purpose="") & ~Q(expected_outcome="")),
                name="planned_visit_has_purpose_and_outcome",
            ),
        ]

    def __str__(self) -> str:
        return f"Visit {self.pk} {self.scheduled_for:%Y-%m-%d} {self.status}"


class AppointmentKind(models.TextChoices):
    HEALTH_REVIEW = "health_review", "Health review"
    DEVELOPMENT_CHECK = "development_check", "Development check"
    IMMUNISATION = "immunisation", "Immunisation"
    GP = "gp", "GP"
    HOSPITAL = "hospital", "Hospital"
    PAEDIATRIC_REVIEW = "paediatric_review", "Paediatric review"
    DENTAL = "dental", "Dental"
    CAMHS = "camhs", "CAMHS"
    THERAPY = "therapy", "Therapy"
    SCHOOL_MEETING = "school_meeting", "School meeting"
    OTHER = "other", "Other"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    ATTENDED = "attended", "Attended"
    WAS_NOT_BROUGHT = "was_not_brought", "Was not brought"
    DID_NOT_ATTEND = "did_not_attend", "Did not attend (adult)"
    CANCELLED_BY_FAMILY = "cancelled_by_family", "Cancelled by the family"
    RESCHEDULED = "rescheduled", "Rescheduled"
    CANCELLED_BY_SERVICE = "cancelled_by_service", "Cancelled by the service"


class Appointment(models.Model):
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="appointments")
    # Denormalised from the member so checks and visibility filter one table, set-based.
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="appointments")
    for_child = models.BooleanField(help_text="Copied from the member's role; kept in step by the services.")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="appointments")
    kind = models.CharField(max_length=24, choices=AppointmentKind.choices)
    scheduled_for = models.DateTimeField(validators=[validate_plausible_datetime])
    # Child K (seed 004): "which appointments should not be missed?"
    critical = models.BooleanField(default=False, help_text="Must not be missed.")
    status = models.CharField(
        max_length=24,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
    )
    notes = models.TextField(blank=True)
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
    # Previous values of every field, kept on each save (django-simple-history).
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-scheduled_for", "-id"]
        indexes = [
            models.Index(fields=["family", "scheduled_for"], name="appt_family_scheduled"),
            models.Index(
                fields=["member", "status", "scheduled_for"],
                name="appt_member_status_when",
            ),
            # The `was_not_brought` check reads only these (about 8 % of appointments), by family id
            # range and date: an index-only scan of a chunk's children, on PostgreSQL.
            models.Index(
                fields=["family", "scheduled_for"],
                include=["id", "member", "agency", "critical", "kind"],
                condition=Q(status="was_not_brought", for_child=True),
                name="appt_wnb_family_when",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="was_not_brought") | Q(for_child=True),
                name="was_not_brought_only_for_child",
            ),
            models.CheckConstraint(
                condition=~Q(status="did_not_attend") | Q(for_child=False),
                name="did_not_attend_only_for_adult",
            ),
            # Two identical appointments would each count as a missed one: the checks would see
            # two "was not brought" where there was one (issue 14, item 2).
            models.UniqueConstraint(
                fields=["member", "agency", "kind", "scheduled_for"],
                name="appointment_not_duplicated",
                violation_error_message="This appointment is already recorded.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.scheduled_for:%Y-%m-%d} {self.get_status_display()}"
