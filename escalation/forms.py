from __future__ import annotations

from django import forms

from cases.access import visible_teams
from cases.models import Role, User

from .models import PromptStatus, Severity
from .rules import RULE_CHOICES


class DashboardFilterForm(forms.Form):
    team = forms.TypedChoiceField(label="Team", required=False, coerce=int, empty_value=None)
    assigned_to = forms.TypedChoiceField(label="Assigned to", required=False, coerce=int, empty_value=None)
    rule = forms.ChoiceField(label="Check", required=False, choices=[("", "All checks"), *RULE_CHOICES])
    severity = forms.ChoiceField(label="Severity", required=False, choices=[("", "All"), *Severity.choices])
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("active", "Open or acknowledged"), ("", "All"), *PromptStatus.choices],
    )
    min_age_days = forms.TypedChoiceField(
        label="Age",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[
            ("", "Any age"),
            ("6", "Older than 5 days"),
            ("11", "Older than 10 days"),
            ("21", "Older than 20 days"),
        ],
    )

    def __init__(self, *args, user: User, teams=None, **kwargs):
        """`teams`: the user's visible teams by name, when the caller already has them."""
        super().__init__(*args, **kwargs)
        if teams is None:
            teams = visible_teams(user).order_by("name")
        self.fields["team"].choices = [("", "All teams I can see"), *((t.pk, t.name) for t in teams)]
        people = User.objects.filter(
            team_id=user.team_id, is_active=True, role__in=[Role.PRACTITIONER, Role.MANAGER]
        ).order_by("last_name", "first_name")
        self.fields["assigned_to"].choices = [
            ("", "Anyone"),
            *((u.pk, u.get_full_name() or u.username) for u in people),
        ]


class ActionForm(forms.Form):
    action_taken = forms.CharField(
        label="What action was taken?",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say what action was taken"},
    )
    rationale = forms.CharField(
        label="Why? (the rationale for this decision)",
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Give the rationale for the decision"},
    )


class EscalateForm(forms.Form):
    reason = forms.CharField(
        label="Why escalate?",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Give the reason for escalating"},
    )
