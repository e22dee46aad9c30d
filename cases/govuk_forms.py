"""Form fields and widgets that render as GOV.UK Design System components.

Templates in templates/govuk/ produce the markup; `{% govuk_field form.x %}` picks the right one.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone


class DateInput(forms.MultiWidget):
    """The GOV.UK date input: three boxes, day, month and year."""

    template_name = "govuk/widgets/date_input.html"
    govuk_kind = "date"

    def __init__(self, attrs=None):
        widgets = {
            "day": forms.TextInput(
                attrs={"inputmode": "numeric", "class": "govuk-input govuk-date-input__input govuk-input--width-2"}
            ),
            "month": forms.TextInput(
                attrs={"inputmode": "numeric", "class": "govuk-input govuk-date-input__input govuk-input--width-2"}
            ),
            "year": forms.TextInput(
                attrs={"inputmode": "numeric", "class": "govuk-input govuk-date-input__input govuk-input--width-4"}
            ),
        }
        super().__init__(widgets, attrs)

    def decompress(self, value):
        if isinstance(value, dt.date):
            return [value.day, value.month, value.year]
        return [None, None, None]


class DateField(forms.MultiValueField):
    widget = DateInput

    def __init__(self, *, required: bool = True, required_message: str = "", **kwargs):
        label = kwargs.get("label") or "date"
        kwargs.setdefault("error_messages", {})
        kwargs["error_messages"].setdefault("required", required_message or f"Enter the {label[0].lower()}{label[1:]}")
        fields = (forms.CharField(required=False), forms.CharField(required=False), forms.CharField(required=False))
        super().__init__(fields=fields, require_all_fields=False, required=required, **kwargs)

    def compress(self, data_list):
        if not data_list or not any(data_list):
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return None
        day, month, year = (str(v or "").strip() for v in data_list)
        missing = [name for name, v in (("day", day), ("month", month), ("year", year)) if not v]
        if missing:
            raise ValidationError(f"The date must include a {' and '.join(missing)}.", code="incomplete")
        # Digits only, no longer than a real day, month and year: `int()` would take "1_0", "٣" or
        # twenty digits, and a twenty-digit day overflows the date constructor (a 500, not a message).
        if not all(v.isascii() and v.isdigit() for v in (day, month, year)) or max(len(day), len(month)) > 2:
            raise ValidationError("The date must be a real date, for example 27 3 2024.", code="invalid")
        if len(year) != 4:
            raise ValidationError("Enter the year as four digits, for example 2024.", code="invalid")
        try:
            value = dt.date(int(year), int(month), int(day))
        except (ValueError, OverflowError) as exc:
            raise ValidationError("The date must be a real date, for example 27 3 2024.", code="invalid") from exc
        if value.year < 1900:
            raise ValidationError("Enter a year after 1900.", code="invalid")
        return value


class TimeField(forms.TimeField):
    widget = forms.TimeInput(attrs={"type": "time", "class": "govuk-input govuk-input--width-5"}, format="%H:%M")

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%H:%M", "%H.%M", "%H:%M:%S"])
        kwargs.setdefault("error_messages", {"invalid": "Enter a time in the 24-hour clock, for example 14:30."})
        super().__init__(**kwargs)


def combine(date: dt.date | None, time: dt.time | None) -> dt.datetime | None:
    """A date and a (local) time as an aware datetime; 09:00 when no time is given."""
    if date is None:
        return None
    return timezone.make_aware(dt.datetime.combine(date, time or dt.time(9, 0)))


def add_service_errors(form: forms.Form, exc: ValidationError, *, aliases: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError on the form: each message at its field (or at the top)."""
    aliases = aliases or {}
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            name = aliases.get(field, field)
            target = name if name in form.fields else None
            for error in errors:
                for message in error.messages:
                    form.add_error(target, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)


def valid_filters(form: forms.Form) -> dict:
    """A GET filter form's values that were understood: one bad value in the URL (a stale
    bookmark) does not drop the others."""
    if not form.is_bound:
        return {}
    form.is_valid()
    return form.cleaned_data


def version_field() -> forms.IntegerField:
    """The version of the record the form was opened on (see cases.service_utils.lock_version)."""
    return forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


def show_conflict(form: forms.Form, exc) -> None:
    """After a ConflictError: keep what the person typed in the form, and move its version on to
    the one saved now, so saving again is a deliberate choice made with both in view."""
    data = form.data.copy()
    data["version"] = exc.current.get("version", data.get("version"))
    form.data = data
