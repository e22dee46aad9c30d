from __future__ import annotations

from rest_framework import serializers

from cases.access import visible_families
from cases.api.base import FastReadMixin
from cases.models import (
    Agency,
    Family,
    FamilyShare,
    InformationGap,
    LeadProfessionalAssignment,
    Member,
    Relationship,
    Team,
    User,
)


def _request_user(serializer: serializers.Serializer) -> User | None:
    request = serializer.context.get("request")
    return getattr(request, "user", None)


class MeSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "role", "agency", "team"]


class AgencySerializer(serializers.ModelSerializer):
    class Meta:
        model = Agency
        fields = ["id", "name", "kind", "phone", "updated_at"]


class MemberBriefListSerializer(serializers.ListSerializer):
    """A family's members: the list `selectors.family_list_brief` read for the whole page, when
    the family came from it, else `family.members`."""

    def get_attribute(self, instance):
        rows = getattr(instance, "member_rows", None)
        return rows if rows is not None else super().get_attribute(instance)


class MemberBriefSerializer(FastReadMixin, serializers.ModelSerializer):
    class Meta:
        model = Member
        fields = ["id", "given_name", "family_name", "role", "date_of_birth", "lives_in_household"]
        list_serializer_class = MemberBriefListSerializer


class FamilySerializer(FastReadMixin, serializers.ModelSerializer):
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(), required=False, help_text="The owning team; the creator's team unless given."
    )
    lead_professional = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), required=False, allow_null=True, help_text="A user id."
    )
    members = MemberBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Family
        fields = [
            "id",
            "reference",
            "name",
            "status",
            "level",
            "team",
            "lead_professional",
            "members",
            "significant_adults_confirmed",
            "significant_adults_note",
            "significant_adults_confirmed_at",
            "address",
            "postcode",
            "local_authority",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["reference", "significant_adults_confirmed_at", "created_at", "updated_at"]


class MemberSerializer(serializers.ModelSerializer):
    family = serializers.PrimaryKeyRelatedField(queryset=Family.objects.none())
    aliases = serializers.ListField(child=serializers.CharField(max_length=200), required=False)

    class Meta:
        model = Member
        fields = [
            "id",
            "family",
            "given_name",
            "family_name",
            "name_spelling_confirmed",
            "aliases",
            "role",
            "date_of_birth",
            "lives_in_household",
            "parental_responsibility",
            "contact_phone",
            "contact_address",
            "additional_needs",
            "school",
            "gp_practice",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def __init__(self, *args, family_from_url: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        user = _request_user(self)
        if family_from_url or self.instance is not None:
            # Under /families/{id}/members/ the family comes from the URL; a member never moves family.
            self.fields["family"].read_only = True
        elif user is not None:
            # An id the caller cannot see is reported exactly like one that does not exist.
            self.fields["family"].queryset = visible_families(user)


class FamilyMemberSerializer(MemberSerializer):
    """A member under /families/{id}/members/: the family comes from the URL (its own schema
    component, so the top-level /members/ documents `family` as required)."""

    def __init__(self, *args, **kwargs):
        kwargs["family_from_url"] = True
        super().__init__(*args, **kwargs)


class RelationshipSerializer(serializers.ModelSerializer):
    from_member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.none())
    to_member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.none())

    class Meta:
        model = Relationship
        fields = ["id", "from_member", "kind", "to_member", "created_at"]
        read_only_fields = ["created_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        family = self.context.get("family")
        if family is not None:
            for name in ("from_member", "to_member"):
                self.fields[name].queryset = family.members.all()


class InformationGapSerializer(serializers.ModelSerializer):
    member = serializers.PrimaryKeyRelatedField(queryset=Member.objects.none(), required=False, allow_null=True)

    class Meta:
        model = InformationGap
        fields = ["id", "member", "subject", "reason", "note", "revisit_on", "resolved_at", "created_at", "updated_at"]
        read_only_fields = ["resolved_at", "created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        family = self.context.get("family")
        if family is not None:
            self.fields["member"].queryset = family.members.all()


class ShareSerializer(serializers.ModelSerializer):
    agency = serializers.PrimaryKeyRelatedField(queryset=Agency.objects.all())
    current = serializers.SerializerMethodField()

    class Meta:
        model = FamilyShare
        fields = ["id", "agency", "purpose", "legal_basis", "starts", "ends", "ended_at", "current", "updated_at"]
        read_only_fields = ["ended_at", "updated_at"]
        # One dict (a second `extra_kwargs` used to replace the first). `ends` is required by the
        # service (share_create), which reports it after the agency, as it always has.
        extra_kwargs = {
            "ends": {
                "allow_null": False,
                "help_text": "The last day of access (required): at most 12 months after the share starts, unless the "
                "council has set another maximum.",
            },
            "starts": {"required": False},
        }

    def get_current(self, obj: FamilyShare) -> bool:
        return obj.is_current()

    def validate(self, attrs):
        starts, ends = attrs.get("starts"), attrs.get("ends")
        if starts and ends and ends < starts:
            raise serializers.ValidationError({"ends": "The share cannot end before it starts."})
        return attrs


class ShareRenewSerializer(serializers.Serializer):
    ends = serializers.DateField(
        help_text="The new last day of access: today or later, at most 12 months from today, unless the council "
        "has set another maximum."
    )


class LeadAssignmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = LeadProfessionalAssignment
        fields = ["user", "started_at", "ended_at", "assigned_by"]


class LeadProfessionalSerializer(serializers.Serializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.filter(is_active=True), allow_null=True, help_text="The lead professional's user id."
    )


class ChronologyEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    summary = serializers.CharField()
    agency = serializers.CharField()
    record_id = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
