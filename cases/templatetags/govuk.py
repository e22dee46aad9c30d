"""`{% govuk_field form.field %}` renders a bound field as the matching GOV.UK component, with its
label (or legend), hint, error message and the error classes; `{% govuk_error_summary form %}` the
summary at the top that links to each field."""

from __future__ import annotations

from django import forms, template
from django.template.loader import render_to_string

register = template.Library()


def _kind(field: forms.BoundField) -> str:
    widget = field.field.widget
    if getattr(widget, "govuk_kind", None):
        return widget.govuk_kind
    # CheckboxSelectMultiple is a subclass of RadioSelect in Django: test it first.
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.RadioSelect):
        return "radios"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.Select):
        return "select"
    if isinstance(widget, forms.Textarea):
        return "textarea"
    return "input"


@register.simple_tag
def govuk_field(field: forms.BoundField, label_size: str = "s", width: str = "", label_is_heading: bool = False):
    if field.is_hidden:
        return str(field)  # e.g. the record's version, for the lost-update check
    kind = _kind(field)
    widget = field.field.widget
    css = {
        "input": "govuk-input",
        "textarea": "govuk-textarea",
        "select": "govuk-select",
    }.get(kind, "")
    if css:
        classes = [css]
        if width:
            classes.append(f"govuk-input--width-{width}" if kind == "input" else f"govuk-!-width-{width}")
        if field.errors:
            classes.append(f"{css}--error")
        existing = widget.attrs.get("class", "")
        widget.attrs["class"] = " ".join(dict.fromkeys([*existing.split(), *classes]))
        if field.help_text:
            widget.attrs["aria-describedby"] = f"{field.auto_id}-hint"
    return render_to_string(
        f"govuk/fields/{kind}.html",
        {
            "field": field,
            "label_size": label_size,
            "label_is_heading": label_is_heading,
            # A field required only in some cases (a planned visit's purpose) is not "(optional)".
            "show_optional": not field.field.required and not getattr(field.field, "conditionally_required", False),
            "choices": list(field.subwidgets) if kind in ("radios", "checkboxes") else None,
        },
    )


@register.inclusion_tag("govuk/error_summary.html")
def govuk_error_summary(*forms_: forms.Form):
    errors = []
    for form in forms_:
        if form is None or not form.is_bound:
            continue
        for message in form.non_field_errors():
            errors.append({"href": "", "message": message})
        for field in form:
            for message in field.errors:
                anchor = field.auto_id
                if _kind(field) == "date" or _kind(field) in ("radios", "checkboxes"):
                    anchor = f"{field.auto_id}_0"
                errors.append({"href": f"#{anchor}", "message": message})
    return {"errors": errors}


@register.filter
def words(code: str) -> str:
    """A code as words: `lead_professional` -> `lead professional`."""
    return str(code or "").replace("_", " ")
