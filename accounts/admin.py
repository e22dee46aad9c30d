from django.contrib import admin

from audit.admin_mixins import StrictLookupsMixin

from .models import UserSession


@admin.register(UserSession)
class UserSessionAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("user", "created_at")
    search_fields = ("user__username",)
    # Never the session key: it would let whoever reads the page act as that person.
    fields = ("user", "created_at")
    readonly_fields = ("user", "created_at")
    list_select_related = ("user",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
