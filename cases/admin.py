from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from audit.admin_mixins import AuditedReadOnlyAdmin, ReadOnlyInline, StrictLookupsMixin

from .models import (
    Agency,
    CaseNote,
    Family,
    FamilyShare,
    InformationGap,
    LeadProfessionalAssignment,
    Member,
    Relationship,
    Team,
    User,
)


@admin.register(Agency)
class AgencyAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "phone")
    list_filter = ("kind",)
    search_fields = ("name",)


@admin.register(Team)
class TeamAdmin(StrictLookupsMixin, admin.ModelAdmin):
    list_display = ("name", "agency")
    list_select_related = ("agency",)
    search_fields = ("name", "agency__name")


@admin.register(User)
class UserAdmin(StrictLookupsMixin, DjangoUserAdmin):
    list_display = (
        "username",
        "first_name",
        "last_name",
        "role",
        "agency",
        "team",
        "is_active",
    )
    list_filter = ("role", "is_active", "agency")
    list_select_related = ("agency", "team")
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        (
            "Role and agency",
            {"fields": ("role", "agency", "team", "job_title", "phone")},
        ),
    )
    add_fieldsets = (
        *DjangoUserAdmin.add_fieldsets,
        ("Role and agency", {"fields": ("role", "agency", "team")}),
    )


class MemberInline(ReadOnlyInline):
    model = Member
    extra = 0
    fields = (
        "given_name",
        "family_name",
        "role",
        "date_of_birth",
        "lives_in_household",
        "contact_phone",
    )


class ShareInline(ReadOnlyInline):
    model = FamilyShare
    fk_name = "family"
    extra = 0
    fields = ("agency", "purpose", "legal_basis", "starts", "ends", "ended_at")
    readonly_fields = ("ended_at",)


@admin.register(Family)
class FamilyAdmin(AuditedReadOnlyAdmin):
    family_field = ""
    family_attr = "pk"
    list_display = (
        "reference",
        "name",
        "level",
        "status",
        "team",
        "lead_professional",
        "updated_at",
    )
    list_filter = ("status", "level", "team")
    list_select_related = ("team__agency", "lead_professional")
    search_fields = ("reference", "name")
    raw_id_fields = ("lead_professional", "created_by")
    inlines = [MemberInline, ShareInline]


@admin.register(Member)
class MemberAdmin(AuditedReadOnlyAdmin):
    list_display = ("given_name", "family_name", "role", "family", "lives_in_household")
    list_filter = ("role", "lives_in_household")
    list_select_related = ("family",)
    search_fields = ("given_name", "family_name", "family__reference")
    raw_id_fields = ("family",)


@admin.register(Relationship)
class RelationshipAdmin(AuditedReadOnlyAdmin):
    list_display = ("from_member", "kind", "to_member", "family")
    list_select_related = ("from_member", "to_member", "family")
    raw_id_fields = ("family", "from_member", "to_member")


@admin.register(InformationGap)
class InformationGapAdmin(AuditedReadOnlyAdmin):
    list_display = ("subject", "family", "reason", "revisit_on", "resolved_at")
    list_filter = ("reason",)
    list_select_related = ("family",)
    raw_id_fields = ("family", "member", "recorded_by")


@admin.register(FamilyShare)
class FamilyShareAdmin(AuditedReadOnlyAdmin):
    list_display = ("family", "agency", "starts", "ends", "ended_at")
    list_filter = ("agency",)
    list_select_related = ("family", "agency")
    raw_id_fields = ("family", "created_by", "ended_by")


@admin.register(LeadProfessionalAssignment)
class LeadProfessionalAssignmentAdmin(AuditedReadOnlyAdmin):
    list_display = ("family", "user", "started_at", "ended_at")
    list_select_related = ("family", "user")
    raw_id_fields = ("family", "user", "assigned_by")


@admin.register(CaseNote)
class CaseNoteAdmin(AuditedReadOnlyAdmin):
    list_display = ("family", "author", "at")
    list_select_related = ("family", "author")
    raw_id_fields = ("family", "author")
