"""The API's read fast paths give exactly what DRF's own code gave: the serializers' FastReadMixin,
the visits' children as arrays in the page query, the filter backend skipped when nothing filters,
and a partner's first-page family count taken from its shares."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.tests.factories import api_token_for
from cases.access import visible_families, visible_family_count
from cases.api.serializers import FamilySerializer, MemberBriefSerializer
from cases.models import Family
from cases.tests.factories import AgencyFactory, FamilyFactory, MemberFactory, ShareFactory
from visits.api import AppointmentSerializer, VisitSerializer
from visits.models import Appointment
from visits.selectors import visit_list
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def drf_own(serializer_class):
    """The same serializer presenting each row through DRF's own Serializer.to_representation."""
    return type(
        f"Drf{serializer_class.__name__}",
        (serializer_class,),
        {"to_representation": serializers.ModelSerializer.to_representation},
    )


def both(serializer_class, instances, user):
    request = Request(APIRequestFactory().get("/"))
    request.user = user
    context = {"request": request}
    fast = serializer_class(instances, many=True, context=context).data
    slow = drf_own(serializer_class)(instances, many=True, context=context).data
    return fast, slow


@pytest.fixture
def visits(family, practitioner, child, mother):
    second = MemberFactory(family=family, role="child", given_name="Mia")
    summer = VisitFactory(
        family=family, practitioner=practitioner, scheduled_for=dt.datetime(2026, 7, 1, 9, 30, tzinfo=dt.UTC)
    )
    winter = VisitFactory(
        family=family,
        practitioner=None,
        planned=False,
        purpose="",
        expected_outcome="",
        scheduled_for=dt.datetime(2026, 1, 5, 14, 0, 0, 123456, tzinfo=dt.UTC),
        voice_of_child='Says "hello" \\ waves',
    )
    summer.children_seen.set([second, child])
    summer.children_seen_alone.set([second])
    return [summer, winter]


def test_visits_are_presented_exactly_as_drf_presents_them(visits, practitioner):
    instances = list(visit_list(user=practitioner).order_by("id"))
    fast, slow = both(VisitSerializer, instances, practitioner)
    assert fast == slow
    assert [list(row) for row in fast] == [list(row) for row in slow]  # the keys in the same order
    summer, winter = fast
    assert summer["scheduled_for"] == "2026-07-01T10:30:00+01:00"  # British Summer Time, as DRF gives it
    assert winter["scheduled_for"] == "2026-01-05T14:00:00.123456Z"
    assert winter["practitioner"] is None


def test_appointments_families_and_members_are_presented_exactly_as_drf_presents_them(
    family, child, mother, practitioner, council
):
    AppointmentFactory(member=child, agency=council, critical=True)
    AppointmentFactory(member=mother, agency=council, status="did_not_attend")
    FamilyFactory(team=family.team, lead_professional=None)
    for serializer_class, instances in (
        (AppointmentSerializer, list(Appointment.objects.order_by("id"))),
        (FamilySerializer, list(Family.objects.prefetch_related("members").order_by("id"))),
        (MemberBriefSerializer, list(family.members.order_by("id"))),
    ):
        fast, slow = both(serializer_class, instances, practitioner)
        assert fast == slow, serializer_class.__name__
        assert [list(row) for row in fast] == [list(row) for row in slow]


def test_a_dict_is_presented_by_drf_itself(practitioner):
    data = {"id": 1, "name": "Smith family", "members": []}
    request = Request(APIRequestFactory().get("/"))
    request.user = practitioner
    fields = FamilySerializer(context={"request": request})
    assert fields.to_representation(data) == drf_own(FamilySerializer)(context={"request": request}).to_representation(
        data
    )


def test_children_seen_come_in_the_members_own_order_from_the_page_query(family, practitioner, child, mother):
    """Member's ordering is (family, id): kept even for a child recorded from another family."""
    elsewhere = MemberFactory(family=FamilyFactory(team=family.team), role="child")
    later = MemberFactory(family=family, role="child")
    visit = VisitFactory(family=family, practitioner=practitioner)
    visit.children_seen.set([later, elsewhere, child])
    expected = [m.pk for m in visit.children_seen.all()]  # the relation, in Member's ordering
    assert expected == sorted(
        [later.pk, elsewhere.pk, child.pk], key=lambda pk: (Family.objects.get(members=pk).pk, pk)
    )

    client = token_client(practitioner)
    with CaptureQueriesContext(connection) as ctx:
        listed = client.get("/api/v1/visits/").json()["results"]
    assert [v["children_seen"] for v in listed] == [expected]
    assert [v["children_seen_alone"] for v in listed] == [[]]
    # token; COUNT; the visits with both arrays and, in the same statement, their read rows: no
    # query for the children
    assert len(ctx.captured_queries) == 3, [q["sql"][:80] for q in ctx.captured_queries]
    assert client.get(f"/api/v1/visits/{visit.pk}/").json()["children_seen"] == expected


def test_changing_a_visit_still_reads_and_checks_its_children(family, practitioner, child):
    visit = VisitFactory(family=family, practitioner=practitioner)
    visit.children_seen.set([child])
    client = token_client(practitioner)
    response = client.patch(f"/api/v1/visits/{visit.pk}/", {"outcome": "Plan agreed"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["children_seen"] == [child.pk]
    stranger = MemberFactory(family=FamilyFactory(team=family.team), role="child")
    response = client.patch(f"/api/v1/visits/{visit.pk}/", {"children_seen": [stranger.pk]}, format="json")
    assert response.status_code == 400
    assert "children_seen" in response.json()


def test_a_list_without_filters_is_the_same_list_and_a_bad_filter_is_still_refused(family, practitioner):
    VisitFactory(family=family, practitioner=practitioner, status="completed")
    VisitFactory(family=family, practitioner=practitioner, status="no_access")
    client = token_client(practitioner)
    everything = client.get("/api/v1/visits/").json()
    assert everything["count"] == 2
    assert client.get("/api/v1/visits/", {"page_size": 1}).json()["count"] == 2
    assert client.get("/api/v1/visits/", {"status": "no_access"}).json()["count"] == 1
    assert client.get("/api/v1/visits/", {"unknown": "1"}).json() == everything
    assert client.get("/api/v1/visits/", {"updated_since": "yesterday"}).status_code == 400


@pytest.fixture
def shares_in_every_state(family, health_agency, team):
    """The partner's agency: current shares (one family shared twice), and shares that give no access."""
    today = timezone.localdate()
    twice = FamilyFactory(team=team)
    ShareFactory(family=family, agency=health_agency)
    ShareFactory(family=twice, agency=health_agency)
    ShareFactory(family=twice, agency=health_agency, purpose="A second, overlapping share")
    ShareFactory(family=FamilyFactory(team=team), agency=health_agency, ended_at=timezone.now())
    ShareFactory(family=FamilyFactory(team=team), agency=health_agency, ends=today - dt.timedelta(days=1))
    ShareFactory(family=FamilyFactory(team=team), agency=health_agency, starts=today + dt.timedelta(days=1))
    ShareFactory(family=FamilyFactory(team=team), agency=AgencyFactory(name="Another partner", kind="police"))
    FamilyFactory(team=team, status="closed")
    return {family.pk, twice.pk}


@pytest.mark.parametrize(
    "persona", ["practitioner", "manager", "other_team_user", "partner", "unshared_partner", "admin_user"]
)
def test_the_visible_family_count_is_the_count_of_the_visible_families(request, shares_in_every_state, persona):
    user = request.getfixturevalue(persona)
    assert visible_family_count(user) == visible_families(user).count()


def test_a_partners_first_page_counts_its_current_shares(shares_in_every_state, partner):
    client = token_client(partner)
    with CaptureQueriesContext(connection) as ctx:
        body = client.get("/api/v1/families/").json()
    assert {f["id"] for f in body["results"]} == shares_in_every_state
    assert body["count"] == 2
    count_sql = [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"]]
    # Counted in the shares alone: the family table is read only by the restricted-records
    # subquery (the partial index on restricted families, a handful of rows), never joined.
    assert len(count_sql) == 1 and 'JOIN "cases_family"' not in count_sql[0]
    assert count_sql[0].count('FROM "cases_family"') == 1 and 'V0."restricted"' in count_sql[0]
    # Anything that narrows the list is counted over the families, as before.
    assert client.get("/api/v1/families/", {"status": "closed"}).json()["count"] == 0
    assert client.get("/api/v1/families/", {"page_size": 1}).json()["count"] == 2
    assert client.get("/api/v1/families/", {"page": 1}).json()["count"] == 2
