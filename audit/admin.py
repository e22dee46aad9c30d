from django.contrib import admin

from .admin_mixins import StrictLookupsMixin
from .models import AuditEvent, SecurityEvent


class ReadOnlyAdmin(StrictLookupsMixin, admin.ModelAdmin):
    """Read-only: the logs cannot be edited or deleted through the application."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Admins search the audit log: by person, family, record, action, route and date."""

    list_display = ("at", "actor", "action", "model", "object_id", "family_id", "route")
    list_filter = ("action", "model", ("at", admin.DateFieldListFilter))
    search_fields = ("=family_id", "=object_id", "route", "actor__username")
    search_help_text = "Search by family id, record id, route or username."
    date_hierarchy = "at"
    list_select_related = ("actor",)
    show_full_result_count = False


@admin.register(SecurityEvent)
class SecurityEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "username", "user", "route", "status_code", "ip_address")
    list_filter = ("kind", ("at", admin.DateFieldListFilter))
    search_fields = ("username", "route", "=ip_address")
    search_help_text = "Search by username, route or IP address."
    date_hierarchy = "at"
    list_select_related = ("user",)
    show_full_result_count = False
