from django.contrib import admin

from audit.admin_mixins import AuditedReadOnlyAdmin

from .models import Appointment, Visit


@admin.register(Visit)
class VisitAdmin(AuditedReadOnlyAdmin):
    list_display = ("family", "scheduled_for", "planned", "status", "agency")
    list_filter = ("status", "planned", "agency")
    list_select_related = ("family", "agency")
    raw_id_fields = (
        "family",
        "practitioner",
        "created_by",
        "children_seen",
        "children_seen_alone",
    )


@admin.register(Appointment)
class AppointmentAdmin(AuditedReadOnlyAdmin):
    list_display = (
        "member",
        "family",
        "kind",
        "scheduled_for",
        "critical",
        "status",
        "agency",
    )
    list_filter = ("status", "kind", "critical", "agency")
    list_select_related = ("member", "family", "agency")
    raw_id_fields = ("member", "family", "created_by")
