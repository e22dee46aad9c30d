"""Browser forms for the case record. They parse and present; the services hold the rules."""

from __future__ import annotations

from django import forms

from .govuk_forms import DateField, version_field
from .models import Agency, FamilyLevel, GapReason, MemberRole, RelationshipKind, Role, User

YES_NO = [("yes", "Yes"), ("no", "No")]


def yes_no(label: str, help_text: str = "", initial: bool | None = None) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        help_text=help_text,
        choices=YES_NO,
        widget=forms.RadioSelect,
        coerce=lambda v: v == "yes",
        initial=None if initial is None else ("yes" if initial else "no"),
        error_messages={"required": f"Select yes or no: {label[0].lower()}{label[1:].rstrip('?')}"},
    )


class FamilyForm(forms.Form):
    name = forms.CharField(
        label="Family name",
        max_length=200,
        help_text="How the family is known, for example ‘Smith family’.",
        error_messages={"required": "Enter the family name"},
    )
    level = forms.ChoiceField(
        label="Level", choices=FamilyLevel.choices, widget=forms.RadioSelect, initial=FamilyLevel.EARLY_HELP
    )
    address = forms.CharField(label="Address", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    postcode = forms.CharField(label="Postcode", required=False, max_length=12)

    def __init__(self, *args, choose_team: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if choose_team:
            # An administrator belongs to no team, so says which team owns the family.
            from .models import Team

            self.fields["team"] = forms.ModelChoiceField(
                label="Owning team",
                queryset=Team.objects.select_related("agency").order_by("agency__name", "name"),
                empty_label="Choose a team",
                error_messages={"required": "Choose the team that owns the family"},
            )


class MemberForm(forms.Form):
    version = version_field()
    given_name = forms.CharField(
        label="First name", max_length=100, error_messages={"required": "Enter the first name"}
    )
    family_name = forms.CharField(label="Last name", max_length=100, error_messages={"required": "Enter the last name"})
    name_spelling_confirmed = forms.BooleanField(label="The family has confirmed how the name is spelt", required=False)
    aliases = forms.CharField(
        label="Other names or spellings",
        required=False,
        help_text="Separate them with commas, for example ‘Kye, Kai Smith-Jones’.",
    )
    role = forms.ChoiceField(
        label="Role in the family",
        choices=[("", "Choose a role"), *MemberRole.choices],
        error_messages={"required": "Choose the person’s role in the family"},
    )
    date_of_birth = DateField(label="Date of birth", required=False, help_text="For example, 27 3 2019")
    lives_in_household = yes_no("Do they live in the household?", initial=True)
    parental_responsibility = forms.BooleanField(label="Has parental responsibility", required=False)
    contact_phone = forms.CharField(
        label="Phone number",
        required=False,
        max_length=40,
        help_text="Needed for anyone who lives elsewhere: absent parents and partners too.",
    )
    contact_address = forms.CharField(label="Address", required=False, widget=forms.Textarea(attrs={"rows": 3}))
    additional_needs = forms.CharField(
        label="Additional needs or disability", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    school = forms.CharField(label="School or nursery", required=False, max_length=200)
    gp_practice = forms.CharField(label="GP practice", required=False, max_length=200)

    def clean_aliases(self) -> list[str]:
        raw = self.cleaned_data.get("aliases") or ""
        return [a.strip() for a in raw.split(",") if a.strip()]

    @classmethod
    def initial_for(cls, member) -> dict:
        return {
            **{f: getattr(member, f) for f in cls.base_fields if f not in ("aliases", "lives_in_household")},
            "aliases": ", ".join(member.aliases or []),
            "lives_in_household": "yes" if member.lives_in_household else "no",
        }


class GapForm(forms.Form):
    """Record why something is not known, and when to ask again (seed 002: revisit until complete)."""

    subject = forms.CharField(
        label="What is not known",
        max_length=200,
        help_text="For example ‘father’, ‘date of birth’, ‘contact details’.",
        error_messages={"required": "Say what is not known"},
    )
    reason = forms.ChoiceField(
        label="Why is it not known?",
        choices=GapReason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Select why it is not known"},
    )
    revisit_on = DateField(
        label="When to ask again",
        help_text="For example, 27 3 2026",
        required=True,
        required_message="Enter the date to ask again",
    )
    note = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}))


class RelationshipForm(forms.Form):
    from_member = forms.TypedChoiceField(label="Who", coerce=int)
    kind = forms.ChoiceField(label="Is the", choices=RelationshipKind.choices, widget=forms.RadioSelect)
    to_member = forms.TypedChoiceField(label="Of", coerce=int)

    def __init__(self, *args, members=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_member"].error_messages["required"] = "Choose who"
        self.fields["kind"].error_messages["required"] = "Select the relationship"
        self.fields["to_member"].error_messages["required"] = "Choose whose"
        choices = [
            ("", "Choose someone"),
            *((m.pk, f"{m.full_name} ({m.get_role_display().lower()})") for m in members),
        ]
        self.fields["from_member"].choices = choices
        self.fields["to_member"].choices = choices


class SignificantAdultsForm(forms.Form):
    version = version_field()
    significant_adults_confirmed = yes_no(
        "Has the family been asked about other significant adults?",
        help_text="Anyone with regular contact with the children, including partners who live elsewhere.",
    )
    significant_adults_note = forms.CharField(
        label="What did they say?", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class LeadProfessionalForm(forms.Form):
    user = forms.ModelChoiceField(
        label="Lead professional",
        queryset=User.objects.none(),
        empty_label="Choose a professional",
        error_messages={"required": "Choose the lead professional"},
    )

    def __init__(self, *args, candidates=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = candidates if candidates is not None else User.objects.none()
        self.fields["user"].label_from_instance = lambda u: f"{u.get_full_name() or u.username} — {u.agency}"


def lead_candidates(family):
    """Active practitioners and managers of the owning team, and partner agencies' practitioners with a
    current share (a health visitor often leads early help)."""
    from django.db.models import Q

    from .access import current_shares

    shared = current_shares().filter(family=family).values("agency_id")
    return (
        User.objects.filter(is_active=True)
        .exclude(role=Role.ADMIN)
        .filter(Q(team_id=family.team_id) | Q(agency_id__in=shared))
        .select_related("agency")
        .order_by("last_name", "first_name", "username")
    )


class ShareForm(forms.Form):
    agency = forms.ModelChoiceField(
        label="Partner agency",
        queryset=Agency.objects.order_by("name"),
        empty_label="Choose an agency",
        error_messages={"required": "Choose the agency to share with"},
    )
    purpose = forms.CharField(
        label="Purpose",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Why this agency needs the record, for example ‘Health visiting for the baby’.",
        error_messages={"required": "Enter the purpose of sharing"},
    )
    legal_basis = forms.CharField(
        label="Legal basis",
        max_length=300,
        help_text="For example ‘Children Act 1989 s.17; UK GDPR 6(1)(e) and 9(2)(h)’.",
        error_messages={"required": "Enter the legal basis for sharing"},
    )
    starts = DateField(label="Starts", required=False, help_text="Leave blank to start today.")
    ends = DateField(
        label="Ends",
        help_text="The last day of access, for example the date the sharing agreement is next reviewed. "
        "Access stops after this day unless the share is renewed.",
        error_messages={"required": "Enter the date sharing ends"},
    )


class ShareRenewForm(forms.Form):
    ends = DateField(
        label="New last day of access",
        help_text="Access stops after this day unless the share is renewed again. For example, 27 3 2027",
        error_messages={"required": "Enter the new last day of access"},
    )


class CaseloadFilterForm(forms.Form):
    level = forms.ChoiceField(label="Level", required=False, choices=[("", "All levels"), *FamilyLevel.choices])
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("open", "Open"), ("closed", "Closed"), ("", "Open and closed")]
    )
    sort = forms.ChoiceField(
        label="Sort by",
        required=False,
        choices=[
            ("flags", "Open flags"),
            ("name", "Name"),
            ("level", "Level"),
            ("last_visit", "Last visit"),
            ("next_visit", "Next planned visit"),
        ],
    )
    mine = forms.BooleanField(label="Only families I lead", required=False)
