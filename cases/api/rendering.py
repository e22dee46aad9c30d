"""How the API answers (issue 14, item 13): JSON for partners, and a browsable API for staff that
renders no HTML forms. Kept apart from `cases.api.base`: DRF imports these while it builds its
views, so this module must not import DRF's views itself."""

from __future__ import annotations

from rest_framework import exceptions, renderers
from rest_framework.negotiation import DefaultContentNegotiation

from cases.models import Role


class PartnerJSONOnlyNegotiation(DefaultContentNegotiation):
    """Partners get JSON, whatever they ask for (issue 14, item 13): the browsable API is for staff
    in a browser, and a partner's system has no use for pages built around our forms. An HTML
    `Accept` from a partner is answered in JSON, not with a 406 page."""

    def select_renderer(self, request, renderers_, format_suffix=None):
        try:
            user = request.user
        except exceptions.APIException:
            user = None  # the view refuses it in the usual way
        if getattr(user, "role", None) == Role.PARTNER:
            json_only = [r for r in renderers_ if isinstance(r, renderers.JSONRenderer)]
            if json_only:
                return json_only[0], json_only[0].media_type
        return super().select_renderer(request, renderers_, format_suffix)


class FormlessBrowsableAPIRenderer(renderers.BrowsableAPIRenderer):
    """The browsable API without HTML forms (issue 14, items 12 and 13): a form lists every choice of
    every related field (people's names, members, families) with no read row written. Staff keep
    the raw JSON box to send requests; the filter form is left out for the same reason."""

    def get_rendered_html_form(self, data, view, method, request):
        return None

    def get_filter_form(self, data, view, request):
        return None
