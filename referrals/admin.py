from django.contrib import admin

from audit.admin_mixins import AuditedReadOnlyNoHistoryAdmin
from audit.services import REDACTED_FIELDS

from .models import Referral


@admin.register(Referral)
class ReferralAdmin(AuditedReadOnlyNoHistoryAdmin):
    # The confidential referrer is for the owning team only, not administrators (cases.access):
    # not shown, and no changelist lookup may touch it (audit.admin_mixins).
    exclude = tuple(sorted(REDACTED_FIELDS))
    list_display = ("family", "received_at", "source", "decision")
    list_filter = ("source", "decision")
    list_select_related = ("family",)
    raw_id_fields = ("family", "recorded_by")
