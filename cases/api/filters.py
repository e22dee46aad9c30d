"""The filter backend of every list (`DEFAULT_FILTER_BACKENDS`)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError

from core.ids import TOO_LARGE, out_of_range

PAGE_PARAMETERS = frozenset({"cursor", "page", "page_size", "format"})


def has_filter_parameters(request) -> bool:
    """Whether the request has any query parameter other than the page's own."""
    return not PAGE_PARAMETERS.issuperset(request.query_params.keys())


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend, not run at all when the request has no query parameter but the
    page's own: with nothing to filter on, it would only build a FilterSet and its form (about a
    millisecond) to hand the queryset back as it was. Any other parameter, known or not, goes
    through django-filter as before (an unknown one is ignored there, a bad value is a 400)."""

    def filter_queryset(self, request, queryset, view):
        if not has_filter_parameters(request):
            return queryset
        # An id no database column can hold (`?family=99999999999999999999`) is a 400 here, for
        # every filter of every list, rather than an overflow in the database driver.
        too_large = {
            name: [TOO_LARGE]
            for name, values in request.query_params.lists()
            if name not in PAGE_PARAMETERS and any(out_of_range(v) for v in values)
        }
        if too_large:
            raise ValidationError(too_large)
        return super().filter_queryset(request, queryset, view)
