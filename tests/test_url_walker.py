"""Reads that leave no trace, found by test rather than by list (issue 14, item 12).

Every URL pattern the project serves is walked (`django.urls.get_resolver()`, recursively, the
admin and the API included) and fetched with GET as each persona, API routes both as JSON and as
the browsable API's HTML. The family has members with names found nowhere else. Wherever one of
them appears in a response body, that same request must have written an audit VIEW (or EXPORT)
row for the family, by that user. 409 bodies (a stale `If-Match` in the API, a stale version in a
page's form) are walked the same way: a conflict shows what is saved now, so it is a read.

No hand list of routes: a route added later is walked too, and fails here if it shows a name
without a read row. The URL kwargs are filled from the seeded records by the view's model (the
admin's, the viewset's serializer's) or by the kwarg's name (`member_id` -> the Member); a kwarg
nothing can fill fails the test with its name, so it cannot be skipped silently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.http import HttpResponse
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, include
from django.urls import path as url_path
from django.utils import timezone
from django.utils.regex_helper import normalize

from audit.models import AuditAction, AuditEvent
from cases.models import Family, InformationGap, Member, Relationship
from cases.services import case_note_add
from cases.tests.factories import FamilyFactory, MemberFactory, ShareFactory
from escalation.models import EscalationPrompt
from escalation.services.checks import run_checks_in_process
from referrals.tests.factories import ReferralFactory
from visits.tests.factories import AppointmentFactory, VisitFactory

NAMES = ("Zephyrine", "Thaddeus", "Quillfeather")
FAMILY_NAME = "Quillfeather family"

# Skipped, with the reason. Everything else is walked.
SKIP = {
    "accounts/logout/": "signs the persona out; shows no record",
    "admin/logout/": "signs the persona out; shows no record",
    "healthz": "a liveness probe; reads no record",
}
READ_ACTIONS = (AuditAction.VIEW, AuditAction.EXPORT)
PERSONAS = ["practitioner", "teammate", "manager", "other_team_user", "partner", "unshared_partner", "admin_user"]


@dataclass(frozen=True)
class Route:
    regex: str  # the whole path's regex, every include's prefix joined
    pattern: URLPattern

    @property
    def is_api(self) -> bool:
        return self.regex.startswith("api/")


def routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[Route]:
    for entry in (resolver or get_resolver()).url_patterns:
        regex = entry.pattern.regex.pattern.removeprefix("^")
        if isinstance(entry, URLResolver):
            yield from routes(entry, prefix + regex)
        else:
            yield Route(regex=(prefix + regex).removesuffix("$").removesuffix(r"\Z"), pattern=entry)


def view_model(route: Route):
    """The model a view is about, where it says: the admin's, the viewset's serializer's, or the
    one an admin URL names (`admin/<app>/<model>/...`, for a model admin's extra views)."""
    callback = route.pattern.callback
    model_admin = getattr(callback, "model_admin", None)
    if model_admin is not None:
        return model_admin.model
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    queryset = getattr(cls, "queryset", None)
    if queryset is not None:
        return queryset.model
    serializer = getattr(cls, "serializer_class", None)
    meta = getattr(serializer, "Meta", None)
    if getattr(meta, "model", None) is not None:
        return meta.model
    if match := re.match(r"admin/(\w+)/(\w+)/", route.regex):
        try:
            return apps.get_model(*match.groups())
        except LookupError:
            return None
    return None


def model_named(name: str):
    """`member` -> Member, `gap` -> InformationGap, `prompt` -> EscalationPrompt."""
    models = [m for m in apps.get_models() if not m._meta.model_name.startswith("historical")]
    matches = [m for m in models if m._meta.model_name == name]
    matches = matches or [m for m in models if m._meta.model_name.endswith(name)]
    return matches[0] if len(matches) == 1 else None


def latest(model) -> object | None:
    return model._default_manager.order_by("-pk").first() if model is not None else None


def fill(route: Route) -> str:
    """The route's path with every kwarg filled from the seeded records."""
    template, params = normalize(route.regex)[0]
    model = Family if "content_type_id" in params else view_model(route)
    values: dict[str, object] = {}
    for name in params:
        if name == "format":
            values[name] = "json"
        elif name == "app_label":
            values[name] = "cases"
        elif name == "url":
            values[name] = "no-such-page/"
        elif name == "content_type_id":
            values[name] = ContentType.objects.get_for_model(Family).pk
        elif name in ("family_id", "family_pk"):
            values[name] = Family.objects.get(name=FAMILY_NAME).pk
        elif name in ("pk", "object_id", "id", "_0"):
            assert model is not None, f"{route.regex}: which model's record fills <{name}>? Teach view_model()"
            obj = latest(model)
            # A model with no rows in this world (a beat schedule, say): a record that does not exist.
            values[name] = obj.pk if obj is not None else 999999
        elif name == "_1":  # django-simple-history's history record of object _0
            history = getattr(latest(model), "history", None)
            row = history.order_by("-history_id").first() if history is not None else None
            values[name] = row.history_id if row is not None else 999999
        elif name.endswith("_id") and (obj := latest(model_named(name.removesuffix("_id")))) is not None:
            values[name] = obj.pk
        else:
            pytest.fail(f"{route.regex}: the walker cannot fill <{name}>: seed a record for it here")
    return "/" + template.replace("\\", "") % values


def body_text(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def last_audit_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def unlogged(client: Client, user, family: Family, method: str, path: str, **kwargs) -> str | None:
    """A description of the response if it shows a member's name without a read row, else None."""
    before = last_audit_id()
    response = getattr(client, method)(path, **kwargs)
    if response.status_code >= 500:
        return f"{method.upper()} {path} -> {response.status_code}: a server error"
    shown = [name for name in NAMES if name in body_text(response)]
    if not shown:
        return None
    logged = AuditEvent.objects.filter(
        pk__gt=before, family_id=family.pk, actor_id=user.pk, action__in=READ_ACTIONS
    ).exists()
    if logged:
        return None
    accept = kwargs.get("HTTP_ACCEPT", "")
    return f"{method.upper()} {path} ({accept or 'page'}) -> {response.status_code} shows {shown}, no read row"


@pytest.fixture
def world(team, practitioner, manager, health_agency):
    family = FamilyFactory(team=team, name=FAMILY_NAME, lead_professional=practitioner)
    mother = MemberFactory(family=family, given_name="Zephyrine", family_name="Quillfeather", role="mother")
    child = MemberFactory(family=family, given_name="Thaddeus", family_name="Quillfeather", role="child")
    ShareFactory(family=family, agency=health_agency, ends=timezone.localdate() + dt.timedelta(days=60))
    ReferralFactory(family=family)
    VisitFactory(family=family)
    AppointmentFactory(
        member=child,
        agency=team.agency,
        status="was_not_brought",
        scheduled_for=timezone.now() - dt.timedelta(days=9),
    )
    AppointmentFactory(member=child, agency=health_agency, status="was_not_brought")
    Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
    InformationGap.objects.create(family=family, subject="father", reason="declined")
    case_note_add(actor=practitioner, family=family, text="Strategy discussion held with health.")
    run_checks_in_process(family_ids=[family.pk])
    assert EscalationPrompt.objects.filter(family=family).exists(), "the checks should raise a prompt"
    return family


def walk_as(user, family: Family, *, only: str = "") -> list[str]:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    failures = []
    for route in routes():
        if route.regex in SKIP or not route.regex.startswith(only):
            continue
        path = fill(route)
        accepts = ("application/json", "text/html") if route.is_api else ("text/html",)
        for accept in accepts:
            if problem := unlogged(client, user, family, "get", path, HTTP_ACCEPT=accept):
                failures.append(problem)
    return failures


@pytest.mark.parametrize("persona", PERSONAS)
def test_every_route_that_shows_a_name_writes_a_read_row(persona, world, request):
    user = request.getfixturevalue(persona)
    failures = walk_as(user, world)
    assert not failures, "\n".join(failures)


def test_the_walk_is_not_vacuous(world, practitioner):
    """The family page shows the names, and the walk reaches the admin and the API as HTML."""
    walked = {route.regex for route in routes()}
    assert "families/<int:family_id>/".replace("<int:family_id>", "(?P<family_id>[0-9]+)") in walked
    assert any(r.startswith("admin/cases/family/") for r in walked)
    assert any(r.startswith("api/v1/families/") for r in walked)
    client = Client()
    client.force_login(practitioner)
    page = body_text(client.get(f"/families/{world.pk}/"))
    assert all(name in page for name in NAMES)


# --- 409: a conflict shows what is saved now ---------------------------------------------------


def _stale(instance) -> int:
    """Move the record's version on behind the caller's back; the caller still holds version 1."""
    type(instance)._default_manager.filter(pk=instance.pk).update(version=instance.version + 1)
    return instance.version


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_api_conflict_bodies_write_a_read_row(world, practitioner, accept):
    client = Client()
    client.force_login(practitioner)
    member = Member.objects.get(family=world, given_name="Zephyrine")
    family = Family.objects.get(pk=world.pk)
    failures = []
    for path, record, data in (
        (f"/api/v1/families/{family.pk}/", family, '{"name": "Renamed family"}'),
        (f"/api/v1/members/{member.pk}/", member, '{"given_name": "Renamed"}'),
        (f"/api/v1/families/{family.pk}/members/{member.pk}/", member, '{"given_name": "Renamed"}'),
    ):
        stale = _stale(record)
        before = last_audit_id()
        response = client.patch(
            path, data, content_type="application/json", HTTP_ACCEPT=accept, HTTP_IF_MATCH=f'"{stale}"'
        )
        assert response.status_code == 409, (path, response.status_code, body_text(response)[:300])
        if not any(name in body_text(response) for name in NAMES):
            continue  # nothing of the record shown (the name was not among the fields sent)
        if not AuditEvent.objects.filter(pk__gt=before, family_id=family.pk, action=AuditAction.VIEW).exists():
            failures.append(f"PATCH {path} ({accept}) -> 409 shows saved values, no read row")
    assert not failures, "\n".join(failures)


def test_a_page_conflict_writes_a_read_row(world, practitioner):
    client = Client()
    client.force_login(practitioner)
    member = Member.objects.get(family=world, given_name="Zephyrine")
    stale = _stale(member)
    before = last_audit_id()
    response = client.post(
        f"/families/{world.pk}/members/{member.pk}/",
        {
            "version": stale,
            "given_name": "Zephyrina",
            "family_name": "Quillfeather",
            "role": "mother",
            "lives_in_household": "yes",
        },
    )
    text = body_text(response)
    assert "Someone else saved a change first" in text, text[:2000]
    assert "Zephyrine" in text  # the saved value, beside what was entered
    assert AuditEvent.objects.filter(
        pk__gt=before, family_id=world.pk, actor_id=practitioner.pk, action=AuditAction.VIEW
    ).exists()


def test_a_refused_page_writes_no_read_row(world, other_team_user):
    """A 404 never logs a read: the generic page read is written for successes only."""
    client = Client()
    client.force_login(other_team_user)
    before = last_audit_id()
    for path in (f"/families/{world.pk}/", f"/families/{world.pk}/visits/add/", f"/api/v1/families/{world.pk}/"):
        assert client.get(path).status_code == 404
    assert not AuditEvent.objects.filter(pk__gt=before, family_id=world.pk).exists()


def test_route_regexes_are_filled(world):
    """Every route's path can be built: no kwarg is left unfilled (a new kind fails here first)."""
    for route in routes():
        if route.regex not in SKIP:
            assert not re.search(r"[<>(]", fill(route)), route.regex


# --- the walker finds a route added later ---------------------------------------------------------


def _rogue_member_page(request, member_id: int):
    """A page someone might add: shows a member's name and writes no read row."""
    member = Member.objects.get(pk=member_id)
    return HttpResponse(f"<p>{member.given_name} {member.family_name}</p>")


urlpatterns = [
    url_path("rogue/<int:member_id>/", _rogue_member_page),
    url_path("", include("safeguarding.urls")),
]


def test_a_route_added_later_without_a_read_row_is_found(world, practitioner):
    with override_settings(ROOT_URLCONF=__name__):
        failures = walk_as(practitioner, world, only="rogue/")
    assert len(failures) == 1
    assert failures[0].startswith("GET /rogue/") and "no read row" in failures[0]


def test_a_duplicate_refused_with_409_is_a_read_of_the_record_it_names(world, practitioner):
    """The 409 names the appointment already saved: that record was read."""
    client = Client()
    client.force_login(practitioner)
    child = Member.objects.get(family=world, given_name="Thaddeus")
    body = {"member": child.pk, "kind": "gp", "scheduled_for": "2026-03-02T10:00:00Z"}
    first = client.post("/api/v1/appointments/", body, content_type="application/json")
    assert first.status_code == 201, first.content
    before = last_audit_id()
    second = client.post("/api/v1/appointments/", body, content_type="application/json")
    assert second.status_code == 409
    assert AuditEvent.objects.filter(
        pk__gt=before,
        action=AuditAction.VIEW,
        model="visits.appointment",
        object_id=str(first.json()["id"]),
        family_id=world.pk,
        actor_id=practitioner.pk,
    ).exists()
