"""Restricting a family to named people, in the browser (DESIGN 6): one form page for a manager of
the owning team (or its head of service) to restrict it, change who is named, or lift it."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from audit.services import audit_read
from cases import restriction, selectors
from cases.access import may_restrict
from cases.govuk_forms import add_service_errors
from cases.models import Family, User


class RestrictionForm(forms.Form):
    people = forms.ModelMultipleChoiceField(
        label="Who else can see this record",
        help_text="Select everyone who needs to see it. You are always included, and so must be the lead professional.",
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    reason = forms.CharField(
        label="Why is the record restricted",
        help_text="For example: a member of staff's own family, or a child in hiding.",
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=restriction.REASON_MAX_LENGTH,
        error_messages={"required": "Say why the record is restricted"},
    )

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["people"].queryset = candidates if candidates is not None else User.objects.none()
        self.fields["people"].label_from_instance = lambda u: (
            f"{u.get_full_name() or u.username} — {u.job_title or u.get_role_display()}, {u.agency}"
        )


class LiftForm(forms.Form):
    reason = forms.CharField(
        label="Why is the restriction being lifted (optional)",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=restriction.REASON_MAX_LENGTH,
        required=False,
    )


def _managed_family(request: HttpRequest, family_id: int) -> Family:
    family = selectors.family_get_for_user(user=request.user, family_id=family_id)
    if not may_restrict(request.user, family):
        raise PermissionDenied("Only a manager of the family's team, or its head of service, can restrict its record.")
    return family


@login_required
def restriction_form(request: HttpRequest, family_id: int) -> HttpResponse:
    family = _managed_family(request, family_id)
    named = restriction.named_people(family=family) if family.restricted else []
    candidates = selectors.restriction_candidates(family=family).exclude(pk=request.user.pk)
    initial = {"people": [u.pk for u in named], "reason": family.restriction_reason}
    if not family.restricted and family.lead_professional_id:
        initial["people"] = [family.lead_professional_id]
    form = RestrictionForm(request.POST or None, candidates=candidates, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            restriction.restriction_set(
                actor=request.user,
                family=family,
                people=list(form.cleaned_data["people"]),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "The record is restricted: only the people named can see it.")
            return redirect("family-detail", family_id=family.pk)
    # The page names who may see the record and why: a read of it.
    audit_read(actor=request.user, instance=family, family_id=family.pk)
    title = "Change who can see this record" if family.restricted else "Restrict access to this record"
    return render(
        request,
        "cases/restriction.html",
        {
            "family": family,
            "form": form,
            "lift_form": LiftForm() if family.restricted else None,
            "named": named,
            "title": title,
        },
    )


@login_required
@require_POST
def restriction_lift(request: HttpRequest, family_id: int) -> HttpResponse:
    family = _managed_family(request, family_id)
    form = LiftForm(request.POST)
    if form.is_valid():
        restriction.restriction_lift(actor=request.user, family=family, reason=form.cleaned_data["reason"])
        messages.success(request, "The restriction is lifted: everyone who works with the family can see it again.")
        return redirect("family-detail", family_id=family.pk)
    return render(
        request,
        "cases/restriction.html",
        {
            "family": family,
            "form": RestrictionForm(candidates=User.objects.none()),
            "lift_form": form,
            "named": restriction.named_people(family=family),
            "title": "Change who can see this record",
        },
    )
