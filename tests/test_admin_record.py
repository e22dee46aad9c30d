"""The admin over the case record: read-only, audited, with change history, and never the
confidential referrer (not even administrators see it)."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from cases.services import member_update
from referrals.tests.factories import ReferralFactory

pytestmark = pytest.mark.django_db


def test_admin_opening_a_family_is_an_audited_read_and_cannot_change_it(client, admin_user, family):
    client.force_login(admin_user)
    url = f"/admin/cases/family/{family.pk}/change/"
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="_save"' not in html  # view only: no save button
    event = AuditEvent.objects.get(action="view", model="cases.family", object_id=str(family.pk))
    assert event.actor == admin_user and event.route == f"GET {url}"
    response = client.post(url, {"name": "Renamed"})
    assert response.status_code == 403
    family.refresh_from_db()
    assert family.name == "Smith family"
    assert client.get("/admin/cases/family/add/").status_code == 403
    assert client.post(f"/admin/cases/family/{family.pk}/delete/", {"post": "yes"}).status_code == 403


def test_admin_sees_a_members_previous_values(client, admin_user, practitioner, child):
    member_update(actor=practitioner, member=child, data={"contact_phone": "07700 900001"})
    member_update(actor=practitioner, member=child, data={"contact_phone": "07700 900002"})
    client.force_login(admin_user)
    response = client.get(f"/admin/cases/member/{child.pk}/history/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "07700 900001" in html and "07700 900002" in html
    assert child.history.count() == 3
    assert {h.history_user for h in child.history.all()[:2]} == {practitioner}


def test_admin_never_sees_the_confidential_referrer(client, admin_user, family):
    referral = ReferralFactory(family=family)
    client.force_login(admin_user)
    for url in (
        f"/admin/referrals/referral/{referral.pk}/change/",
        "/admin/referrals/referral/",
    ):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "Pat Neighbour-Confidential" not in html and "07700 900123" not in html
        assert "Sam Supporter" not in html
    # The referral's history would show the referrer's details: not served in the admin.
    assert client.get(f"/admin/referrals/referral/{referral.pk}/history/").status_code == 403
