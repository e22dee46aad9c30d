"""Flags (what a check found), escalation prompts (what needs a person's decision), and the one
place for every threshold (`CheckSettings`, editable in the admin, defaults from DESIGN section 4)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from cases.models import Family, Member


class CheckSettings(models.Model):
    """Thresholds of the checks. One row; the admin edits it, no deploy needed.

    The defaults are DESIGN section 4's, which come from the seeds: Child K (004) and briefing 001
    on "was not brought", Child L (000) on engagement patterns, Child K (002) on family composition.
    """

    # was_not_brought
    wnb_window_days = models.PositiveIntegerField(default=90)
    wnb_min_count = models.PositiveIntegerField(default=2, help_text="WNBs in the window that raise a flag.")
    wnb_high_window_days = models.PositiveIntegerField(default=180)
    wnb_high_count = models.PositiveIntegerField(default=3, help_text="WNBs in the long window that make it high.")
    wnb_high_agencies = models.PositiveIntegerField(default=2, help_text="Distinct agencies that make it high.")
    # engagement_decline
    engagement_window_days = models.PositiveIntegerField(default=90)
    engagement_min_unsuccessful = models.PositiveIntegerField(default=3)
    engagement_share_percent = models.PositiveIntegerField(
        default=50, validators=[MaxValueValidator(100)], help_text="Unsuccessful share (%) that raises a flag."
    )
    engagement_increase_ratio = models.DecimalField(
        max_digits=4,
        decimal_places=2,
        default=Decimal("2.00"),
        validators=[MinValueValidator(Decimal("1.00"))],
        help_text="Or this many times the unsuccessful share of the window before.",
    )
    engagement_consecutive_no_access = models.PositiveIntegerField(default=2)
    engagement_consecutive_no_access_high = models.PositiveIntegerField(default=3)
    # escalation
    prompt_due_working_days = models.PositiveIntegerField(default=5)
    # running
    # Families per chunk (one transaction, one Celery task). Each chunk costs ~15 ms whatever its
    # size; 5,000 keeps that under a fifth of a steady run and still gives 20 chunks per 100,000
    # families to share between workers (measured: `was_not_brought` 1.7 s at 2,000, 1.1 s at 5,000).
    chunk_size = models.PositiveIntegerField(default=5000, validators=[MinValueValidator(100)])
    # An incremental run re-checks families changed since a point a little before the previous run
    # (and before any transaction then still open): this margin covers clocks that differ between
    # the app servers and the database, and a change's time being taken just before its transaction
    # begins. A larger margin only re-checks a few more families (the checks are idempotent).
    incremental_overlap_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(24 * 3600)],
        help_text="Seconds of overlap between incremental runs, for clock differences between servers.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = verbose_name_plural = "check settings"

    def __str__(self) -> str:
        return "Check settings"

    def save(self, *args, **kwargs):
        self.pk = 1  # a single row
        super().save(*args, **kwargs)

    @classmethod
    def load(cls) -> CheckSettings:
        obj, _ = cls.objects.get_or_create(pk=1)
        return obj


class Severity(models.TextChoices):
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


SEVERITY_ORDER = {Severity.MEDIUM: 1, Severity.HIGH: 2}


class FlagStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Flag(models.Model):
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="flags")
    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="flags", null=True, blank=True)
    rule = models.CharField(max_length=40, db_index=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=10, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    detail = models.TextField(help_text="Plain-language explanation naming the evidence.")
    evidence = models.JSONField(default=dict, help_text="The records, agencies and dates the flag rests on.")
    signature = models.CharField(
        max_length=32,
        blank=True,
        default="",
        editable=False,
        help_text="A digest of what the detail and evidence were built from: the checks rebuild them only when "
        "it changes (empty: always rebuilt and compared).",
    )
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-first_seen", "-id"]
        indexes = [
            models.Index(fields=["family", "status"], name="flag_family_status"),
            models.Index(fields=["status", "rule", "severity"], name="flag_status_rule_severity"),
        ]
        constraints = [
            # Checks are idempotent: one open flag per family + rule + member (no member counts as one).
            models.UniqueConstraint(
                fields=["family", "rule", "member"],
                condition=Q(status="open"),
                nulls_distinct=False,
                name="one_open_flag_per_family_rule_member",
            ),
            models.CheckConstraint(
                condition=Q(status="open", resolved_at__isnull=True) | Q(status="resolved", resolved_at__isnull=False),
                name="flag_resolved_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} ({self.severity}) on family {self.family_id}"

    @property
    def rule_title(self) -> str:
        from escalation.rules import RULES

        rule = RULES.get(self.rule)
        return rule.title if rule else self.rule.replace("_", " ").capitalize()


class PromptLevel(models.TextChoices):
    LEAD_PROFESSIONAL = "lead_professional", "Lead professional"
    TEAM_MANAGER = "team_manager", "Team manager"
    HEAD_OF_SERVICE = "head_of_service", "Head of service"
    PARTNERSHIP = "partnership", "Safeguarding partnership"


LEVEL_ORDER = [
    PromptLevel.LEAD_PROFESSIONAL,
    PromptLevel.TEAM_MANAGER,
    PromptLevel.HEAD_OF_SERVICE,
    PromptLevel.PARTNERSHIP,
]


class PromptStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ACTIONED = "actioned", "Actioned"
    ESCALATED = "escalated", "Escalated"


ACTIVE_PROMPT_STATUSES = (PromptStatus.OPEN, PromptStatus.ACKNOWLEDGED)


class EscalationPrompt(models.Model):
    """A flag that needs a person's decision at one level. Escalating closes this prompt as
    `escalated` and opens the next level's, linked by `escalated_from`; nothing is deleted."""

    flag = models.ForeignKey(Flag, on_delete=models.PROTECT, related_name="prompts")
    family = models.ForeignKey(Family, on_delete=models.CASCADE, related_name="prompts")
    level = models.CharField(max_length=20, choices=PromptLevel.choices)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="prompts", null=True, blank=True
    )
    status = models.CharField(max_length=20, choices=PromptStatus.choices, default=PromptStatus.OPEN)
    due = models.DateField()
    escalated_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, related_name="escalated_to", null=True, blank=True
    )
    action_taken = models.TextField(blank=True)
    rationale = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["due", "id"]
        indexes = [
            models.Index(fields=["status", "due"], name="prompt_status_due"),
            models.Index(fields=["assigned_to", "status"], name="prompt_assignee_status"),
            models.Index(fields=["family", "status"], name="prompt_family_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="actioned") | (~Q(action_taken="") & ~Q(rationale="")),
                name="actioned_prompt_has_action_and_rationale",
            ),
        ]

    def __str__(self) -> str:
        return f"Prompt {self.pk} ({self.level}, {self.status})"


class PromptEventKind(models.TextChoices):
    RAISED = "raised", "Raised"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    ACTIONED = "actioned", "Actioned"
    ESCALATED = "escalated", "Escalated"
    REASSIGNED = "reassigned", "Handed to someone else"


class PromptEvent(models.Model):
    """The history of a prompt: every transition, who made it (none: the system), and why."""

    prompt = models.ForeignKey(EscalationPrompt, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=PromptEventKind.choices)
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20)
    action_taken = models.TextField(blank=True)
    rationale = models.TextField(blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} prompt {self.prompt_id} at {self.at:%Y-%m-%d %H:%M}"


class CheckRunKind(models.TextChoices):
    FULL = "full", "Full"
    INCREMENTAL = "incremental", "Incremental"
    ON_DEMAND = "on_demand", "On demand"


class CheckRun(models.Model):
    """One run of the checks: when, what kind, and what it did (per rule)."""

    kind = models.CharField(max_length=20, choices=CheckRunKind.choices)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    chunks = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    families = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    # A run limited to some rules or families does not move the incremental starting point.
    restricted = models.BooleanField(default=False)
    # Where the next incremental run starts looking: the earlier of this run's start and the start
    # of the oldest transaction still open when it began reading, less the overlap margin. A change
    # committed after this run read the families was made in such a transaction, so its time is
    # after this point (empty for runs recorded before it was kept: their start is used).
    next_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        get_latest_by = "started_at"

    def __str__(self) -> str:
        return f"{self.kind} run {self.started_at:%Y-%m-%d %H:%M}"
