from django.urls import path

from referrals import views as referral_views
from visits import views as visit_views

from . import views
from .views import family, restriction, search

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.SignInView.as_view(), name="login"),
    path("accounts/logout/", views.SignOutView.as_view(), name="logout"),
    path("search/", search.search, name="search"),
    path("families/add/", family.family_create, name="family-create"),
    path("families/<int:family_id>/", family.family_detail, name="family-detail"),
    path("families/<int:family_id>/access-log/", family.access_log, name="family-access-log"),
    path("families/<int:family_id>/restriction/", restriction.restriction_form, name="restriction"),
    path("families/<int:family_id>/restriction/lift/", restriction.restriction_lift, name="restriction-lift"),
    path("families/<int:family_id>/members/add/", family.member_form, name="member-create"),
    path("families/<int:family_id>/members/<int:member_id>/", family.member_form, name="member-edit"),
    path("families/<int:family_id>/gaps/add/", family.gap_form, name="gap-create"),
    path("families/<int:family_id>/gaps/<int:gap_id>/resolve/", family.gap_resolve, name="gap-resolve"),
    path("families/<int:family_id>/relationships/add/", family.relationship_form, name="relationship-create"),
    path("families/<int:family_id>/significant-adults/", family.significant_adults_form, name="significant-adults"),
    path("families/<int:family_id>/lead-professional/", family.lead_professional_form, name="lead-professional"),
    path("families/<int:family_id>/shares/add/", family.share_form, name="share-create"),
    path("families/<int:family_id>/shares/<int:share_id>/end/", family.share_end, name="share-end"),
    path("families/<int:family_id>/shares/<int:share_id>/renew/", family.share_renew, name="share-renew"),
    path("families/<int:family_id>/visits/add/", visit_views.visit_form, name="visit-create"),
    path("families/<int:family_id>/visits/<int:visit_id>/", visit_views.visit_form, name="visit-edit"),
    path("families/<int:family_id>/appointments/add/", visit_views.appointment_form, name="appointment-create"),
    path(
        "families/<int:family_id>/appointments/<int:appointment_id>/",
        visit_views.appointment_form,
        name="appointment-edit",
    ),
    path("families/<int:family_id>/referrals/add/", referral_views.referral_form, name="referral-create"),
]
