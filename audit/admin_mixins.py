"""The Django admin over the case record: read-only, audited, with change history.

Changes to a family's record go through the services (validation, audit, versions), in the pages
or the API, never around them in the admin. An admin opening a record here is a read like any
other and is written to the audit log; `history` (django-simple-history) shows previous values.
"""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from .services import audit_read


class AuditedReadOnlyAdmin(SimpleHistoryAdmin):
    """`family_attr`: the attribute holding the record's family id ("pk" for Family itself)."""

    family_attr = "family_id"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        obj = getattr(response, "context_data", {}).get("original") if hasattr(response, "context_data") else None
        if obj is not None and response.status_code == 200:
            audit_read(actor=request.user, instance=obj, family_id=getattr(obj, self.family_attr))
        return response


class AuditedReadOnlyNoHistoryAdmin(AuditedReadOnlyAdmin):
    """For records whose history holds fields the admin must not see (the confidential referrer)."""

    def history_view(self, request, object_id, extra_context=None):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied


__all__ = ["AuditedReadOnlyAdmin", "AuditedReadOnlyNoHistoryAdmin", "admin"]
