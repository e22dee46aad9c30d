from django.contrib import admin

from .models import Referral


@admin.register(Referral)
class ReferralAdmin(admin.ModelAdmin):
    list_display = ("family", "received_at", "source", "decision")
    list_filter = ("source", "decision")
    list_select_related = ("family",)
    raw_id_fields = ("family", "recorded_by")
