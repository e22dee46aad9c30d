"""Recording a referral in the browser. The referrer's identity sits in a clearly marked
confidential section, seen by the owning team only (DESIGN 6)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from cases import selectors as case_selectors
from cases.access import can_change_family, sees_confidential_referrer
from cases.govuk_forms import add_service_errors, combine

from . import services
from .forms import ReferralForm


@login_required
def referral_form(request: HttpRequest, family_id: int) -> HttpResponse:
    family = case_selectors.family_get_for_user(user=request.user, family_id=family_id)
    if not can_change_family(request.user, family):
        raise PermissionDenied("Only the owning team records referrals.")
    form = ReferralForm(request.POST or None)
    confidential = sees_confidential_referrer(request.user, family)
    if not confidential:
        # An admin records the referral but not who made it: that is for the owning team only.
        for name in ("referrer_name", "referrer_contact", "supporting_professional"):
            del form.fields[name]
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        received_at = combine(data.pop("date"), data.pop("time"))
        try:
            services.referral_create(actor=request.user, family=family, received_at=received_at, **data)
        except ValidationError as exc:
            add_service_errors(form, exc, aliases={"received_at": "date"})
        else:
            messages.success(request, "Referral recorded.")
            return redirect(reverse("family-detail", args=[family.pk]) + "#chronology")
    return render(
        request,
        "referrals/referral_form.html",
        {
            "form": form,
            "family": family,
            "back": reverse("family-detail", args=[family.pk]),
            "confidential": confidential,
        },
    )
