"""The confidential referrer never leaks (DESIGN 2, 5, 6; `cases.access.sees_confidential_referrer`).

A family owned by a team has referrals whose `referrer_name`, `referrer_contact` and
`supporting_professional` hold distinctive markers, recorded by the owning team through the API.
The family is shared with a partner agency and has visits, appointments, a case note, flags and
escalation prompts (the checks are run). Then every API endpoint (lists, details, nested
resources, chronology by kind, flags, escalations, the browsable API, OPTIONS, refused changes) and
every page (the CSV export included, and the pages that refuse them) is fetched as each persona
outside the owning team: the shared partner, a partner without a share, a partner whose share
ended, another team's practitioner, an admin. No marker may appear in any response body, header
or cookie, in any log line written meanwhile (every logger at DEBUG, SQL with its parameters), or
in the audit and security logs.

The owning team, and only it, sees the markers, through the referrals API: the sweep is not
vacuous. Even the owning team never gets them in the chronology or the export.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases import services as case_services
from cases.models import InformationGap, Relationship, Role
from cases.selectors import CHRONOLOGY_KINDS
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
from escalation.services.prompts import prompt_acknowledge
from visits.tests.factories import AppointmentFactory

REFERRER_NAME = "Xanthe Quorrowby-Pemberthwaite"
REFERRER_CONTACT = "07700 900813 / xq.pemberthwaite@example.net"
SUPPORTING = "Ysolde Vantwerpen, family support worker at Kestrelmoor Hub"
MARKERS = (REFERRER_NAME, REFERRER_CONTACT, SUPPORTING)
# Fragments too, in case a value were truncated, re-cased or re-formatted on the way out.
FRAGMENTS = (
    "quorrowby",
    "pemberthwaite",
    "07700 900813",  # the digits alone can occur in a timestamp
    "ysolde",
    "vantwerpen",
    "kestrelmoor",
)
CONFIDENTIAL_KEYS = ("referrer_name", "referrer_contact", "supporting_professional")
OUTSIDE_THE_OWNING_TEAM = ["partner", "unshared_partner", "ended_share_partner", "other_team", "admin"]


def leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [m for m in MARKERS if m in text] + [f for f in FRAGMENTS if f in lowered]


def response_text(response) -> str:
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) else response.content
    headers = "\n".join(f"{name}: {value}" for name, value in response.items())
    return "\n".join([body.decode("utf-8", "replace"), headers, response.cookies.output()])


@contextmanager
def everything_logged(caplog, *, sql: bool = True) -> Iterator[None]:
    """Every logger at DEBUG into caplog; with `sql`, every query with its parameters too (so a read
    that wrote the referrer somewhere, into an audit row say, would show)."""
    caplog.set_level(logging.DEBUG)
    detached = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if not isinstance(logger, logging.Logger):
            continue
        if logger.level != logging.NOTSET:
            caplog.set_level(logging.DEBUG, logger=name)
        if not logger.propagate:
            logger.addHandler(caplog.handler)
            detached.append(logger)
    try:
        if sql:
            with CaptureQueriesContext(connection):  # forces the debug cursor: every query is logged
                yield
        else:
            yield
    finally:
        for logger in detached:
            logger.removeHandler(caplog.handler)


def log_text(caplog) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_info:
            lines.append(logging.Formatter().formatException(record.exc_info))
        lines.append(json.dumps({k: str(v) for k, v in vars(record).items() if k not in ("msg", "args")}))
    return "\n".join(lines)


def stored_logs() -> str:
    """The audit log and the security log, every row of every model of the audit app."""
    rows = {model.__name__: list(model.objects.values()) for model in apps.get_app_config("audit").get_models()}
    return json.dumps(rows, default=str)


# --- the family: built once for the module --------------------------------------------------------


def _build_world(api, caplog) -> SimpleNamespace:
    council = AgencyFactory(name="Leakshire Children's Services", kind="social_care")
    team = TeamFactory(agency=council, name="Leak Assessment North")
    health = AgencyFactory(name="Leakshire Health Visiting", kind="health_visiting")
    school = AgencyFactory(name="Leakshire Academy", kind="school")
    alice = UserFactory(username="lk-alice", team=team, agency=council, role=Role.PRACTITIONER)
    users = SimpleNamespace(
        practitioner=alice,
        teammate=UserFactory(username="lk-bob", team=team, agency=council, role=Role.PRACTITIONER),
        manager=UserFactory(username="lk-mandy", team=team, agency=council, role=Role.MANAGER),
        other_team=UserFactory(
            username="lk-charlie",
            team=TeamFactory(agency=council, name="Leak Assessment South"),
            agency=council,
            role=Role.PRACTITIONER,
        ),
        partner=PartnerUserFactory(username="lk-health", agency=health),
        unshared_partner=PartnerUserFactory(
            username="lk-police", agency=AgencyFactory(name="Leakshire Police", kind="police")
        ),
        ended_share_partner=PartnerUserFactory(username="lk-school", agency=school),
        admin=UserFactory(
            username="lk-root", role=Role.ADMIN, team=None, agency=None, is_staff=True, is_superuser=True
        ),
    )
    family = FamilyFactory(team=team, name="Smith family", lead_professional=alice)
    child = MemberFactory(family=family, given_name="Kai", family_name="Smith", role="child")
    mother = MemberFactory(family=family, given_name="Jade", family_name="Smith", role="mother")
    ago = lambda days: (timezone.now() - dt.timedelta(days=days)).isoformat()  # noqa: E731

    def post(user, url, data):
        response = api.as_user(user).post(url, data, format="json")
        assert response.status_code == 201, response.content
        return response.json()["id"]

    # Recording them writes the values to the database, so SQL is left out of this log capture.
    with everything_logged(caplog, sql=False):
        confidential = {
            "referrer_name": REFERRER_NAME,
            "referrer_contact": REFERRER_CONTACT,
            "supporting_professional": SUPPORTING,
        }
        referral_id = post(
            alice,
            "/api/v1/referrals/",
            {
                "family": family.pk,
                "source": "anonymous",
                **confidential,
                "concerns": ["neglect", "home_conditions"],
                "summary": "Children left alone in the evenings; the house is cold.",
            },
        )
        post(
            alice,
            "/api/v1/referrals/",
            {
                "family": family.pk,
                "source": "public",
                **confidential,
                "concerns": ["domestic_abuse"],
                "summary": "Shouting heard most nights.",
                "decision": "assessment",
            },
        )
        share_id = post(
            alice,
            f"/api/v1/families/{family.pk}/shares/",
            {
                "agency": health.pk,
                "purpose": "Health visiting",
                "legal_basis": "Children Act 1989 s.17",
                "ends": (timezone.localdate() + dt.timedelta(days=90)).isoformat(),
            },
        )
        ended = ShareFactory(family=family, agency=school)
        case_services.share_end(actor=alice, share=ended)
        visit_id = post(
            alice,
            "/api/v1/visits/",
            {
                "family": family.pk,
                "planned": True,
                "purpose": "Review the safety plan with mum",
                "expected_outcome": "Safety plan agreed",
                "scheduled_for": ago(5),
                "status": "completed",
                "children_seen": [child.pk],
                "voice_of_child": "Kai said he likes his new bed",
            },
        )
        partner_visit_id = post(
            users.partner,
            "/api/v1/visits/",
            {"family": family.pk, "planned": False, "scheduled_for": ago(3), "status": "completed"},
        )
        appointment_id = post(
            users.partner,
            "/api/v1/appointments/",
            {"member": child.pk, "kind": "development_check", "scheduled_for": ago(4), "status": "was_not_brought"},
        )
        AppointmentFactory(
            member=child, agency=council, status="was_not_brought", scheduled_for=timezone.now() - dt.timedelta(9)
        )
        relationship = Relationship.objects.create(family=family, from_member=mother, to_member=child, kind="parent_of")
        gap = InformationGap.objects.create(family=family, subject="father", reason="declined")
        case_services.case_note_add(actor=alice, family=family, text="Strategy discussion held with health.")
        run_checks_in_process(family_ids=[family.pk])
        prompts = list(EscalationPrompt.objects.filter(family=family).order_by("id"))
        assert any(p.flag.rule == "was_not_brought" for p in prompts), "the checks should raise a prompt"
        prompt_acknowledge(actor=users.manager, prompt=prompts[0])
    assert not leaks(log_text(caplog)), "the confidential referrer was logged while it was recorded"
    caplog.clear()
    return SimpleNamespace(
        users=users,
        family=family,
        child=child,
        council=council,
        referral_id=referral_id,
        share_id=share_id,
        visit_id=visit_id,
        partner_visit_id=partner_visit_id,
        appointment_id=appointment_id,
        relationship=relationship,
        gap=gap,
        prompts=prompts,
        flags=list(Flag.objects.filter(family=family).order_by("id")),
    )


@pytest.fixture(scope="module")
def _module_db(django_db_setup, django_db_blocker):
    """One transaction for the whole module, rolled back at its end: nothing reaches other modules."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield {}
        transaction.set_rollback(True)


@pytest.fixture
def db(_module_db, api, caplog):
    """pytest-django's `db`, overridden here: a savepoint in the module's transaction, rolled back
    after each test. The first test builds the family (through the API, as the owning team would)."""
    if "world" not in _module_db:
        with transaction.atomic():  # a failed build leaves nothing behind for the next test to trip on
            _module_db["world"] = _build_world(api, caplog)
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.fixture
def world(db, _module_db):
    return _module_db["world"]


# --- what is fetched ----------------------------------------------------------------------------


def api_urls(w) -> list[str]:
    """Every GET of the partner API touching the family, its records or the caller."""
    fid = w.family.pk
    return [
        "/api/v1/",
        "/api/v1/me/",
        "/api/v1/agencies/",
        f"/api/v1/agencies/{w.council.pk}/",
        "/api/v1/families/",
        "/api/v1/families/?updated_since=2000-01-01T00:00:00Z",
        f"/api/v1/families/{fid}/",
        f"/api/v1/families/{fid}/members/",
        f"/api/v1/families/{fid}/members/{w.child.pk}/",
        "/api/v1/members/",
        f"/api/v1/members/{w.child.pk}/",
        f"/api/v1/families/{fid}/shares/",
        f"/api/v1/families/{fid}/shares/{w.share_id}/",
        f"/api/v1/families/{fid}/relationships/",
        f"/api/v1/families/{fid}/relationships/{w.relationship.pk}/",
        f"/api/v1/families/{fid}/gaps/",
        f"/api/v1/families/{fid}/gaps/?include_resolved=true",
        f"/api/v1/families/{fid}/gaps/{w.gap.pk}/",
        f"/api/v1/families/{fid}/lead-professional/",
        f"/api/v1/families/{fid}/chronology/?page_size=500",
        f"/api/v1/families/{fid}/chronology/?agency={w.council.pk}",
        *[f"/api/v1/families/{fid}/chronology/?kind={kind}" for kind in CHRONOLOGY_KINDS],
        "/api/v1/referrals/",
        f"/api/v1/referrals/?family={fid}",
        "/api/v1/referrals/?source=anonymous",
        f"/api/v1/referrals/{w.referral_id}/",
        f"/api/v1/referrals/{w.referral_id}.json",
        "/api/v1/visits/",
        f"/api/v1/visits/{w.visit_id}/",
        "/api/v1/appointments/",
        f"/api/v1/appointments/{w.appointment_id}/",
        "/api/v1/flags/",
        f"/api/v1/flags/?family={fid}",
        *[f"/api/v1/flags/{f.pk}/" for f in w.flags],
        "/api/v1/escalations/",
        f"/api/v1/escalations/?family={fid}",
        *[f"/api/v1/escalations/{p.pk}/" for p in w.prompts],
    ]


# The browsable API renders forms from the serializer: a classic place for a hidden field to leak.
BROWSABLE = ("/api/v1/referrals/", "/api/v1/referrals/{referral}/", "/api/v1/families/{family}/")


def page_urls(w) -> list[str]:
    """Every page of the service, as it applies to this family."""
    fid = w.family.pk
    return [
        reverse("home"),
        reverse("home") + "?status=",
        reverse("search"),
        reverse("family-create"),
        reverse("family-detail", args=[fid]),
        *[reverse("family-detail", args=[fid]) + f"?kind={kind}" for kind in CHRONOLOGY_KINDS],
        reverse("family-access-log", args=[fid]),
        reverse("member-create", args=[fid]),
        reverse("member-edit", args=[fid, w.child.pk]),
        reverse("gap-create", args=[fid]),
        reverse("relationship-create", args=[fid]),
        reverse("significant-adults", args=[fid]),
        reverse("lead-professional", args=[fid]),
        reverse("share-create", args=[fid]),
        reverse("visit-create", args=[fid]),
        reverse("visit-edit", args=[fid, w.visit_id]),
        reverse("visit-edit", args=[fid, w.partner_visit_id]),
        reverse("appointment-create", args=[fid]),
        reverse("appointment-edit", args=[fid, w.appointment_id]),
        reverse("referral-create", args=[fid]),
        reverse("dashboard"),
        reverse("dashboard") + "?status=",
        reverse("dashboard-export"),
        reverse("dashboard-export") + "?status=",
        *[reverse("prompt-detail", args=[p.pk]) for p in w.prompts],
        reverse("prompt-acknowledge", args=[w.prompts[0].pk]),  # GET: 405
    ]


def django_admin_urls(w) -> list[str]:
    """The Django admin: every model's list, and the referral's and the family's own pages."""
    urls = [reverse("admin:index")]
    for model in admin.site._registry:
        urls.append(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"))
    for name, pk in (("referrals_referral", w.referral_id), ("cases_family", w.family.pk)):
        urls += [reverse(f"admin:{name}_change", args=[pk]), reverse(f"admin:{name}_history", args=[pk])]
    return urls


def reachable_pages(w) -> list[str]:
    """Pages the shared partner (and an admin) must reach, so the sweep is not only of error pages."""
    fid = w.family.pk
    return [
        reverse("home"),
        reverse("search"),
        reverse("family-detail", args=[fid]),
        *[reverse("family-detail", args=[fid]) + f"?kind={kind}" for kind in CHRONOLOGY_KINDS],
        reverse("visit-create", args=[fid]),
        reverse("visit-edit", args=[fid, w.partner_visit_id]),
        reverse("appointment-create", args=[fid]),
        reverse("appointment-edit", args=[fid, w.appointment_id]),
        *[reverse("prompt-detail", args=[p.pk]) for p in w.prompts],
    ]


HTMX_CHRONOLOGY = {"HX-Request": "true", "HX-Target": "chronology-list"}


def sweep(user, w, api, client, caplog) -> dict[str, int]:
    """Fetch everything as `user`, logging at DEBUG; each request's status. Fails on the first
    response that carries a marker."""
    statuses: dict[str, int] = {}

    def check(label: str, response) -> None:
        found = leaks(response_text(response))
        assert not found, f"{found} leaked to {user.username} by {label} ({response.status_code})"
        statuses[label] = response.status_code

    caller = api.as_user(user)
    client.force_login(user)
    with everything_logged(caplog):
        for url in api_urls(w):
            check(f"GET {url}", caller.get(url))
        for template in BROWSABLE:
            url = template.format(referral=w.referral_id, family=w.family.pk)
            check(f"GET {url} (browsable)", caller.get(url, HTTP_ACCEPT="text/html"))
            check(f"GET {url}?format=api", caller.get(url, {"format": "api"}))
            check(f"OPTIONS {url}", caller.options(url))
        for url in page_urls(w):
            check(f"page {url}", client.get(url))
        for kind in CHRONOLOGY_KINDS:
            url = reverse("family-detail", args=[w.family.pk])
            check(f"page {url} htmx {kind}", client.get(url, {"kind": kind}, headers=HTMX_CHRONOLOGY))
        check("page dashboard htmx", client.get(reverse("dashboard"), headers={"HX-Request": "true"}))
        for q in ("Smith", "Kai", w.family.reference):  # the search takes the name in a POST body
            check(f"search {q}", client.post(reverse("search"), {"q": q}))
            check(f"search {q} htmx", client.post(reverse("search"), {"q": q}, headers={"HX-Request": "true"}))
        for url in django_admin_urls(w):
            check(f"admin {url}", client.get(url))

    # Changes to the referral: refused (400/403/404/405) for all but the admin, whose PATCH succeeds.
    # Neither an error nor the changed record may carry the referrer. (SQL is left out of this capture:
    # an allowed change writes the whole row, referrer included, to the database.)
    referral = f"/api/v1/referrals/{w.referral_id}/"
    with everything_logged(caplog, sql=False):
        check(f"PATCH {referral} (bad)", caller.patch(referral, {"concerns": ["nonsense"]}, format="json"))
        check(f"PUT {referral}", caller.put(referral, {}, format="json"))
        check(f"DELETE {referral}", caller.delete(referral))
        check(f"PATCH {referral}", caller.patch(referral, {"summary": "Children left alone; rang back."}))
    return statuses


# --- the tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", OUTSIDE_THE_OWNING_TEAM)
def test_nobody_outside_the_owning_team_ever_receives_the_referrer(world, persona, api, client, caplog):
    user = getattr(world.users, persona)
    statuses = sweep(user, world, api, client, caplog)
    assert not leaks(log_text(caplog)), f"the confidential referrer was logged while {persona} browsed"
    assert not leaks(stored_logs()), "the confidential referrer is in the audit or security log"
    assert len(statuses) > 80

    if persona in ("partner", "admin"):
        # They may see the family: the sweep saw the real records, not error pages.
        for url in api_urls(world):
            assert statuses[f"GET {url}"] == 200, url
        for url in reachable_pages(world):
            assert statuses[f"page {url}"] == 200, url
        assert statuses["search Kai"] == 200
        detail = api.as_user(user).get(f"/api/v1/referrals/{world.referral_id}/").json()
        assert (detail["source"], detail["concerns"]) == ("anonymous", ["neglect", "home_conditions"])
        assert not set(CONFIDENTIAL_KEYS) & set(detail)
    if persona == "admin":
        for url in django_admin_urls(world):
            if not url.endswith("/history/"):  # history pages: the referral's is withheld from admins
                assert statuses[f"admin {url}"] == 200, url
    if persona not in ("partner", "admin"):
        assert statuses[f"GET /api/v1/referrals/{world.referral_id}/"] == 404
        assert statuses[f"page {reverse('family-detail', args=[world.family.pk])}"] == 404


@pytest.mark.parametrize("persona", ["practitioner", "teammate", "manager"])
def test_the_owning_team_sees_the_referrer_but_never_in_the_chronology_or_export(world, persona, api, client, caplog):
    user = getattr(world.users, persona)
    caller = api.as_user(user)
    client.force_login(user)
    fid = world.family.pk
    with everything_logged(caplog):
        detail = caller.get(f"/api/v1/referrals/{world.referral_id}/")
        listed = caller.get("/api/v1/referrals/", {"family": fid})
        assert detail.status_code == listed.status_code == 200
        # Every marker reaches the owning team: the sweeps above are not vacuous.
        assert set(leaks(response_text(detail))) >= set(MARKERS)
        assert set(leaks(response_text(listed))) >= set(MARKERS)
        assert [detail.json()[key] for key in CONFIDENTIAL_KEYS] == [REFERRER_NAME, REFERRER_CONTACT, SUPPORTING]

        for response in (
            caller.get(f"/api/v1/families/{fid}/chronology/", {"page_size": 500}),
            caller.get(f"/api/v1/families/{fid}/chronology/", {"kind": "referral"}),
            client.get(reverse("family-detail", args=[fid])),
            client.get(reverse("family-detail", args=[fid]), {"kind": "referral"}, headers=HTMX_CHRONOLOGY),
            client.get(reverse("dashboard-export"), {"status": ""}),
            client.get(reverse("dashboard-export")),
        ):
            assert response.status_code == 200
            assert not leaks(response_text(response)), response.request["PATH_INFO"]
    assert not leaks(log_text(caplog)), "the confidential referrer was logged while the owning team read it"
    assert not leaks(stored_logs()), "the confidential referrer is in the audit or security log"


@pytest.mark.parametrize("persona", ["manager", "admin"])
def test_the_export_lists_the_familys_prompts_without_the_referrer(world, persona, client):
    client.force_login(getattr(world.users, persona))
    response = client.get(reverse("dashboard-export"), {"status": ""})
    text = response_text(response)
    assert response.status_code == 200
    assert world.family.reference in text  # the export is not empty
    assert not leaks(text)
