"""Logging a visit and recording an appointment in the browser.

A child's missed appointment is offered only as "Was not brought" and an adult's only as "Did not
attend" (seed 001, theme 3): the choices are built from the person, so the words never appear wrongly.
"""

from __future__ import annotations

from django import forms

from cases.govuk_forms import DateField, TimeField, combine, version_field
from cases.models import Agency

from .models import AppointmentKind, AppointmentStatus, VisitStatus

VISIT_STATUS_CHOICES = [
    (VisitStatus.SCHEDULED, "Not happened yet (scheduled)"),
    (VisitStatus.COMPLETED, "Completed"),
    (VisitStatus.NO_ACCESS, "No access (nobody answered, or refused entry)"),
    (VisitStatus.CANCELLED_BY_FAMILY, "Cancelled by the family"),
    (VisitStatus.CANCELLED_LATE, "Cancelled by the family with under 24 hours’ notice"),
    (VisitStatus.RESCHEDULED, "Rescheduled"),
    (VisitStatus.CANCELLED_BY_SERVICE, "Cancelled by us"),
]


class VisitForm(forms.Form):
    version = version_field()
    planned = forms.TypedChoiceField(
        label="Was this visit planned?",
        choices=[("yes", "Yes, planned"), ("no", "No, unplanned (opportunistic)")],
        widget=forms.RadioSelect,
        coerce=lambda v: v == "yes",
        initial="yes",
        error_messages={"required": "Select whether the visit was planned"},
    )
    purpose = forms.CharField(
        label="Purpose of the visit",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why you are visiting. Needed for a planned visit.",
    )
    expected_outcome = forms.CharField(
        label="Expected outcome",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the visit should achieve. Needed for a planned visit.",
    )
    purpose_shared_with_family = forms.BooleanField(
        label="The purpose and expected outcome were shared with the family", required=False
    )
    date = DateField(label="Date of the visit", help_text="For example, 27 3 2026")
    time = TimeField(label="Time", required=False, help_text="24-hour clock, for example 14:30")
    status = forms.ChoiceField(
        label="What happened?",
        choices=VISIT_STATUS_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": "Select what happened"},
    )
    outcome = forms.CharField(label="Outcome", required=False, widget=forms.Textarea(attrs={"rows": 4}))
    next_steps = forms.CharField(label="Agreed next steps", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    children_seen = forms.TypedMultipleChoiceField(
        label="Children seen", coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    children_seen_alone = forms.TypedMultipleChoiceField(
        label="Children seen alone", coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )
    voice_of_child = forms.CharField(
        label="Voice of the child",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the child said, and what their day-to-day life is like.",
    )
    home_conditions = forms.CharField(label="Home conditions", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, children=(), **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("purpose", "expected_outcome"):
            self.fields[name].conditionally_required = True
        choices = [(c.pk, c.full_name) for c in children]
        self.fields["children_seen"].choices = choices
        self.fields["children_seen_alone"].choices = choices

    def clean(self):
        data = super().clean()
        # Said here as well as in the service so both messages show at once, at their fields.
        if data.get("planned"):
            if not (data.get("purpose") or "").strip():
                self.add_error("purpose", "Enter the purpose of the planned visit")
            if not (data.get("expected_outcome") or "").strip():
                self.add_error("expected_outcome", "Enter the expected outcome of the planned visit")
        return data

    def service_data(self) -> dict:
        d = self.cleaned_data
        return {
            "planned": d["planned"],
            "purpose": d["purpose"],
            "expected_outcome": d["expected_outcome"],
            "purpose_shared_with_family": d["purpose_shared_with_family"],
            "scheduled_for": combine(d["date"], d["time"]),
            "status": d["status"],
            "outcome": d["outcome"],
            "next_steps": d["next_steps"],
            "voice_of_child": d["voice_of_child"],
            "home_conditions": d["home_conditions"],
        }


def appointment_status_choices(*, for_child: bool) -> list[tuple[str, str]]:
    missed = (
        (AppointmentStatus.WAS_NOT_BROUGHT, "Was not brought")
        if for_child
        else (AppointmentStatus.DID_NOT_ATTEND, "Did not attend")
    )
    return [
        (AppointmentStatus.BOOKED, "Booked (not happened yet)"),
        (AppointmentStatus.ATTENDED, "Attended" if not for_child else "Attended (was brought)"),
        missed,
        (AppointmentStatus.CANCELLED_BY_FAMILY, "Cancelled by the family"),
        (AppointmentStatus.RESCHEDULED, "Rescheduled"),
        (AppointmentStatus.CANCELLED_BY_SERVICE, "Cancelled by the service"),
    ]


class AppointmentForm(forms.Form):
    version = version_field()
    member = forms.TypedChoiceField(label="Who is the appointment for?", coerce=int)
    agency = forms.ModelChoiceField(
        label="Agency", queryset=Agency.objects.order_by("name"), empty_label="Choose an agency"
    )
    kind = forms.ChoiceField(label="Type of appointment", choices=[("", "Choose a type"), *AppointmentKind.choices])
    date = DateField(label="Date", help_text="For example, 27 3 2026")
    time = TimeField(label="Time", required=False, help_text="24-hour clock, for example 14:30")
    critical = forms.BooleanField(
        label="This appointment must not be missed",
        required=False,
        help_text="For example a specialist appointment for a disabled child.",
    )
    status = forms.ChoiceField(label="How did it go?", widget=forms.RadioSelect)
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    REQUIRED = {
        "member": "Choose who the appointment is for",
        "agency": "Choose the agency the appointment is with",
        "kind": "Choose the type of appointment",
        "status": "Select how it went",
    }

    def __init__(self, *args, members=(), member=None, **kwargs):
        super().__init__(*args, **kwargs)
        for name, message in self.REQUIRED.items():
            self.fields[name].error_messages["required"] = message
        self.members = {m.pk: m for m in members}
        self.fields["member"].choices = [("", "Choose a person"), *((m.pk, m.full_name) for m in members)]
        chosen = member
        if chosen is None and self.is_bound:
            try:
                chosen = self.members.get(int(self.data.get(self.add_prefix("member")) or 0))
            except ValueError:
                chosen = None
        # Offer only the words that fit the person: children are "not brought", adults "do not attend".
        if chosen is not None:
            self.fields["status"].choices = appointment_status_choices(for_child=chosen.is_child)
        else:
            both = appointment_status_choices(for_child=True)
            both.insert(3, (AppointmentStatus.DID_NOT_ATTEND, "Did not attend (adults only)"))
            self.fields["status"].choices = both

    def service_data(self) -> dict:
        d = self.cleaned_data
        return {
            "kind": d["kind"],
            "scheduled_for": combine(d["date"], d["time"]),
            "critical": d["critical"],
            "status": d["status"],
            "notes": d["notes"],
        }
