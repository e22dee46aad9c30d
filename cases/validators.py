"""Validators shared by the case record's models (so forms, the API and services all apply them)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError

EARLIEST_YEAR = 1900
LATEST_YEAR = 2100


def validate_plausible_datetime(value: dt.datetime | dt.date | None) -> None:
    """A visit, appointment or referral between 1900 and 2100. Outside that, it is a typing mistake
    (and before 1848 London's local mean time would be served with a seconds offset)."""
    if value is not None and not (EARLIEST_YEAR <= value.year <= LATEST_YEAR):
        raise ValidationError(
            f"Enter a date between {EARLIEST_YEAR} and {LATEST_YEAR}.", code="implausible_date", params={"value": value}
        )
