"""`/api/v1/families/{id}/restriction/` (DESIGN 6): who is named on a restricted family.

GET shows whether the family is restricted and, if so, who is named and why (only those named
can reach it at all); PUT restricts it or changes who is named; DELETE lifts it. Only a manager
of the owning team, or its head of service, may PUT or DELETE (403 for others who can see the
family; 404, as everywhere, for those who cannot).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_reads
from cases import restriction, selectors
from cases.access import may_restrict
from cases.models import Family, User

from .views import FamilyScopedMixin


class NamedPersonSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField(source="get_full_name")
    role = serializers.CharField()


class RestrictionSerializer(serializers.Serializer):
    restricted = serializers.BooleanField()
    reason = serializers.CharField(source="restriction_reason")
    restricted_by = serializers.IntegerField(source="restricted_by_id", allow_null=True)
    people = NamedPersonSerializer(many=True)


class RestrictionInputSerializer(serializers.Serializer):
    people = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=True,
        max_length=500,
        help_text="User ids of the people who may see the family (the manager making it is always included).",
    )
    reason = serializers.CharField(max_length=restriction.REASON_MAX_LENGTH, help_text="Why the record is restricted.")

    def validate_people(self, ids: list[int]) -> list[User]:
        ids = list(dict.fromkeys(ids))
        users = {u.pk: u for u in User.objects.filter(pk__in=ids)}
        missing = [str(pk) for pk in ids if pk not in users]
        if missing:  # the same words as for someone who may not be named: no staff directory probe
            raise serializers.ValidationError(
                "Only active people who could otherwise see this family can be named: " + ", ".join(missing)
            )
        return [users[pk] for pk in ids]


class LiftInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=restriction.REASON_MAX_LENGTH, required=False, allow_blank=True)


class RestrictionView(FamilyScopedMixin, APIView):
    def _respond(self, family: Family) -> Response:
        data = {
            "restricted": family.restricted,
            "restriction_reason": family.restriction_reason,
            "restricted_by_id": family.restricted_by_id,
            "people": restriction.named_people(family=family),
        }
        audit_reads(actor=self.request.user, model=Family, rows=[(family.pk, family.pk)])
        return Response(RestrictionSerializer(data).data)

    def _require_manager(self) -> Family:
        family = self.family
        if not may_restrict(self.request.user, family):
            raise PermissionDenied("Only a manager of the family's team, or its head of service, can do this.")
        return family

    @extend_schema(responses=RestrictionSerializer, summary="Who is named on a restricted family")
    def get(self, request, family_pk):
        return self._respond(self.family)

    @extend_schema(
        request=RestrictionInputSerializer, responses=RestrictionSerializer, summary="Restrict a family to named people"
    )
    def put(self, request, family_pk):
        family = self._require_manager()
        serializer = RestrictionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        family = restriction.restriction_set(
            actor=request.user,
            family=family,
            people=serializer.validated_data["people"],
            reason=serializer.validated_data["reason"],
        )
        return self._respond(selectors.family_get_for_user(user=request.user, family_id=family.pk))

    @extend_schema(request=LiftInputSerializer, responses=RestrictionSerializer, summary="Lift the restriction")
    def delete(self, request, family_pk):
        family = self._require_manager()
        serializer = LiftInputSerializer(data=request.data or {})
        serializer.is_valid(raise_exception=True)
        family = restriction.restriction_lift(
            actor=request.user, family=family, reason=serializer.validated_data.get("reason", "")
        )
        return self._respond(family)
