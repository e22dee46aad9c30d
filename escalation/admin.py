from django.contrib import admin

from audit.admin_mixins import AuditedReadOnlyAdmin, ReadOnlyInline, StrictLookupsMixin

from .models import CheckRun, CheckSettings, EscalationPrompt, Flag, PromptEvent


@admin.register(CheckSettings)
class CheckSettingsAdmin(StrictLookupsMixin, admin.ModelAdmin):
    """The thresholds of every check, in one row: change them here, no deploy needed."""

    fieldsets = (
        (
            "Was not brought",
            {
                "fields": (
                    "wnb_window_days",
                    "wnb_min_count",
                    "wnb_high_window_days",
                    "wnb_high_count",
                    "wnb_high_agencies",
                )
            },
        ),
        (
            "Engagement decline",
            {
                "fields": (
                    "engagement_window_days",
                    "engagement_min_unsuccessful",
                    "engagement_share_percent",
                    "engagement_increase_ratio",
                    "engagement_consecutive_no_access",
                    "engagement_consecutive_no_access_high",
                )
            },
        ),
        (
            "Escalation and running",
            {"fields": ("prompt_due_working_days", "chunk_size", "incremental_overlap_seconds")},
        ),
    )

    def has_add_permission(self, request):
        return not CheckSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Flag)
class FlagAdmin(AuditedReadOnlyAdmin):
    """Read-only and audited: a flag is opened and resolved by the checks, and decided through its
    prompts on the dashboard or the API, so every change is recorded (issue 14, item 11)."""

    list_display = ("rule", "severity", "status", "family", "member", "first_seen", "resolved_at")
    list_filter = ("rule", "severity", "status")
    list_select_related = ("family", "member")
    raw_id_fields = ("family", "member")


class PromptEventInline(ReadOnlyInline):
    model = PromptEvent
    readonly_fields = ("at", "actor", "kind", "from_status", "to_status", "action_taken", "rationale", "reason")


@admin.register(EscalationPrompt)
class EscalationPromptAdmin(AuditedReadOnlyAdmin):
    """Read-only and audited: decisions are taken on the dashboard or through the API, so they are recorded."""

    list_display = ("id", "family", "level", "assigned_to", "status", "due")
    list_filter = ("level", "status")
    list_select_related = ("family", "assigned_to")
    raw_id_fields = ("flag", "family", "assigned_to", "escalated_from")
    inlines = [PromptEventInline]


@admin.register(CheckRun)
class CheckRunAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("started_at", "kind", "families", "chunks", "chunks_done", "finished_at")
    list_filter = ("kind",)
    readonly_fields = (
        "kind",
        "started_at",
        "next_since",
        "finished_at",
        "chunks",
        "chunks_done",
        "families",
        "counts",
        "restricted",
    )
