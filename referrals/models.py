"""Referrals: a concern reported to the service.

The referrer's identity is confidential: recorded for the receiving service so the allocated
worker can talk to them (Child L, seed 000), never shown to the family, a partner, an export or
a log line. Visibility of those fields is decided in `referrals.selectors`.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from cases.models import Family, User
from cases.validators import validate_plausible_datetime


class ReferralSource(models.TextChoices):
    PROFESSIONAL = "professional", "A professional"
    FAMILY = "family", "A family member"
    PUBLIC = "public", "A member of the public"
    CHILD = "child", "The child"
    ANONYMOUS = "anonymous", "Anonymous (not to be named to the family)"


class Concern(models.TextChoices):
    NEGLECT = "neglect", "Neglect"
    PHYSICAL_ABUSE = "physical_abuse", "Physical abuse"
    EMOTIONAL_ABUSE = "emotional_abuse", "Emotional abuse"
    SEXUAL_ABUSE = "sexual_abuse", "Sexual abuse"
    DOMESTIC_ABUSE = "domestic_abuse", "Domestic abuse"
    EXPLOITATION = "exploitation", "Exploitation"
    HOME_CONDITIONS = "home_conditions", "Home conditions"
    MENTAL_HEALTH = "mental_health", "Parental mental health"
    SUBSTANCE_MISUSE = "substance_misuse", "Substance misuse"
    OTHER = "other", "Other"


# Priority comes from the concerns, never from the source: an anonymous referral is weighed
# equally (Child L, seed 000: "equal weight should be given to anonymous referrals").
HIGH_PRIORITY_CONCERNS = frozenset(
    {
        Concern.PHYSICAL_ABUSE,
        Concern.SEXUAL_ABUSE,
        Concern.EXPLOITATION,
        Concern.DOMESTIC_ABUSE,
    }
)


class ReferralDecision(models.TextChoices):
    PENDING = "", "Awaiting decision"
    INFORMATION_AND_ADVICE = "information_and_advice", "Information and advice"
    EARLY_HELP = "early_help", "Early help"
    ASSESSMENT = "assessment", "Child and family assessment"
    STRATEGY_DISCUSSION = "strategy_discussion", "Strategy discussion"
    NO_FURTHER_ACTION = "no_further_action", "No further action"


class Referral(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="referrals")
    received_at = models.DateTimeField(default=timezone.now, validators=[validate_plausible_datetime])
    source = models.CharField(max_length=20, choices=ReferralSource.choices)
    # --- confidential: owning team only -------------------------------------------------
    referrer_name = models.CharField(max_length=200, blank=True)
    referrer_contact = models.CharField(max_length=300, blank=True)
    supporting_professional = models.CharField(
        max_length=300,
        blank=True,
        help_text="The professional who supported a member of the public to refer.",
    )
    # ----------------------------------------------------------------------------------------
    concerns = models.JSONField(default=list, help_text="Concern codes.")
    summary = models.TextField()
    decision = models.CharField(max_length=30, choices=ReferralDecision.choices, blank=True, default="")
    decision_at = models.DateTimeField(null=True, blank=True, validators=[validate_plausible_datetime])
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+", null=True, blank=True)
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
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["family", "received_at"], name="referral_family_received")]
        constraints = [
            models.CheckConstraint(condition=~Q(summary=""), name="referral_has_summary"),
            models.CheckConstraint(
                condition=Q(decision="", decision_at__isnull=True) | (~Q(decision="") & Q(decision_at__isnull=False)),
                name="referral_decision_has_date",
            ),
        ]

    def __str__(self) -> str:
        return f"Referral {self.pk} ({self.get_source_display()}) {self.received_at:%Y-%m-%d}"

    @property
    def priority(self) -> str:
        return "high" if HIGH_PRIORITY_CONCERNS.intersection(self.concerns or []) else "standard"
