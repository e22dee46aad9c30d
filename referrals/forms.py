from __future__ import annotations

from django import forms

from cases.govuk_forms import DateField, TimeField

from .models import Concern, ReferralDecision, ReferralSource


class ReferralForm(forms.Form):
    date = DateField(label="Date received", help_text="For example, 27 3 2026")
    time = TimeField(label="Time received", required=False)
    source = forms.ChoiceField(
        label="Who made the referral?",
        choices=ReferralSource.choices,
        widget=forms.RadioSelect,
        help_text="An anonymous referral is weighed the same as any other.",
        error_messages={"required": "Select who made the referral"},
    )
    referrer_name = forms.CharField(label="Referrer’s name", required=False, max_length=200)
    referrer_contact = forms.CharField(label="How to contact them", required=False, max_length=300)
    supporting_professional = forms.CharField(
        label="Professional who supported them to refer",
        required=False,
        max_length=300,
        help_text="Name, role and agency of anyone who helped a member of the public make this referral.",
    )
    concerns = forms.MultipleChoiceField(
        label="Concerns",
        choices=Concern.choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Select at least one concern"},
    )
    summary = forms.CharField(
        label="Summary", widget=forms.Textarea(attrs={"rows": 5}), error_messages={"required": "Enter a summary"}
    )
    decision = forms.ChoiceField(label="Decision", required=False, choices=ReferralDecision.choices)
