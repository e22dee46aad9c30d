from __future__ import annotations

import html

from django import forms
from django.utils.safestring import mark_safe

from cases.access import visible_teams
from cases.models import User

from .models import PromptStatus, Severity
from .rules import RULE_CHOICES
from .selectors import team_members


def _escape(value) -> str:
    """What `{{ value }}` writes: django.utils.html.conditional_escape without its lazy-string
    wrapper, which cost more than the escaping itself (~20 µs an option)."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


def _attrs(attrs: dict) -> str:
    """HTML attributes as django/forms/widgets/attrs.html writes them."""
    return "".join(
        f" {_escape(name)}" if value is True else f' {_escape(name)}="{_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


class QuickSelect(forms.Select):
    """The same HTML as Django's Select, byte for byte, written in Python: the template renderer
    includes two templates per option, which made the filter's six selects cost several
    milliseconds a page."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        out = [f'<select name="{_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                out.append(f'\n  <optgroup label="{_escape(group_name)}">')
            # (django/forms/widgets/select_option.html ends with a newline)
            out.extend(
                f'\n  <option value="{_escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
                f"{_escape(option['label'])}</option>\n"
                for option in options
            )
            if group_name:
                out.append("\n  </optgroup>")
        out.append("\n</select>")
        return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


class DashboardFilterForm(forms.Form):
    team = forms.TypedChoiceField(label="Team", required=False, coerce=int, empty_value=None, widget=QuickSelect)
    assigned_to = forms.TypedChoiceField(
        label="Assigned to", required=False, coerce=int, empty_value=None, widget=QuickSelect
    )
    rule = forms.ChoiceField(
        label="Check", required=False, choices=[("", "All checks"), *RULE_CHOICES], widget=QuickSelect
    )
    severity = forms.ChoiceField(
        label="Severity", required=False, choices=[("", "All"), *Severity.choices], widget=QuickSelect
    )
    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("active", "Open or acknowledged"), ("", "All"), *PromptStatus.choices],
        widget=QuickSelect,
    )
    min_age_days = forms.TypedChoiceField(
        label="Age",
        required=False,
        coerce=int,
        empty_value=None,
        widget=QuickSelect,
        choices=[
            ("", "Any age"),
            ("6", "Older than 5 days"),
            ("11", "Older than 10 days"),
            ("21", "Older than 20 days"),
        ],
    )

    def __init__(self, *args, user: User, teams=None, people=None, **kwargs):
        """`teams` (the user's visible teams by name) and `people` (`team_members` of the user's
        team), when the caller already has them."""
        super().__init__(*args, **kwargs)
        if teams is None:
            teams = visible_teams(user).order_by("name")
        self.fields["team"].choices = [("", "All teams I can see"), *((t.pk, t.name) for t in teams)]
        if people is None:
            people = team_members(team_id=user.team_id)
        self.fields["assigned_to"].choices = [
            ("", "Anyone"),
            # As User.get_full_name() writes it, or the username.
            *((u["id"], f"{u['first_name']} {u['last_name']}".strip() or u["username"]) for u in people),
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
