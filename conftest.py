"""Shared fixtures: the personas every endpoint and page is tested with (STYLE 10).

- `practitioner` (alice) and `teammate` (bob) in the owning team; `manager` of that team;
- `other_team` (charlie), a practitioner in another team of the same council;
- `partner` (a health visiting agency's user) with a current share of `family`;
- `unshared_partner` from an agency with no share; `admin`.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from cases.models import Role
from cases.tests.factories import (
    AgencyFactory,
    FamilyFactory,
    MemberFactory,
    PartnerUserFactory,
    ShareFactory,
    TeamFactory,
    UserFactory,
)


@pytest.fixture
def council(db):
    return AgencyFactory(name="Northshire Children's Services", kind="social_care")


@pytest.fixture
def team(council):
    return TeamFactory(agency=council, name="Assessment Team North")


@pytest.fixture
def practitioner(team):
    return UserFactory(username="alice", team=team, agency=team.agency, role=Role.PRACTITIONER)


@pytest.fixture
def teammate(team):
    return UserFactory(username="bob", team=team, agency=team.agency, role=Role.PRACTITIONER)


@pytest.fixture
def manager(team):
    return UserFactory(username="mandy", team=team, agency=team.agency, role=Role.MANAGER)


@pytest.fixture
def other_team_user(council):
    other = TeamFactory(agency=council, name="Assessment Team South")
    return UserFactory(username="charlie", team=other, agency=council, role=Role.PRACTITIONER)


@pytest.fixture
def health_agency(db):
    return AgencyFactory(name="Northshire Health Visiting", kind="health_visiting")


@pytest.fixture
def partner(health_agency):
    return PartnerUserFactory(username="hv-system", agency=health_agency)


@pytest.fixture
def unshared_partner(db):
    return PartnerUserFactory(username="police-system", agency=AgencyFactory(name="Northshire Police", kind="police"))


@pytest.fixture
def admin_user(db):
    return UserFactory(username="root", role=Role.ADMIN, team=None, agency=None, is_staff=True, is_superuser=True)


@pytest.fixture
def family(team, practitioner):
    return FamilyFactory(team=team, name="Smith family", lead_professional=practitioner)


@pytest.fixture
def child(family):
    return MemberFactory(family=family, given_name="Kai", family_name="Smith", role="child")


@pytest.fixture
def mother(family):
    return MemberFactory(family=family, given_name="Jade", family_name="Smith", role="mother", date_of_birth=None)


@pytest.fixture
def share(family, health_agency):
    return ShareFactory(family=family, agency=health_agency)


@pytest.fixture
def api():
    """An API client; `api.as_user(user)` authenticates with a real token, like a partner system."""

    client = APIClient()

    def as_user(user):
        from accounts.tests.factories import api_token_for

        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
        return client

    client.as_user = as_user
    return client


@pytest.fixture(autouse=True)
def _force_login_includes_second_factor(monkeypatch):
    """`client.force_login(user)` stands for a completed sign-in, second factor included: a
    manager or admin gets a confirmed authenticator and a verified session. The real sign-in,
    lock-out and two-factor flows are tested through the forms in accounts/tests/."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from accounts.services import requires_two_factor

    original = Client.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        if requires_two_factor(user):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
                user=user, name="test", confirmed=True
            )
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture(autouse=True)
def _clear_cache():
    """Cached figures (the dashboard's charts) must not leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def pytest_collection_modifyitems(config, items):
    """The real Celery worker test runs first. Other tests run tasks eagerly on the in-memory
    broker, and the Celery app keeps some of what it made then: after them, that test's tasks
    never reached its worker (seen only in full runs, never alone)."""
    items.sort(key=lambda item: item.get_closest_marker("celery_worker") is None)
