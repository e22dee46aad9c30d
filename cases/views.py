"""HTML pages of the browser shell: sign in, sign out and the home page.

The case record's own pages come later; these hold no business rules and read only through
`cases.access`, so the home page can never count a family the user may not see.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .access import visible_families
from .models import Family, FamilyStatus, Role, User

# The home page lists at most this many of the user's own families; the count says how many more.
HOME_LEAD_FAMILIES_SHOWN = 10


class SignInForm(AuthenticationForm):
    """Django's sign-in form with messages in the GOV.UK style: say what to do, plainly."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "The username or password is not right. Check them and try again.",
        "inactive": "This account has been switched off. Ask your system administrator to switch it back on.",
    }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].error_messages["required"] = "Enter your username"
        self.fields["password"].error_messages["required"] = "Enter your password"


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class SignOutView(auth_views.LogoutView):
    """POST only (Django's LogoutView refuses GET): a link or prefetch cannot sign anyone out."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        # The session is gone; the message travels in the messages cookie.
        messages.success(request, "You have signed out.")
        return response


@dataclass(frozen=True)
class Caseload:
    team_open_count: int
    lead_open_count: int
    lead_families: list[Family]


def _caseload(user: User) -> Caseload | None:
    """Open families of the user's team and those the user leads: two queries, however many."""
    if user.role not in (Role.PRACTITIONER, Role.MANAGER) or not user.team_id:
        return None
    families = visible_families(user)
    open_lead = Q(status=FamilyStatus.OPEN, lead_professional=user)
    counts = families.aggregate(
        team_open_count=Count("id", filter=Q(status=FamilyStatus.OPEN, team_id=user.team_id)),
        lead_open_count=Count("id", filter=open_lead),
    )
    lead_families = list(
        families.filter(open_lead)
        .order_by("name", "id")
        .only("id", "name", "reference", "level")[:HOME_LEAD_FAMILIES_SHOWN]
    )
    return Caseload(lead_families=lead_families, **counts)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    # request.user is loaded without its agency and team; one query fetches both.
    profile = User.objects.select_related("agency", "team").get(pk=request.user.pk)
    return render(
        request,
        "home.html",
        {
            "profile": profile,
            "caseload": _caseload(profile),
            "lead_families_shown": HOME_LEAD_FAMILIES_SHOWN,
        },
    )
