"""Property-based tests of the partner API against its own OpenAPI schema (DESIGN 5), with schemathesis.

How it runs
- The schema is read from `/api/schema/` when this module is collected; every operation in it becomes
  one pytest item per persona, e.g. `test_api[GET /api/v1/families/][practitioner]` and `...[partner]`.
- Requests go in-process to the project's WSGI application (`safeguarding.wsgi.application`) with a
  real token (`Authorization: Token <key>`): (a) Alice, a practitioner in the team that owns the family;
  (b) the health visiting agency's system user, whose agency has a current share of the family.
- Records are seeded once for the module: a family with three members, a relationship, an information
  gap, the share, a visit, appointments, a referral, and the flags and prompts the checks raise from
  them. Ids in the path always point at those records, so generated bodies reach the services instead
  of stopping at a 404; id fields in bodies point at them when the generated id is even. Each example
  runs in a savepoint that is rolled back, so every example sees exactly the seeded records.
- Checks, on every response: no 5xx (`not_a_server_error`); status code documented, content type,
  headers and body as documented (`status_code_conformance`, `content_type_conformance`,
  `response_headers_conformance`, `response_schema_conformance`).
- Bounded and repeatable: 20 examples per operation and persona, a fixed seed, no deadline, no example
  database. The module takes about a minute.

Findings, each fixed and kept as a regression test at the end (`test_finding_*`):
1. The served schema documented no error responses; it now documents 400, 401, 403, 404, 409 and 429
   where each can happen (`cases/api/schema.py`), and responses are checked against it as served.
2. A datetime filter with a UTC offset of 16 hours or more was a 500 (PostgreSQL rejects the offset);
   filters now turn date-times to UTC (`cases.api.base.UtcIsoDateTimeField`).
3. A datetime before 1 December 1847 was accepted, then served with London's local mean time offset
   (`-00:01:15`), not an RFC 3339 date-time; dates outside 1900-2100 are now refused (400).
4. The documented request body of `POST /api/v1/members/` had no `family`, which it requires.
5. `PUT`/`PATCH /api/v1/visits/{id}/` with a `version`, in the body or as `If-Match`, was a 500.
6. `OPTIONS /api/v1/families/{family_pk}/lead-professional/` was a 500. Found with the coverage
   phase (off here for time, see CONFIG); OPTIONS is not in the schema, so the fuzzer never sends it.
"""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings

from accounts.tests.factories import api_token_for
from safeguarding.wsgi import application

pytestmark = pytest.mark.django_db

PERSONAS = ["practitioner", "partner"]

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20250613,  # the same cases on every run: a failure here is a regression, not a lucky draw
        "generation": {"with-security-parameters": False},  # the persona's token is the only credential
        # The coverage phase (boundary values, unexpected methods) takes ~6 minutes: enable it for a deeper run.
        "phases": {"coverage": {"enabled": False}},
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)

# --- The schema -------------------------------------------------------------------------------------

DETAIL = {"type": "object", "required": ["detail"], "properties": {"detail": {"type": "string"}}}
CONTRACT_ERRORS = {
    "400": (
        "Bad input: field errors a developer can act on (DESIGN 5).",
        {
            "anyOf": [
                {"type": "object", "minProperties": 1},
                {"type": "array", "minItems": 1, "items": {"type": "string"}},
            ]
        },
    ),
    "403": ("A record the caller can see but may not change.", DETAIL),
    "404": ("No such record, or not one the caller can see (DESIGN 5), or no such page.", DETAIL),
    "409": (
        "The record changed since the version sent: what is saved now and what the caller tried.",
        {
            "type": "object",
            "required": ["detail", "current", "attempted"],
            "properties": {
                "detail": {"type": "string"},
                "current": {"type": "object"},
                "attempted": {"type": "object"},
            },
        },
    ),
}


def _served_schema() -> dict:
    response = Client().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content
    return response.json()


SERVED_SCHEMA = _served_schema()
schema = schemathesis.openapi.from_dict(SERVED_SCHEMA, config=CONFIG)
schema.app = application  # as `schemathesis.openapi.from_wsgi` does: calls go in-process, over WSGI


# --- Seeded records ---------------------------------------------------------------------------------


@dataclass
class Seeded:
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, persona: str) -> dict[str, str]:
        return {"Authorization": f"Token {self.tokens[persona]}"}


def _seed() -> Seeded:
    from cases.models import InformationGap, Relationship, Role
    from cases.tests.factories import (
        AgencyFactory,
        FamilyFactory,
        MemberFactory,
        PartnerUserFactory,
        ShareFactory,
        TeamFactory,
        UserFactory,
    )
    from escalation.models import EscalationPrompt, Flag
    from escalation.services.checks import run_checks_in_process
    from referrals.tests.factories import ReferralFactory
    from visits.tests.factories import AppointmentFactory, VisitFactory

    now = timezone.now()
    council = AgencyFactory(name="Northshire Children's Services", kind="social_care")
    team = TeamFactory(agency=council, name="Assessment Team North")
    practitioner = UserFactory(username="alice", team=team, agency=council, role=Role.PRACTITIONER)
    UserFactory(username="mandy", team=team, agency=council, role=Role.MANAGER)  # the prompts go to her
    health = AgencyFactory(name="Northshire Health Visiting", kind="health_visiting")
    partner = PartnerUserFactory(username="hv-system", agency=health)

    family = FamilyFactory(team=team, name="Smith family", lead_professional=practitioner)
    child = MemberFactory(family=family, given_name="Kai", family_name="Smith", role="child")
    mother = MemberFactory(family=family, given_name="Jade", family_name="Smith", role="mother", date_of_birth=None)
    father = MemberFactory(
        family=family, given_name="Dean", family_name="Smith", role="father", lives_in_household=False
    )
    relationship = Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
    gap = InformationGap.objects.create(family=family, subject="father", reason="not_asked")
    share = ShareFactory(family=family, agency=health)
    visit = VisitFactory(family=family, scheduled_for=now - dt.timedelta(days=5))
    visit.children_seen.set([child])
    # Kai was not brought twice, at two agencies: a high flag and a prompt to the team manager.
    appointment = AppointmentFactory(
        member=child, status="was_not_brought", agency=health, scheduled_for=now - dt.timedelta(days=3)
    )
    AppointmentFactory(member=child, status="was_not_brought", agency=council, scheduled_for=now - dt.timedelta(days=9))
    referral = ReferralFactory(family=family)
    run_checks_in_process()
    flag = Flag.objects.get(family=family, rule="was_not_brought")
    prompt = EscalationPrompt.objects.get(flag=flag)

    seeded = Seeded()
    seeded.ids = {
        "agency": health.pk,
        "team": team.pk,
        "family": family.pk,
        "child": child.pk,
        "father": father.pk,
        "relationship": relationship.pk,
        "gap": gap.pk,
        "share": share.pk,
        "visit": visit.pk,
        "appointment": appointment.pk,
        "referral": referral.pk,
        "flag": flag.pk,
        "prompt": prompt.pk,
        "practitioner": practitioner.pk,
    }
    for persona, user in (("practitioner", practitioner), ("partner", partner)):
        seeded.tokens[persona] = api_token_for(user)
    return seeded


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The records, once for the module, in a transaction rolled back at its end."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield _seed()
        transaction.set_rollback(True)


@contextmanager
def _rolled_back():
    """A savepoint undone afterwards. As in Django's test client, a request must not close the
    connection the test's transaction is on."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with transaction.atomic():
            yield
            transaction.set_rollback(True)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _call_and_validate(case, seeded: Seeded, persona: str, **kwargs):
    """Send the case as the persona and run the checks; a server error's traceback is in the captured log."""
    with _rolled_back():
        return case.call_and_validate(headers=seeded.auth(persona), **kwargs)


# --- Pointing generated cases at the seeded records ------------------------------------------------

PATH_IDS = {
    "agencies": "agency",
    "appointments": "appointment",
    "escalations": "prompt",
    "families": "family",
    "flags": "flag",
    "gaps": "gap",
    "members": "child",
    "referrals": "referral",
    "relationships": "relationship",
    "shares": "share",
    "visits": "visit",
}
BODY_IDS = {
    "agency": "agency",
    "family": "family",
    "from_member": "father",
    "lead_professional": "practitioner",
    "member": "child",
    "team": "team",
    "to_member": "child",
    "user": "practitioner",
}


def _point_at_seeded_records(case, seeded: Seeded) -> None:
    params = case.path_parameters or {}
    if "family_pk" in params:
        params["family_pk"] = seeded.ids["family"]
    if "id" in params:
        segments = case.operation.path.strip("/").split("/")
        params["id"] = seeded.ids[PATH_IDS[segments[segments.index("{id}") - 1]]]
    if isinstance(case.body, dict):
        for key, name in BODY_IDS.items():
            value = case.body.get(key)
            # Half the time a seeded record (decided by the value, so shrinking still works), else any id.
            if type(value) is int and value % 2 == 0:
                case.body[key] = seeded.ids[name]


# --- The property-based test ------------------------------------------------------------------------


@schema.parametrize()
@pytest.mark.parametrize("persona", PERSONAS)
@settings(
    max_examples=20,
    deadline=None,
    database=None,  # nothing written to .hypothesis/; the fixed seed makes runs repeatable instead
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # fine: each example resets the database itself (savepoint)
        HealthCheck.too_slow,  # every example is a real request through the whole stack
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,  # large request bodies are the point
    ],
)
def test_api(case, seeded, persona):
    _point_at_seeded_records(case, seeded)
    _call_and_validate(case, seeded, persona)


# --- Findings, fixed: each kept as a regression test -------------------------------------------------


def test_finding_1_the_schema_documents_the_error_responses():
    """At least what DESIGN 5 promises: 400 where there is input, 404 where there is an id or a page,
    409 where a stale version can be sent."""
    missing = {}
    for path, operations in SERVED_SCHEMA["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            if method == "parameters":
                continue
            query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
            promised = {"401"}
            if query or "requestBody" in operation:
                promised.add("400")
            if "{" in path or "page" in query:
                promised.add("404")
            if method in ("put", "patch"):
                promised.add("409")
            if promised - set(operation["responses"]):
                missing[f"{method.upper()} {path}"] = sorted(promised - set(operation["responses"]))
    assert not missing


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/families/", {"updated_since": "2025-06-13T10:00:00+16:00"}),
        ("/api/v1/visits/", {"scheduled_after": "2025-06-13T10:00:00-22:00"}),
        ("/api/v1/appointments/", {"scheduled_before": "2025-06-13T10:00:00+23:59"}),
    ],
)
def test_finding_2_a_datetime_filter_with_a_large_utc_offset(seeded, path, query):
    _call_and_validate(schema[path]["GET"].Case(query=query), seeded, "practitioner")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/appointments/{id}/", {"scheduled_for": "1847-06-13T10:00:00Z"}),
        ("/api/v1/visits/{id}/", {"scheduled_for": "0816-12-24T14:48:49"}),
        ("/api/v1/referrals/{id}/", {"received_at": "1800-01-01T09:00:00+01:00"}),
    ],
)
def test_finding_3_a_datetime_before_1848(seeded, path, body):
    case = schema[path]["PATCH"].Case(path_parameters={"id": 0}, body=body, media_type="application/json")
    _point_at_seeded_records(case, seeded)
    _call_and_validate(case, seeded, "practitioner")


def test_finding_4_creating_a_member_documents_its_family():
    content = SERVED_SCHEMA["paths"]["/api/v1/members/"]["post"]["requestBody"]["content"]["application/json"]
    body = SERVED_SCHEMA["components"]["schemas"][content["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert "family" in body["properties"] and "family" in body["required"]


# Fixed: the fuzzer sends `version` in visit updates again; `If-Match` is not in the schema, so it is tested here.
@pytest.mark.parametrize(
    ("body", "headers"), [({"outcome": "Seen", "version": 1}, {}), ({"outcome": "Seen"}, {"If-Match": '"1"'})]
)
def test_finding_5_fixed_updating_a_visit_with_its_version(seeded, body, headers):
    case = schema["/api/v1/visits/{id}/"]["PATCH"].Case(
        path_parameters={"id": seeded.ids["visit"]}, body=body, media_type="application/json", headers=headers
    )
    _call_and_validate(case, seeded, "practitioner")


def test_finding_6_options_on_the_lead_professional_endpoint(seeded):
    client = Client(raise_request_exception=False)
    url = f"/api/v1/families/{seeded.ids['family']}/lead-professional/"
    assert client.options(url, headers=seeded.auth("practitioner")).status_code < 500
