from django import template

from accounts.services import duration_words

register = template.Library()


@register.filter
def duration(value) -> str:
    """A timedelta or a number of seconds in words: `30 minutes`, `12 hours`."""
    return duration_words(value) if value else ""
