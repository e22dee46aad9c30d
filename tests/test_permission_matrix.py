"""The permission matrix: who may do what, on every API endpoint and every browser page.

Generated from ONE table, `TABLE`. Each row is a resource and an action (an HTTP method on a URL)
with the expected result for each relation to the family:

    own team    the practitioner who leads the family, a teammate, the team's manager
    admin       a platform administrator (sees every family)
    shared      a partner agency's user; the agency has a current share of the family
    outsider    a practitioner of another team of the same council; a partner agency with no
                share; a partner agency whose share was ended (through the service)
    anonymous   nobody signed in

and each of those three times over (DESIGN 6, restricted records):

    unrestricted           the family as it is
    restricted, named      the family is restricted and the persona holds the grant on it: the
                           same results (for an outsider, a stray grant widens nothing)
    restricted, not named  the family is restricted to others: every persona gets what the
                           outsider of its role gets (404, absent from lists), admins included

and expands into one case per persona (role x resource x action x relation), with ids such as
`api-families-partial_update--partner-shared` (and `...--restricted-named`, `...--restricted-not-named`).
The rules (DESIGN 5 and 6, `cases/access.py`):

- whoever cannot see the family gets 404 (never 403) on every URL naming it or one of its records,
  and its records are absent from every list; a body naming a record they cannot see is refused
  exactly as a missing id is (400 "does not exist"), so record ids cannot be probed;
- the shared partner reads the family, adds visits and appointments and changes its own agency's,
  but never changes the family record: 403, as it can already see the record;
- only the owning team and admins change the family record; a prompt is decided only by its assignee
  or someone above them in the chain (`escalation.permissions`): others who can see it get 403;
- anonymous callers get 401 from the API and are sent to sign in from every page;
- a refused write changes nothing; an allowed write changes something.

Where the code is wrong, the row holds the correct expectation and the case is marked
xfail(strict=True, reason="BUG: ...").

The data is built once for the module, inside a transaction rolled back at its end; each case runs
in a savepoint rolled back after it, so a write never leaks from one case into the next.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.db.models import CharField, Count, Max, Value
from django.db.models.functions import Concat
from django.test import Client
from django.urls import resolve, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from cases import services as case_services
from cases.access import RESTRICTED_PERMISSION
from cases.models import (
    Family,
    FamilyShare,
    FamilyUserObjectPermission,
    InformationGap,
    LeadProfessionalAssignment,
    Member,
    Relationship,
    Role,
)
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
from referrals.models import Referral
from referrals.tests.factories import ReferralFactory
from visits.models import Appointment, Visit
from visits.tests.factories import AppointmentFactory, VisitFactory

# --- personas ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Persona:
    key: str  # also the test id
    role: str
    relation: str
    column: str  # which column of the table applies


PERSONAS = [
    Persona("practitioner-own-team", "practitioner", "own team", "own_team"),
    Persona("teammate-own-team", "practitioner", "own team", "own_team"),
    Persona("manager-own-team", "manager", "own team", "own_team"),
    Persona("practitioner-other-team", "practitioner", "other team", "outsider"),
    Persona("partner-shared", "partner", "shared", "shared"),
    Persona("partner-not-shared", "partner", "not shared", "outsider"),
    Persona("partner-share-ended", "partner", "share ended", "outsider"),
    Persona("admin", "admin", "every family", "admin"),
    Persona("anonymous", "anonymous", "none", "anonymous"),
]
OWN_TEAM = [p.key for p in PERSONAS if p.column == "own_team"]
PARTNERS = [p.key for p in PERSONAS if p.role == "partner"]

# The restricted-record relations, on top of each persona's own.
UNRESTRICTED, NAMED, NOT_NAMED = "unrestricted", "restricted-named", "restricted-not-named"
RESTRICTIONS = (UNRESTRICTED, NAMED, NOT_NAMED)
# Not named on a restricted family, a persona gets what the outsider of its role gets.
OUTSIDER_OF_ROLE = {
    "practitioner": "practitioner-other-team",
    "manager": "practitioner-other-team",
    "admin": "practitioner-other-team",
    "partner": "partner-not-shared",
    "anonymous": "anonymous",
}

# Expected results other than a bare status code.
LISTED = "listed"  # 200, and the family's record is in the response
HIDDEN = "hidden"  # 200, and the family's record is not in the response
LOGIN = "login"  # 302 to the sign-in page, coming back here afterwards
REDIRECT = "redirect"  # 302 anywhere but the sign-in page: a form accepted, a signed-in user sent on


# --- the world ------------------------------------------------------------------------------------

NOW = timezone.now()
WHEN = (NOW - dt.timedelta(days=2)).replace(microsecond=0).isoformat()
DAY = timezone.localdate() - dt.timedelta(days=2)


def _build_world() -> SimpleNamespace:
    council = AgencyFactory(name="Matrixshire Children's Services", kind="social_care")
    north = TeamFactory(agency=council, name="Matrix Assessment North")
    south = TeamFactory(agency=council, name="Matrix Assessment South")
    health = AgencyFactory(name="Matrixshire Health Visiting", kind="health_visiting")
    police = AgencyFactory(name="Matrixshire Police", kind="police")
    school = AgencyFactory(name="Matrixshire Academy", kind="school")
    alice = UserFactory(username="mx-alice", team=north, agency=council, role=Role.PRACTITIONER)
    users = {
        "practitioner-own-team": alice,
        "teammate-own-team": UserFactory(username="mx-bob", team=north, agency=council, role=Role.PRACTITIONER),
        "manager-own-team": UserFactory(username="mx-mandy", team=north, agency=council, role=Role.MANAGER),
        "practitioner-other-team": UserFactory(
            username="mx-charlie", team=south, agency=council, role=Role.PRACTITIONER
        ),
        "partner-shared": PartnerUserFactory(username="mx-health", agency=health),
        "partner-not-shared": PartnerUserFactory(username="mx-police", agency=police),
        "partner-share-ended": PartnerUserFactory(username="mx-school", agency=school),
        "admin": UserFactory(
            username="mx-root", role=Role.ADMIN, team=None, agency=None, is_staff=True, is_superuser=True
        ),
    }
    for user in users.values():
        api_token_for(user)

    family = FamilyFactory(team=north, name="Marrowfield family", lead_professional=alice)
    LeadProfessionalAssignment.objects.create(family=family, user=alice, assigned_by=alice)
    child = MemberFactory(family=family, given_name="Kai", family_name="Marrowfield", role="child")
    mother = MemberFactory(family=family, given_name="Jade", family_name="Marrowfield", role="mother")
    father = MemberFactory(
        family=family,
        given_name="Dean",
        family_name="Marrowfield",
        role="father",
        lives_in_household=False,
        contact_phone="07700 900456",
    )
    relationship = Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
    gap = InformationGap.objects.create(family=family, subject="school", reason="not_asked")
    share = ShareFactory(family=family, agency=health)
    ended_share = ShareFactory(family=family, agency=school, purpose="School nursing")
    case_services.share_end(actor=alice, share=ended_share)  # the school's access ends at once
    referral = ReferralFactory(family=family, source="professional", concerns=["neglect"])
    team_visit = VisitFactory(family=family, practitioner=alice)
    partner_visit = VisitFactory(family=family, practitioner=users["partner-shared"], agency=health)
    team_appointment = AppointmentFactory(member=child, agency=council)
    partner_appointment = AppointmentFactory(member=child, agency=health)
    # Kai was not brought twice, at two agencies: a high flag and a prompt to the team manager.
    # One parent recorded: a medium flag and a prompt to Alice, who leads the family.
    for agency, days in ((health, 3), (council, 9)):
        AppointmentFactory(
            member=child, agency=agency, status="was_not_brought", scheduled_for=NOW - dt.timedelta(days=days)
        )
    run_checks_in_process(family_ids=[family.pk])
    prompt = EscalationPrompt.objects.get(family=family, flag__rule="was_not_brought")
    assert (prompt.status, prompt.level) == ("open", "team_manager")
    assert EscalationPrompt.objects.filter(family=family, assigned_to=alice).exists()
    FamilyFactory(team=south, name="Quillon family")

    ids = {
        "council": council.pk,
        "team": north.pk,
        "other_team": south.pk,
        "police": police.pk,
        "teammate": users["teammate-own-team"].pk,
        "alice": alice.pk,
        "family": family.pk,
        "child": child.pk,
        "father": father.pk,
        "relationship": relationship.pk,
        "gap": gap.pk,
        "share": share.pk,
        "ended_share": ended_share.pk,
        "referral": referral.pk,
        "team_visit": team_visit.pk,
        "partner_visit": partner_visit.pk,
        "team_appointment": team_appointment.pk,
        "partner_appointment": partner_appointment.pk,
        "flag": prompt.flag_id,
        "prompt": prompt.pk,
    }
    return SimpleNamespace(
        ids=ids,
        users=users,
        family=family,
        school=school,
        prompt_ids=set(EscalationPrompt.objects.filter(family=family).values_list("pk", flat=True)),
    )


@pytest.fixture(scope="module")
def _module_db(django_db_setup, django_db_blocker):
    """One transaction for the whole module, rolled back at its end: nothing reaches other modules."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield {}
        transaction.set_rollback(True)


@pytest.fixture
def db(_module_db):
    """pytest-django's `db`, overridden here: a savepoint in the module's transaction, rolled back
    after each case. The first case builds the world, in the module's transaction.

    Function-scoped so that it runs after the project's autouse fixtures: `Client.force_login` then
    stands for a completed sign-in, second factor included. Each persona signs in once, here, and
    each case reuses that session's cookie: signing in (session, security log, second factor) costs
    more than most of the requests under test.
    """
    if "world" not in _module_db:
        with transaction.atomic():  # a failed build leaves nothing behind for the next case to trip on
            world = _build_world()
            world.sessions = {}
            for key, user in world.users.items():
                browser = Client()
                browser.force_login(user)
                world.sessions[key] = browser.cookies[settings.SESSION_COOKIE_NAME].value
        _module_db["world"] = world
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def world(db, _module_db):
    return _module_db["world"]


def _summary(queryset, key: str | Concat):
    key = Value(key) if isinstance(key, str) else key
    return (
        queryset.order_by()
        .annotate(key=key)
        .values("key")
        .annotate(rows=Count("pk"), latest=Max("updated_at"))
        .values_list("key", "rows", "latest")
    )


@functools.cache
def _fingerprint_query() -> tuple[str, tuple]:
    """All that a write here could change, as one query: the rows of each kind of record and the
    latest change to each (services stamp `updated_at` on every change), open gaps and shares, and
    the prompts by status. Built once by the ORM, then run as SQL: it runs twice for every write."""
    parts = [
        _summary(model.objects.all(), model.__name__)
        for model in (Family, Member, Relationship, InformationGap, FamilyShare, Referral, Visit, Appointment, Flag)
    ]
    parts += [
        _summary(InformationGap.objects.filter(resolved_at__isnull=True), "open gaps"),
        _summary(FamilyShare.objects.filter(ended_at__isnull=True), "open shares"),
        _summary(EscalationPrompt.objects.all(), Concat(Value("prompts "), "status", output_field=CharField())),
    ]
    return parts[0].union(*parts[1:], all=True).query.sql_with_params()


def fingerprint() -> list:
    with connection.cursor() as cursor:
        cursor.execute(*_fingerprint_query())
        return sorted(cursor.fetchall())


# --- the table ------------------------------------------------------------------------------------


@dataclass
class Op:
    resource: str
    action: str
    request: str  # "METHOD /path/{id}/", ids filled in from the world
    expect: dict[str, Any]  # persona key -> expected result
    data: dict | Callable[[Any, Any], dict] | None = None  # body (or GET query); "{id}" values filled in
    probe: Callable[[bytes, Any], bool] | None = None  # is the family's record in this response?
    headers: dict[str, str] = field(default_factory=dict)
    changes: bool = True  # does an allowed call of this write change a record?
    bugs: dict[str, str] = field(default_factory=dict)  # persona key -> "BUG: ..." (xfail, strict)
    # Is the result about the family (so a restriction hides it)? Not when the family is not named
    # at all, e.g. creating a new family for one's own team.
    about_family: bool = True

    def expected(self, persona: Persona, restriction: str):
        if restriction == NOT_NAMED and self.about_family and persona.column != "outsider":
            return self.expect[OUTSIDER_OF_ROLE[persona.role]]
        return self.expect[persona.key]

    @property
    def method(self) -> str:
        return self.request.split()[0].lower()

    @property
    def channel(self) -> str:
        return "api" if self.request.split()[1].startswith("/api/") else "page"

    @property
    def name(self) -> str:
        return f"{self.channel}-{self.resource}-{self.action}"

    def path(self, ids: dict) -> str:
        return self.request.split()[1].format(**ids)

    def body(self, w, user) -> dict | None:
        data = self.data(w, user) if callable(self.data) else self.data
        return _fill(data, {**w.ids, "own_agency": _own_agency(w, user)})


def _fill(value, ids: dict):
    """`"{child}"` -> the child's id, through dicts and lists."""
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, str) and (match := re.fullmatch(r"\{(\w+)\}", value)):
        return ids[match.group(1)]
    return value


def _own_agency(w, user) -> int:
    """The agency an event is recorded with: the caller's own, or the council for an admin."""
    return user.agency_id if user is not None and user.agency_id else w.ids["council"]


def expect(own_team, *, admin=None, shared=None, outsider=404, anonymous=None, page=False, only=None):
    """A row's expectations: one per column (admin and shared default to the owning team's), then
    `only`: {persona key: result} for personas whose role, not relation, makes the difference."""
    column = {
        "own_team": own_team,
        "admin": own_team if admin is None else admin,
        "shared": own_team if shared is None else shared,
        "outsider": outsider,
        "anonymous": anonymous or (LOGIN if page else 401),
    }
    return {p.key: column[p.column] for p in PERSONAS} | (only or {})


def page(own_team, **kwargs):
    return expect(own_team, page=True, **kwargs)


def listed(key: str) -> Callable[[bytes, Any], bool]:
    """A probe for an API list: is the family's record among the results?"""
    return lambda body, w: w.ids[key] in {row["id"] for row in json.loads(body)["results"]}


def shows(text: Callable[[Any], str]) -> Callable[[bytes, Any], bool]:
    return lambda body, w: text(w).encode() in body


def family_link(body: bytes, w) -> bool:
    return f'href="/families/{w.family.pk}/'.encode() in body


def prompt_link(body: bytes, w) -> bool:
    return any(f'href="/prompts/{pk}/"'.encode() in body for pk in w.prompt_ids)


def date_data(name: str, day: dt.date) -> dict:
    return {f"{name}_day": str(day.day), f"{name}_month": str(day.month), f"{name}_year": str(day.year)}


READ = expect(200)  # the owning team, admins and the shared partner; outsiders 404
LIST = expect(LISTED, outsider=HIDDEN)
EVERYONE = expect(200, outsider=200)  # any signed-in caller
CHANGE = expect(200, shared=403)  # the family record: the owning team and admins
CREATE = expect(201, shared=403)
NOT_OFFERED = expect(405, outsider=405)  # refused before any record is looked up
CREATE_FOR_OWN_TEAM = expect(201, shared=403, outsider=403)  # the team is named in the body: nothing to probe
# A body naming a family or member the caller cannot see: "does not exist", as for a missing id.
NAMED_IN_BODY = 400
# Another agency's visit (issue 14, item 6): its own agency and admins change it; the owning team reads it only.
OTHER_AGENCYS = expect(403, admin=200, shared=200)
CREATE_NAMING_THE_FAMILY = expect(201, shared=403, outsider=NAMED_IN_BODY)
PAGE_SIZE = {"page_size": 500}

NEW_FAMILY = {"name": "Newcombe family", "team": "{team}"}
FAMILY_PUT = {"name": "Marrowfield family", "level": "child_protection", "status": "open"}
KYE = {"given_name": "Kye", "family_name": "Marrowfield", "role": "child"}
SCHOOL = {"school": "Matrix Primary"}
DEAN_PARENT_OF_KAI = {"from_member": "{father}", "to_member": "{child}", "kind": "parent_of"}
GAP = {"subject": "father's date of birth", "reason": "declined"}
PERSON = {"given_name": "Lee", "family_name": "Marrowfield", "role": "partner", "contact_phone": "07700 900789"}
VISIT = {
    "planned": True,
    "purpose": "Check the baby's weight and feeding",
    "expected_outcome": "Weight plotted; feeding plan agreed",
    "scheduled_for": WHEN,
    "status": "completed",
}
APPOINTMENT = {"kind": "health_review", "scheduled_for": WHEN, "status": "attended", "notes": "Seen"}
REFERRAL = {"source": "professional", "concerns": ["neglect"], "summary": "Worried about the children."}
SHARE = {
    "purpose": "Joint visit",
    "legal_basis": "Children Act 1989 s.47",
    "ends": (DAY + dt.timedelta(90)).isoformat(),
}
RENEWED_TO = (DAY + dt.timedelta(120)).isoformat()
ACTION = {"action_taken": "Strategy discussion booked with health", "rationale": "Missed care at two agencies"}
ESCALATE = {"reason": "No reply from the family in two weeks"}
# Restricting: the owning team's manager only (practitioners, the shared partner and admins can see
# the family, so 403); Alice leads the family, so she is named.
RESTRICT = expect(200, shared=403, admin=403, only={"practitioner-own-team": 403, "teammate-own-team": 403})
RESTRICTION = {"people": ["{alice}", "{teammate}"], "reason": "A member of staff's own family"}
# Deciding a prompt: its assignee or someone above them (escalation.permissions). The world's prompt
# is with the team manager, so the practitioners, the shared partner and admins, who see it, get 403.
NOT_DECIDERS = {"shared": 403, "admin": 403, "only": {"practitioner-own-team": 403, "teammate-own-team": 403}}
DECIDE = expect(200, **NOT_DECIDERS)
DECIDE_AND_OPEN = expect(201, **NOT_DECIDERS)


API = [
    Op("root", "list", "GET /api/v1/", EVERYONE),
    Op("me", "retrieve", "GET /api/v1/me/", EVERYONE),
    Op("agencies", "list", "GET /api/v1/agencies/", EVERYONE),
    Op("agencies", "retrieve", "GET /api/v1/agencies/{council}/", EVERYONE),
    Op("agencies", "create(not offered)", "POST /api/v1/agencies/", NOT_OFFERED, {"name": "X", "kind": "other"}),
    # --- families ---
    Op("families", "list", "GET /api/v1/families/", LIST, PAGE_SIZE, listed("family")),
    Op("families", "retrieve", "GET /api/v1/families/{family}/", READ),
    # A family for the owning team: its members and admins only. The team is named in the body, so
    # another team's practitioner learns nothing from the 403.
    Op("families", "create", "POST /api/v1/families/", CREATE_FOR_OWN_TEAM, NEW_FAMILY, about_family=False),
    Op("families", "partial_update", "PATCH /api/v1/families/{family}/", CHANGE, {"level": "child_in_need"}),
    # A family moves only to a team the mover manages (item 5): Mandy does not manage the south team;
    # an admin may move it.
    Op(
        "families",
        "partial_update(transfer to another team)",
        "PATCH /api/v1/families/{family}/",
        expect(400, admin=200, shared=403),
        {"team": "{other_team}"},
    ),
    Op("families", "update", "PUT /api/v1/families/{family}/", CHANGE, FAMILY_PUT),
    Op("families", "destroy(not offered)", "DELETE /api/v1/families/{family}/", NOT_OFFERED),
    # --- members, nested under the family, and on their own ---
    Op("family-members", "list", "GET /api/v1/families/{family}/members/", READ),
    Op("family-members", "retrieve", "GET /api/v1/families/{family}/members/{child}/", READ),
    Op("family-members", "create", "POST /api/v1/families/{family}/members/", CREATE, PERSON),
    Op("family-members", "update", "PUT /api/v1/families/{family}/members/{child}/", CHANGE, KYE),
    Op("family-members", "partial_update", "PATCH /api/v1/families/{family}/members/{child}/", CHANGE, SCHOOL),
    Op("members", "list", "GET /api/v1/members/", LIST, PAGE_SIZE, listed("child")),
    Op("members", "retrieve", "GET /api/v1/members/{child}/", READ),
    Op("members", "create", "POST /api/v1/members/", CREATE_NAMING_THE_FAMILY, {**PERSON, "family": "{family}"}),
    Op("members", "update", "PUT /api/v1/members/{child}/", CHANGE, KYE),
    Op("members", "partial_update", "PATCH /api/v1/members/{child}/", CHANGE, SCHOOL),
    Op("members", "destroy(not offered)", "DELETE /api/v1/members/{child}/", NOT_OFFERED),
    # --- relationships and information gaps ---
    Op("relationships", "list", "GET /api/v1/families/{family}/relationships/", READ),
    Op("relationships", "retrieve", "GET /api/v1/families/{family}/relationships/{relationship}/", READ),
    Op("relationships", "create", "POST /api/v1/families/{family}/relationships/", CREATE, DEAN_PARENT_OF_KAI),
    Op(
        "relationships",
        "destroy",
        "DELETE /api/v1/families/{family}/relationships/{relationship}/",
        expect(204, shared=403),
    ),
    Op("gaps", "list", "GET /api/v1/families/{family}/gaps/", READ),
    Op("gaps", "retrieve", "GET /api/v1/families/{family}/gaps/{gap}/", READ),
    Op("gaps", "create", "POST /api/v1/families/{family}/gaps/", CREATE, GAP),
    Op("gaps", "resolve", "POST /api/v1/families/{family}/gaps/{gap}/resolve/", CHANGE),
    # --- shares: a partner sees its own agency's only ---
    Op("shares", "list", "GET /api/v1/families/{family}/shares/", READ),
    Op(
        "shares",
        "list(another agency's share)",
        "GET /api/v1/families/{family}/shares/",
        expect(LISTED, shared=HIDDEN),
        probe=listed("ended_share"),
    ),
    Op("shares", "retrieve(own agency's)", "GET /api/v1/families/{family}/shares/{share}/", READ),
    Op(
        "shares",
        "retrieve(another agency's)",
        "GET /api/v1/families/{family}/shares/{ended_share}/",
        expect(200, shared=404),
    ),
    Op("shares", "create", "POST /api/v1/families/{family}/shares/", CREATE, {**SHARE, "agency": "{police}"}),
    Op("shares", "destroy(ends it)", "DELETE /api/v1/families/{family}/shares/{share}/", expect(204, shared=403)),
    Op("shares", "renew", "POST /api/v1/families/{family}/shares/{share}/renew/", CHANGE, {"ends": RENEWED_TO}),
    # --- lead professional and chronology ---
    Op("lead-professional", "history", "GET /api/v1/families/{family}/lead-professional/", READ),
    Op("lead-professional", "set", "PUT /api/v1/families/{family}/lead-professional/", CHANGE, {"user": "{teammate}"}),
    Op("chronology", "list", "GET /api/v1/families/{family}/chronology/", READ, PAGE_SIZE),
    Op(
        "chronology",
        "list(another agency's share)",
        "GET /api/v1/families/{family}/chronology/",
        expect(LISTED, shared=HIDDEN),
        PAGE_SIZE,
        shows(lambda w: w.school.name),
    ),
    # --- referrals: the owning team records them; the shared partner reads them ---
    Op("referrals", "list", "GET /api/v1/referrals/", LIST, PAGE_SIZE, listed("referral")),
    Op("referrals", "retrieve", "GET /api/v1/referrals/{referral}/", READ),
    Op("referrals", "create", "POST /api/v1/referrals/", CREATE_NAMING_THE_FAMILY, {**REFERRAL, "family": "{family}"}),
    Op("referrals", "partial_update", "PATCH /api/v1/referrals/{referral}/", CHANGE, {"decision": "early_help"}),
    Op("referrals", "update", "PUT /api/v1/referrals/{referral}/", CHANGE, {**REFERRAL, "summary": "Rang back."}),
    Op("referrals", "destroy(not offered)", "DELETE /api/v1/referrals/{referral}/", NOT_OFFERED),
    # --- visits and appointments: the shared partner adds them, and changes its own agency's ---
    Op("visits", "list", "GET /api/v1/visits/", LIST, PAGE_SIZE, listed("team_visit")),
    Op("visits", "retrieve", "GET /api/v1/visits/{team_visit}/", READ),
    Op(
        "visits",
        "create",
        "POST /api/v1/visits/",
        expect(201, outsider=NAMED_IN_BODY),
        {**VISIT, "family": "{family}", "agency": "{own_agency}"},
    ),
    Op("visits", "partial_update(owning team's)", "PATCH /api/v1/visits/{team_visit}/", CHANGE, {"outcome": "Agreed"}),
    Op(
        "visits",
        "partial_update(partner's)",
        "PATCH /api/v1/visits/{partner_visit}/",
        OTHER_AGENCYS,
        {"outcome": "Weighed"},
    ),
    Op(
        "visits",
        "update(partner's)",
        "PUT /api/v1/visits/{partner_visit}/",
        OTHER_AGENCYS,
        {**VISIT, "outcome": "Weighed"},
    ),
    Op("visits", "destroy(not offered)", "DELETE /api/v1/visits/{team_visit}/", NOT_OFFERED),
    Op("appointments", "list", "GET /api/v1/appointments/", LIST, PAGE_SIZE, listed("team_appointment")),
    Op("appointments", "retrieve", "GET /api/v1/appointments/{team_appointment}/", READ),
    Op(
        "appointments",
        "create",
        "POST /api/v1/appointments/",
        expect(201, outsider=NAMED_IN_BODY),
        {**APPOINTMENT, "member": "{child}", "agency": "{own_agency}"},
    ),
    Op(
        "appointments",
        "partial_update(owning team's)",
        "PATCH /api/v1/appointments/{team_appointment}/",
        CHANGE,
        {"notes": "Rebooked"},
    ),
    Op(
        "appointments",
        "partial_update(partner's)",
        "PATCH /api/v1/appointments/{partner_appointment}/",
        READ,
        {"notes": "Rebooked"},
    ),
    Op("appointments", "update(partner's)", "PUT /api/v1/appointments/{partner_appointment}/", READ, APPOINTMENT),
    Op("appointments", "destroy(not offered)", "DELETE /api/v1/appointments/{team_appointment}/", NOT_OFFERED),
    # --- flags (read only) and escalation prompts (the owning team and admins decide) ---
    Op("flags", "list", "GET /api/v1/flags/", LIST, PAGE_SIZE, listed("flag")),
    Op("flags", "retrieve", "GET /api/v1/flags/{flag}/", READ),
    Op("flags", "create(not offered)", "POST /api/v1/flags/", NOT_OFFERED, {"family": "{family}"}),
    Op("escalations", "list", "GET /api/v1/escalations/", LIST, PAGE_SIZE, listed("prompt")),
    Op("escalations", "retrieve", "GET /api/v1/escalations/{prompt}/", READ),
    Op("escalations", "acknowledge", "POST /api/v1/escalations/{prompt}/acknowledge/", DECIDE),
    Op("escalations", "action", "POST /api/v1/escalations/{prompt}/action/", DECIDE, ACTION),
    Op("escalations", "escalate", "POST /api/v1/escalations/{prompt}/escalate/", DECIDE_AND_OPEN, ESCALATE),
    Op("escalations", "partial_update(not offered)", "PATCH /api/v1/escalations/{prompt}/", NOT_OFFERED, ACTION),
    # --- restricted records: a manager of the owning team restricts, changes or lifts ---
    Op("family-restriction", "retrieve", "GET /api/v1/families/{family}/restriction/", READ),
    Op("family-restriction", "update", "PUT /api/v1/families/{family}/restriction/", RESTRICT, RESTRICTION),
    Op("family-restriction", "destroy", "DELETE /api/v1/families/{family}/restriction/", RESTRICT, changes=False),
]

FORM = page(200, shared=403)  # a form for the family record: the owning team and admins
SAVE = page(REDIRECT, shared=403)
EVENT_FORM = page(200)  # visits and appointments: the shared partner too
EVENT_SAVE = page(REDIRECT)
OTHER_AGENCYS_FORM = page(403, admin=200, shared=200)
OTHER_AGENCYS_SAVE = page(403, admin=REDIRECT, shared=REDIRECT)
NOT_FOR_PARTNERS = dict.fromkeys(PARTNERS, 403)  # the owning service's own pages
PRACTITIONERS = {"practitioner-own-team": 403, "teammate-own-team": 403}  # can see the family, not this
VISIT_FORM = {
    "planned": "yes",
    "purpose": "Review the safety plan with mum",
    "expected_outcome": "Safety plan agreed and signed",
    **date_data("date", DAY),
    "time": "14:30",
    "status": "completed",
}
APPOINTMENT_FORM = {
    "member": "{child}",
    "agency": "{own_agency}",
    "kind": "health_review",
    **date_data("date", DAY),
    "time": "10:00",
    "status": "attended",
    "notes": "Rebooked",
}
# A manager (and an admin) sees the team's prompts; a practitioner only those assigned to them:
# Alice leads the family, so has its medium prompt; Bob has none.
DASHBOARD = page(LISTED, outsider=HIDDEN, only={"teammate-own-team": HIDDEN, **NOT_FOR_PARTNERS})
HTMX_CHRONOLOGY = {"HX-Request": "true", "HX-Target": "chronology-list"}
MANAGERS_ONLY = {"shared": 403, "admin": 403, "only": PRACTITIONERS}  # restricting a record

PAGES = [
    Op("home", "get", "GET /", page(LISTED, outsider=HIDDEN), probe=family_link),
    Op("login", "get", "GET /accounts/login/", page(REDIRECT, outsider=REDIRECT, anonymous=200)),
    Op(
        "logout", "post", "POST /accounts/logout/", page(REDIRECT, outsider=REDIRECT, anonymous=REDIRECT), changes=False
    ),
    Op("search", "get", "GET /search/", page(200, outsider=200)),
    # The name travels in a POST body, never in the URL.
    Op(
        "search",
        "post",
        "POST /search/",
        page(LISTED, outsider=HIDDEN),
        {"q": "Marrowfield"},
        family_link,
        changes=False,
    ),
    Op("family-create", "get", "GET /families/add/", page(200, outsider=200, only=NOT_FOR_PARTNERS)),
    # Another team's practitioner adds a family to their own team (only an admin chooses the team).
    Op(
        "family-create",
        "post",
        "POST /families/add/",
        page(REDIRECT, outsider=REDIRECT, only=NOT_FOR_PARTNERS),
        {"name": "Newcombe family", "level": "early_help", "team": "{team}"},
    ),
    Op("family-detail", "get", "GET /families/{family}/", page(200)),
    # Who opened the child's record: for managers (and admins) who can see the family.
    Op("family-access-log", "get", "GET /families/{family}/access-log/", page(200, shared=403, only=PRACTITIONERS)),
    Op("family-detail", "get(htmx chronology)", "GET /families/{family}/", page(200), headers=HTMX_CHRONOLOGY),
    Op(
        "family-detail",
        "get(another agency's share)",
        "GET /families/{family}/",
        page(LISTED, shared=HIDDEN),
        probe=shows(lambda w: w.school.name),
    ),
    Op("member-create", "get", "GET /families/{family}/members/add/", FORM),
    Op("member-create", "post", "POST /families/{family}/members/add/", SAVE, {**PERSON, "lives_in_household": "no"}),
    Op("member-edit", "get", "GET /families/{family}/members/{child}/", FORM),
    Op("member-edit", "post", "POST /families/{family}/members/{child}/", SAVE, {**KYE, "lives_in_household": "yes"}),
    Op("gap-create", "get", "GET /families/{family}/gaps/add/", FORM),
    Op(
        "gap-create",
        "post",
        "POST /families/{family}/gaps/add/",
        SAVE,
        {"subject": "father's date of birth", "reason": "declined", **date_data("revisit_on", DAY + dt.timedelta(30))},
    ),
    Op("gap-resolve", "post", "POST /families/{family}/gaps/{gap}/resolve/", SAVE),
    Op("relationship-create", "get", "GET /families/{family}/relationships/add/", FORM),
    Op("relationship-create", "post", "POST /families/{family}/relationships/add/", SAVE, DEAN_PARENT_OF_KAI),
    Op("significant-adults", "get", "GET /families/{family}/significant-adults/", FORM),
    Op(
        "significant-adults",
        "post",
        "POST /families/{family}/significant-adults/",
        SAVE,
        {"significant_adults_confirmed": "yes", "significant_adults_note": "No one else"},
    ),
    Op("lead-professional", "get", "GET /families/{family}/lead-professional/", FORM),
    Op("lead-professional", "post", "POST /families/{family}/lead-professional/", SAVE, {"user": "{teammate}"}),
    Op("share-create", "get", "GET /families/{family}/shares/add/", FORM),
    Op(
        "share-create",
        "post",
        "POST /families/{family}/shares/add/",
        SAVE,
        {**SHARE, **date_data("ends", DAY + dt.timedelta(90)), "agency": "{police}"},
    ),
    Op("share-end", "post", "POST /families/{family}/shares/{share}/end/", SAVE),
    Op("share-renew", "get", "GET /families/{family}/shares/{share}/renew/", FORM),
    Op(
        "share-renew",
        "post",
        "POST /families/{family}/shares/{share}/renew/",
        SAVE,
        date_data("ends", dt.date.fromisoformat(RENEWED_TO)),
    ),
    Op("visit-create", "get", "GET /families/{family}/visits/add/", EVENT_FORM),
    Op(
        "visit-create",
        "post",
        "POST /families/{family}/visits/add/",
        EVENT_SAVE,
        VISIT_FORM,
    ),
    Op("visit-edit(owning team's)", "get", "GET /families/{family}/visits/{team_visit}/", FORM),
    Op("visit-edit(owning team's)", "post", "POST /families/{family}/visits/{team_visit}/", SAVE, VISIT_FORM),
    Op("visit-edit(partner's)", "get", "GET /families/{family}/visits/{partner_visit}/", OTHER_AGENCYS_FORM),
    Op(
        "visit-edit(partner's)",
        "post",
        "POST /families/{family}/visits/{partner_visit}/",
        OTHER_AGENCYS_SAVE,
        VISIT_FORM,
    ),
    Op("appointment-create", "get", "GET /families/{family}/appointments/add/", EVENT_FORM),
    Op("appointment-create", "post", "POST /families/{family}/appointments/add/", EVENT_SAVE, APPOINTMENT_FORM),
    Op("appointment-edit(owning team's)", "get", "GET /families/{family}/appointments/{team_appointment}/", FORM),
    Op(
        "appointment-edit(owning team's)",
        "post",
        "POST /families/{family}/appointments/{team_appointment}/",
        SAVE,
        APPOINTMENT_FORM,
    ),
    Op("appointment-edit(partner's)", "get", "GET /families/{family}/appointments/{partner_appointment}/", EVENT_FORM),
    Op(
        "appointment-edit(partner's)",
        "post",
        "POST /families/{family}/appointments/{partner_appointment}/",
        EVENT_SAVE,
        APPOINTMENT_FORM,
    ),
    Op("referral-create", "get", "GET /families/{family}/referrals/add/", FORM),
    Op(
        "referral-create",
        "post",
        "POST /families/{family}/referrals/add/",
        SAVE,
        {**date_data("date", DAY), "time": "16:45", "source": "public", "concerns": ["neglect"], "summary": "Worried."},
    ),
    Op("dashboard", "get", "GET /dashboard/", DASHBOARD, probe=prompt_link),
    Op("dashboard-export", "get", "GET /dashboard/export.csv", DASHBOARD, probe=shows(lambda w: w.family.reference)),
    Op("prompt-detail", "get", "GET /prompts/{prompt}/", page(200)),
    Op("prompt-acknowledge", "post", "POST /prompts/{prompt}/acknowledge/", page(REDIRECT, **NOT_DECIDERS)),
    Op("prompt-action", "post", "POST /prompts/{prompt}/action/", page(REDIRECT, **NOT_DECIDERS), ACTION),
    Op("prompt-escalate", "post", "POST /prompts/{prompt}/escalate/", page(REDIRECT, **NOT_DECIDERS), ESCALATE),
    Op("restriction", "get", "GET /families/{family}/restriction/", page(200, **MANAGERS_ONLY)),
    Op("restriction", "post", "POST /families/{family}/restriction/", page(REDIRECT, **MANAGERS_ONLY), RESTRICTION),
    Op(
        "restriction-lift",
        "post",
        "POST /families/{family}/restriction/lift/",
        page(REDIRECT, **MANAGERS_ONLY),
        {"reason": "No longer needed"},
        changes=False,
    ),
]

TABLE = API + PAGES


def _cases():
    for restriction in RESTRICTIONS:
        for op in TABLE:
            for persona in PERSONAS:
                bug = op.bugs.get(persona.key)
                marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
                suffix = "" if restriction == UNRESTRICTED else f"--{restriction}"
                yield pytest.param(op, persona, restriction, id=f"{op.name}--{persona.key}{suffix}", marks=marks)


def _restrict(w, persona: Persona, restriction: str) -> None:
    """Restrict the family (in the case's savepoint) to Alice, who leads it, and Bob (a lead
    professional change names him); for NAMED, name the persona too, for NOT_NAMED never. The grants
    are made directly, so an outsider can be "named" too: a grant must widen nothing."""
    if restriction == UNRESTRICTED:
        return
    Family.objects.filter(pk=w.family.pk).update(restricted=True, restriction_reason="Matrix: restricted")
    user = w.users.get(persona.key)
    named = {w.users["practitioner-own-team"], w.users["teammate-own-team"]}
    if user is not None:
        named = named | {user} if restriction == NAMED else named - {user}
    permission = Permission.objects.get(codename=RESTRICTED_PERMISSION, content_type__app_label="cases")
    FamilyUserObjectPermission.objects.bulk_create(
        [FamilyUserObjectPermission(user=u, content_object_id=w.family.pk, permission=permission) for u in named]
    )


# --- the matrix ------------------------------------------------------------------------------------


def _body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _send(op: Op, w, persona: Persona, client, api):
    path = op.path(w.ids)
    user = w.users.get(persona.key)
    data = op.body(w, user)
    if op.channel == "api":
        caller = api.as_user(user) if user is not None else APIClient()
        if op.method == "get":
            return path, caller.get(path, data)
        return path, getattr(caller, op.method)(path, data, format="json")
    if user is not None:  # signed in with force_login, once per persona (see `db`)
        client.cookies[settings.SESSION_COOKIE_NAME] = w.sessions[persona.key]
    if op.method == "get":
        return path, client.get(path, data, headers=op.headers)
    return path, client.post(path, data or {}, headers=op.headers)


@pytest.mark.parametrize(("op", "persona", "restriction"), list(_cases()))
def test_permission_matrix(op: Op, persona: Persona, restriction: str, world, client, api):
    expected = op.expected(persona, restriction)
    _restrict(world, persona, restriction)
    writes = op.method != "get"
    before = fingerprint() if writes else None

    path, response = _send(op, world, persona, client, api)
    status, body = response.status_code, _body(response)
    seen = f"{op.method.upper()} {path} as {persona.key} ({restriction}): {status} {body[:400]!r}"

    if expected in (LISTED, HIDDEN):
        assert status == 200, seen
        assert op.probe(body, world) is (expected == LISTED), seen
    elif expected == LOGIN:
        assert status == 302, seen
        assert response.url.startswith(f"{reverse('login')}?next={path}"), seen
    elif expected == REDIRECT:
        assert status == 302, seen
        assert not response.url.startswith(reverse("login") + "?"), seen
    else:
        assert status == expected, seen

    if writes:
        allowed = expected == REDIRECT or (isinstance(expected, int) and 200 <= expected < 300)
        if allowed and op.changes:
            assert fingerprint() != before, f"{seen}: reported success, changed nothing"
        elif not allowed:
            assert fingerprint() == before, f"{seen}: refused, yet changed a record"


# --- the confidential referrer is recorded by the owning team only --------------------------------

REFERRER = {
    "referrer_name": "Ottilie Matrix-Referrer",
    "referrer_contact": "07700 900321",
    "supporting_professional": "Sam Supporter, school nurse",
}


def _referrer_cases():
    for channel in ("api", "page"):
        for persona in PERSONAS[:-1]:  # everyone signed in
            yield pytest.param(channel, persona, id=f"{channel}--{persona.key}")


@pytest.mark.parametrize(("channel", "persona"), list(_referrer_cases()))
def test_the_confidential_referrer_is_accepted_from_the_owning_team_only(channel, persona, world, client, api):
    user = world.users[persona.key]
    if channel == "api":
        response = api.as_user(user).post(
            "/api/v1/referrals/", {**REFERRAL, **REFERRER, "family": world.family.pk}, format="json"
        )
        # The serializer refuses the confidential fields (400) before the service would refuse the
        # shared partner's referral (403): refused either way, and the partner can see the family.
        expected = {"own_team": 201, "admin": 400, "shared": 400, "outsider": NAMED_IN_BODY}[persona.column]
    else:
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[persona.key]
        response = client.post(
            f"/families/{world.family.pk}/referrals/add/",
            {**date_data("date", DAY), "source": "public", "concerns": ["neglect"], "summary": "Worried.", **REFERRER},
        )
        # For an admin, an error at the confidential fields or leaving them out would both do.
        expected = {"own_team": 302, "admin": response.status_code, "shared": 403, "outsider": 404}[persona.column]
    assert response.status_code == expected, response.content[:400]
    stored = Referral.objects.filter(referrer_name=REFERRER["referrer_name"]).exists()
    assert stored is (persona.key in OWN_TEAM)


# --- every route is a row -----------------------------------------------------------------------

ANY_IDS = dict.fromkeys(re.findall(r"\{(\w+)\}", " ".join(op.request for op in TABLE)), 1)


def _named_patterns(patterns):
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from _named_patterns(pattern.url_patterns)
        elif pattern.name:
            yield pattern


def _offered_methods(callback) -> set[str]:
    cls = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    allowed = set(getattr(cls, "http_method_names", [])) - {"head", "options", "trace"}
    if getattr(callback, "actions", None):  # a viewset route: the methods the router mapped
        return set(callback.actions) & allowed
    return {method for method in allowed if hasattr(cls, method)}


def _covered(ops) -> set[tuple[str, str]]:
    return {(resolve(op.path(ANY_IDS)).url_name, op.method) for op in ops}


def test_every_api_route_and_method_is_a_row():
    from safeguarding import api_urls

    offered = {
        (pattern.name, method)
        for pattern in _named_patterns(api_urls.urlpatterns)
        for method in _offered_methods(pattern.callback)
    }
    assert len(offered) > 40
    assert offered - _covered(API) == set()


# Pages by the methods they answer. Each page must be a row with each of its methods, and a new
# page must be put in one of these (or answer both GET and POST).
GET_ONLY_PAGES = {
    "home",
    "login",
    "family-detail",
    "family-access-log",
    "dashboard",
    "dashboard-export",
    "prompt-detail",
}
POST_ONLY_PAGES = {
    "logout",
    "gap-resolve",
    "share-end",
    "prompt-acknowledge",
    "prompt-action",
    "prompt-escalate",
    "restriction-lift",
}


def test_every_page_and_form_is_a_row():
    from cases import urls as case_urls
    from escalation import urls as escalation_urls

    names = {pattern.name for pattern in case_urls.urlpatterns + escalation_urls.urlpatterns}
    covered = _covered(PAGES)
    for name in names:
        methods = {"get"} if name in GET_ONLY_PAGES else {"post"} if name in POST_ONLY_PAGES else {"get", "post"}
        for method in methods:
            assert (name, method) in covered, (name, method)
