"""Partner API v1 (DESIGN section 5): a contract; add fields freely, never rename these."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from cases.api import views as cases_views
from cases.api.restriction import RestrictionView
from escalation.api import EscalationViewSet, FlagViewSet
from referrals.api import ReferralViewSet
from visits.api import AppointmentViewSet, VisitViewSet

router = DefaultRouter()
router.register("agencies", cases_views.AgencyViewSet, basename="agency")
router.register("families", cases_views.FamilyViewSet, basename="family")
router.register("members", cases_views.MemberViewSet, basename="member")
router.register("referrals", ReferralViewSet, basename="referral")
router.register("visits", VisitViewSet, basename="visit")
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register("flags", FlagViewSet, basename="flag")
router.register("escalations", EscalationViewSet, basename="escalation")

family_router = DefaultRouter()
family_router.include_root_view = False
family_router.register("members", cases_views.FamilyMemberViewSet, basename="family-member")
family_router.register("shares", cases_views.ShareViewSet, basename="family-share")
family_router.register("relationships", cases_views.RelationshipViewSet, basename="family-relationship")
family_router.register("gaps", cases_views.GapViewSet, basename="family-gap")

urlpatterns = [
    path("me/", cases_views.MeView.as_view(), name="me"),
    path("families/<int:family_pk>/", include(family_router.urls)),
    path(
        "families/<int:family_pk>/lead-professional/",
        cases_views.LeadProfessionalView.as_view(),
        name="family-lead-professional",
    ),
    path("families/<int:family_pk>/chronology/", cases_views.ChronologyView.as_view(), name="family-chronology"),
    path("families/<int:family_pk>/restriction/", RestrictionView.as_view(), name="family-restriction"),
    path("", include(router.urls)),
]
