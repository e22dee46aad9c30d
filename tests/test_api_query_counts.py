"""Bounded queries (DESIGN 7): a request touches the same number of queries whatever the amount of
data — 3 families' worth or 30 on a list, 2 members or 12 on a family's pages. The counts are
compared, never timed. Each test names the queries it expects today; the assertion is that the
number does not grow with the data (no query per row), with a loose ceiling as a backstop."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from cases.models import CaseNote, InformationGap, LeadProfessionalAssignment, Relationship
from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory, ShareFactory
from referrals.tests.factories import ReferralFactory
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db

PERSONAS = ["practitioner", "partner", "admin_user"]


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def count_queries(client, url, **params) -> tuple[int, dict]:
    params.setdefault("page_size", 500)  # every row on one page, so rows really are serialised
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


def add_member_with_records(family, *, n, agency, author):
    """One more person in the family, with a record of every kind that mentions them."""
    child = MemberFactory(family=family, role="child", given_name=f"Child{n}")
    adult = MemberFactory(family=family, role="other_adult", given_name=f"Adult{n}", date_of_birth=None)
    Relationship.objects.create(family=family, from_member=adult, to_member=child, kind="parent_of")
    InformationGap.objects.create(family=family, member=child, subject=f"school {n}", reason="not_asked")
    visit = VisitFactory(family=family, practitioner=author, purpose=f"Visit {n}")
    visit.children_seen.set([child])
    visit.children_seen_alone.set([child])
    AppointmentFactory(member=child, agency=agency, critical=bool(n % 2))
    AppointmentFactory(member=adult, agency=family.team.agency, status="did_not_attend")
    ReferralFactory(family=family, summary=f"Referral {n}")
    CaseNote.objects.create(family=family, author=author, agency=author.agency, text=f"Note {n}")
    # A past share and a past lead professional, so the shares and lead-history pages grow too.
    ShareFactory(
        family=family,
        agency=AgencyFactory(name=f"Past partner {family.pk}-{n}", kind="housing"),
        ended_at=timezone.now() - dt.timedelta(days=1),
    )
    started = timezone.now() - dt.timedelta(days=100 + n)
    LeadProfessionalAssignment.objects.create(
        family=family, user=author, started_at=started, ended_at=started + dt.timedelta(hours=1), assigned_by=author
    )
    return child, adult


def add_families(count, *, team, health_agency, lead):
    """`count` families of the team, each shared with the health agency and with a full record."""
    families = []
    for i in range(count):
        family = FamilyFactory(team=team, lead_professional=lead)
        ShareFactory(family=family, agency=health_agency)
        ShareFactory(family=family, agency=AgencyFactory(name=f"School for query test {family.pk}", kind="school"))
        LeadProfessionalAssignment.objects.create(
            family=family, user=lead, started_at=timezone.now() - dt.timedelta(days=10), assigned_by=lead
        )
        add_member_with_records(family, n=i, agency=health_agency, author=lead)
        families.append(family)
    return families


@pytest.fixture
def grow(team, health_agency, practitioner):
    def _grow(count):
        return add_families(count, team=team, health_agency=health_agency, lead=practitioner)

    return _grow


# --- top-level lists: 3 families' worth vs 30 -------------------------------------------------------

# Per list, the queries expected today (token auth is one query: token joined to its user):
LISTS = {
    # token; COUNT; families (their own columns); the members of the page, brief columns, in one list
    "/api/v1/families/": 4,
    # token; COUNT; members joined to family
    "/api/v1/members/": 3,
    # token; COUNT; referrals joined to family (who sees the confidential referrer needs the team)
    "/api/v1/referrals/": 3,
    # token; COUNT; visits, with the children seen (alone) as two arrays in the same query
    "/api/v1/visits/": 3,
    # token; COUNT; appointments joined to family, member, agency
    "/api/v1/appointments/": 3,
    # token; COUNT; agencies
    "/api/v1/agencies/": 3,
}
SLACK = 2  # room for a legitimate fixed-cost addition (e.g. one audit insert), never a per-row one


@pytest.mark.parametrize("url", sorted(LISTS))
@pytest.mark.parametrize("persona", PERSONAS)
def test_list_queries_do_not_grow_with_the_number_of_families(request, grow, url, persona):
    client = token_client(request.getfixturevalue(persona))
    grow(3)
    small, small_body = count_queries(client, url)
    grow(27)
    large, large_body = count_queries(client, url)

    assert large_body["count"] > small_body["count"]  # the second request really served more rows
    assert len(large_body["results"]) == large_body["count"]
    assert large == small, f"{url}: {small} queries for 3 families, {large} for 30"
    assert small <= LISTS[url] + SLACK, f"{url}: {small} queries (expected about {LISTS[url]})"


@pytest.mark.parametrize("persona", PERSONAS)
def test_list_queries_with_updated_since_do_not_grow(request, grow, persona):
    client = token_client(request.getfixturevalue(persona))
    since = (timezone.now() - dt.timedelta(hours=1)).isoformat()
    grow(3)
    small = {url: count_queries(client, url, updated_since=since)[0] for url in LISTS}
    grow(27)
    large = {url: count_queries(client, url, updated_since=since)[0] for url in LISTS}
    assert large == small


def test_me_is_one_query_for_the_token_and_user(practitioner):
    # token joined to its user; nothing else
    n, body = count_queries(token_client(practitioner), "/api/v1/me/")
    assert body["username"] == "alice"
    assert n <= 1 + SLACK


# --- a family's pages: 2 members vs 12 ------------------------------------------------------------

# Per family-scoped URL, the queries expected today. Every one starts with: token; the family
# (joined to team, agency, lead professional); the family's members (prefetch).
FAMILY_PAGES = {
    # token; family; members prefetch
    "": 3,
    # token; family; members prefetch; COUNT; members
    "members/": 5,
    # token; family; members prefetch; COUNT; shares joined to agency
    "shares/": 5,
    # token; family; members prefetch; COUNT; relationships joined to both members
    "relationships/": 5,
    # token; family; members prefetch; COUNT; open gaps joined to member
    "gaps/": 5,
    # token; family; members prefetch; lead history joined to user and agency
    "lead-professional/": 4,
    # token; family; members prefetch; referrals; visits+agency; appointments+agency+member;
    # lead history+user+agency; shares+agency; case notes+agency; flags; prompt events
    # (one query per source); the audit log's VIEW row
    "chronology/": 12,
}


@pytest.mark.parametrize("page", sorted(FAMILY_PAGES))
@pytest.mark.parametrize("persona", PERSONAS)
def test_family_page_queries_do_not_grow_with_the_number_of_members(
    request, family, share, health_agency, practitioner, page, persona
):
    client = token_client(request.getfixturevalue(persona))
    url = f"/api/v1/families/{family.pk}/{page}"
    LeadProfessionalAssignment.objects.create(family=family, user=practitioner, assigned_by=practitioner)
    add_member_with_records(family, n=0, agency=health_agency, author=practitioner)  # 2 members
    small, small_body = count_queries(client, url)
    for n in range(1, 6):  # 12 members
        add_member_with_records(family, n=n, agency=health_agency, author=practitioner)
    large, large_body = count_queries(client, url)

    if not (persona == "partner" and page == "shares/"):  # a partner sees its own agency's share only
        assert large_body != small_body  # the second request really served more
    assert large == small, f"{url}: {small} queries with 2 members, {large} with 12"
    assert small <= FAMILY_PAGES[page] + SLACK, f"{url}: {small} queries (expected about {FAMILY_PAGES[page]})"


def test_family_detail_lists_all_members_in_the_same_queries(family, practitioner, health_agency):
    client = token_client(practitioner)
    add_member_with_records(family, n=0, agency=health_agency, author=practitioner)
    small, body = count_queries(client, f"/api/v1/families/{family.pk}/")
    assert len(body["members"]) == 2
    for n in range(1, 6):
        add_member_with_records(family, n=n, agency=health_agency, author=practitioner)
    large, body = count_queries(client, f"/api/v1/families/{family.pk}/")
    assert len(body["members"]) == 12
    assert large == small


# --- detail endpoints: 2 children seen vs 12 ----------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
def test_visit_detail_queries_do_not_grow_with_children_seen(request, family, share, practitioner, persona):
    client = token_client(request.getfixturevalue(persona))
    visit = VisitFactory(family=family, practitioner=practitioner)
    children = [MemberFactory(family=family, role="child") for _ in range(12)]
    visit.children_seen.set(children[:2])
    visit.children_seen_alone.set(children[:2])
    # token; the visit, with the children seen (alone) as two arrays in the same query
    small, _ = count_queries(client, f"/api/v1/visits/{visit.pk}/")
    visit.children_seen.set(children)
    visit.children_seen_alone.set(children)
    large, body = count_queries(client, f"/api/v1/visits/{visit.pk}/")
    assert len(body["children_seen"]) == 12
    assert large == small
    assert small <= 2 + SLACK


@pytest.mark.parametrize("persona", PERSONAS)
def test_record_detail_endpoints_cost_a_fixed_number_of_queries(
    request, family, share, practitioner, health_agency, persona
):
    client = token_client(request.getfixturevalue(persona))
    child, _ = add_member_with_records(family, n=0, agency=health_agency, author=practitioner)
    referral = family.referrals.first()
    appointment = child.appointments.first()

    def costs():
        return {
            "member": count_queries(client, f"/api/v1/members/{child.pk}/")[0],
            "referral": count_queries(client, f"/api/v1/referrals/{referral.pk}/")[0],
            "appointment": count_queries(client, f"/api/v1/appointments/{appointment.pk}/")[0],
        }

    small = costs()
    for n in range(1, 6):
        add_member_with_records(family, n=n, agency=health_agency, author=practitioner)
    assert costs() == small
    # token; the record joined to what it shows
    assert all(n <= 2 + SLACK for n in small.values()), small
