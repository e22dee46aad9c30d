"""The filter backend of every list (`DEFAULT_FILTER_BACKENDS`)."""

from __future__ import annotations

from django_filters.rest_framework import DjangoFilterBackend

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
        return super().filter_queryset(request, queryset, view)
