"""Hostile values in every browser form (issue 14, item 14): no form answers with a 500.

Walks the URL patterns of the browser (everything outside /admin/ and /api/) as a practitioner and as
a manager of the owning team. Each page that shows a form with `method="post"` is read, and then posted
back with its own values (GOV.UK date inputs filled with a real date) and one field at a time replaced
by something hostile: a huge number, 10,000 characters, a NUL byte, an impossible day, an unknown
choice, a negative or non-numeric id. The URL ids point at real records so the posts reach the
forms and the services. Any answer but a 5xx is fine here (the form's own tests check the messages).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from cases.models import GapReason, InformationGap
from escalation.models import EscalationPrompt
from escalation.tests.helpers import appointment, run
from visits.models import AppointmentStatus
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

HOSTILE = {
    "huge number": "9" * 30,
    "10,000 characters": "x" * 10_000,
    "NUL byte": "a\x00b",
    "negative id": "-1",
    "not a number": "abc",
    "unknown choice": "no-such-choice",
    "absurd day": "99999999999999999999",
}
SKIP_PREFIXES = ("admin/", "api/", "healthz")


def _browser_routes() -> list[str]:
    routes = []

    def walk(patterns, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and not route.startswith(SKIP_PREFIXES):
                routes.append(route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(routes))


ROUTES = _browser_routes()


class _FormReader(HTMLParser):
    """The fields of the POST forms on a page: name -> a value the page itself would send."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict[str, str]]] = []
        self._fields: dict[str, str] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._fields = {}
            self.forms.append((a.get("action") or "", self._fields))
        if self._fields is None or not a.get("name"):
            chosen = self._fields is not None and self._fields.get(self._select) in ("", None) or "selected" in a
            if tag == "option" and self._select and self._fields is not None and a.get("value") and chosen:
                self._fields[self._select] = a["value"]
            return
        name = a["name"]
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("radio", "checkbox"):
                if name not in self._fields or "checked" in a:
                    self._fields[name] = a.get("value", "on")
            elif kind not in ("submit", "button"):
                self._fields[name] = a.get("value") or ""
        elif tag == "textarea":
            self._fields[name] = ""
        elif tag == "select":
            self._select = name
            self._fields.setdefault(name, "")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._fields = None


def _with_real_dates(fields: dict[str, str]) -> dict[str, str]:
    filled = dict(fields)
    for name in fields:
        for part, value in (("_day", "1"), ("_month", "3"), ("_year", "2026")):
            if name.endswith(part) and not fields[name]:
                filled[name] = value
        if name.endswith("time") and not fields[name]:
            filled[name] = "10:00"
    return filled


@pytest.fixture
def records(family, child, mother, practitioner, manager, share, health_agency):
    """Real records for every id in a route."""
    appointment(child, 5, AppointmentStatus.WAS_NOT_BROUGHT, agency=health_agency, critical=True)
    run(rules=["was_not_brought"])
    prompt = EscalationPrompt.objects.first()
    visit = VisitFactory(family=family, agency=family.team.agency, practitioner=practitioner)
    appt = AppointmentFactory(member=child, family=family, agency=health_agency)
    gap = InformationGap.objects.create(
        family=family, subject="father", reason=GapReason.choices[0][0], recorded_by=practitioner
    )
    return {
        "family_id": family.pk,
        "member_id": child.pk,
        "gap_id": gap.pk,
        "share_id": share.pk,
        "visit_id": visit.pk,
        "appointment_id": appt.pk,
        "prompt_id": prompt.pk if prompt else 999_999,
    }


def _fill(route: str, ids: dict[str, int]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids.get(m.group(1), 1)), route)


@pytest.mark.parametrize("persona", ["practitioner", "manager"])
@pytest.mark.parametrize("route", ROUTES)
def test_no_form_answers_hostile_values_with_a_500(client, records, request, persona, route):
    user = request.getfixturevalue(persona)
    client.force_login(user)
    client.raise_request_exception = False
    url = _fill(route, records)
    page = client.get(url)
    assert page.status_code < 500, f"GET {url}: {page.status_code}"
    if page.status_code != 200 or "html" not in page.get("Content-Type", ""):
        return
    reader = _FormReader()
    reader.feed(page.content.decode())
    for action, fields in reader.forms:
        target = action if action.startswith("/") else url
        if target.startswith(("/accounts/logout", "/accounts/login")):
            continue
        base = _with_real_dates({k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"})
        # The form as the page would send it, then each field in turn made hostile.
        attempts = [base] + [
            {**base, name: value} for name in base for key, value in HOSTILE.items() if key != "absurd day"
        ]
        day_fields = [n for n in base if n.endswith("_day")]
        attempts += [{**base, name: HOSTILE["absurd day"]} for name in day_fields]
        attempts += [{**base, name.replace("_day", "_year"): HOSTILE["absurd day"]} for name in day_fields]
        for data in attempts:
            response = client.post(target, data)
            assert response.status_code < 500, f"POST {target} {_describe(base, data)}: {response.status_code}"
    # Re-reading the record after a hostile edit is still fine.
    assert client.get(url).status_code < 500


def _describe(base: dict, data: dict) -> str:
    changed = {k: (v if len(v) < 40 else v[:20] + f"...({len(v)})") for k, v in data.items() if base.get(k) != v}
    return repr(changed or "as the page sends it")


def test_the_walk_reaches_the_forms():
    """A guard on the walker itself: the form pages are among the routes."""
    for expected in (
        "families/<int:family_id>/visits/add/",
        "families/<int:family_id>/appointments/add/",
        "prompts/<int:prompt_id>/action/",
        "accounts/two-factor/",
    ):
        assert expected in ROUTES
