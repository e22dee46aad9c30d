"""Shares end, and ending one ends its agency's lead role (issue 14, items 7 and 8).

- A share lasts at most SHARE_MAX_DAYS (default 365) from its start, or from today; it can be
  renewed (service, API and page), within the same limit, audited.
- Ending a share (or its lapsing on its last day, by the daily task) ends the lead role of a lead
  professional of that agency with no other current share at once: the family shows no lead, the
  assignment is ended and audited, the prompts held by that person go to the team manager, and
  the family's checks run after commit, so "no lead professional" is flagged and prompted.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from cases import services
from cases.models import Family, LeadProfessionalAssignment
from cases.tests.factories import PartnerUserFactory, ShareFactory

pytestmark = pytest.mark.django_db


def _api(user) -> APIClient:
    # Signed in without a token: what is tested here is the rule, not how the caller authenticates.
    client = APIClient()
    client.force_authenticate(user)
    return client


TODAY = timezone.localdate


def _long_date(day: dt.date) -> str:
    return f"{day.day} {day:%B %Y}"


# --- item 8: a share lasts at most a configured maximum ----------------------------------------


def test_a_share_ending_in_9999_is_refused_in_plain_words(practitioner, family, health_agency):
    response = _api(practitioner).post(
        f"/api/v1/families/{family.pk}/shares/",
        {"agency": health_agency.pk, "purpose": "Health visiting", "legal_basis": "CA 1989 s.17", "ends": "9999-12-31"},
        format="json",
    )
    assert response.status_code == 400, response.content
    latest = TODAY() + dt.timedelta(days=365)
    assert response.json()["ends"] == [
        f"A share can last at most 12 months: choose a last day on or before {_long_date(latest)}."
    ]
    assert not family.shares.exists()


def test_a_share_may_end_on_the_last_allowed_day_and_not_the_day_after(practitioner, family, health_agency):
    latest = TODAY() + dt.timedelta(days=365)
    fields = {"actor": practitioner, "family": family, "agency": health_agency, "purpose": "HV", "legal_basis": "s.17"}
    with pytest.raises(ValidationError) as exc:
        services.share_create(**fields, ends=latest + dt.timedelta(days=1))
    assert "ends" in exc.value.message_dict
    assert services.share_create(**fields, ends=latest).ends == latest


def test_a_share_starting_later_counts_its_maximum_from_its_start(practitioner, family, health_agency):
    starts = TODAY() + dt.timedelta(days=30)
    share = services.share_create(
        actor=practitioner,
        family=family,
        agency=health_agency,
        purpose="HV",
        legal_basis="s.17",
        starts=starts,
        ends=starts + dt.timedelta(days=365),
    )
    assert share.ends == starts + dt.timedelta(days=365)


def test_the_maximum_is_a_setting(settings, practitioner, family, health_agency):
    settings.SHARE_MAX_DAYS = 28
    with pytest.raises(ValidationError) as exc:
        services.share_create(
            actor=practitioner,
            family=family,
            agency=health_agency,
            purpose="HV",
            legal_basis="s.17",
            ends=TODAY() + dt.timedelta(days=29),
        )
    assert exc.value.message_dict["ends"][0].startswith("A share can last at most 4 weeks:")


def test_renewing_a_share_through_the_api_sets_its_new_last_day_audited(practitioner, family, share):
    new_end = TODAY() + dt.timedelta(days=300)
    url = f"/api/v1/families/{family.pk}/shares/{share.pk}/renew/"

    response = _api(practitioner).post(url, {"ends": new_end.isoformat()}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["ends"] == new_end.isoformat()
    share.refresh_from_db()
    assert share.ends == new_end
    change = AuditEvent.objects.get(model="cases.familyshare", action="change", object_id=str(share.pk))
    assert change.changes["ends"]["to"] == new_end.isoformat()
    assert change.actor == practitioner


@pytest.mark.parametrize(
    ("days", "message_start"),
    [
        (366, "A share can last at most 12 months: choose a last day on or before"),
        (-1, "Choose a last day of access that is today or later."),
    ],
)
def test_a_renewal_past_the_maximum_or_in_the_past_is_a_400(practitioner, family, share, days, message_start):
    url = f"/api/v1/families/{family.pk}/shares/{share.pk}/renew/"
    before = share.ends
    ends = (TODAY() + dt.timedelta(days=days)).isoformat()
    response = _api(practitioner).post(url, {"ends": ends}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["ends"][0].startswith(message_start)
    share.refresh_from_db()
    assert share.ends == before


def test_a_renewal_without_a_date_is_a_400_with_a_field_error(practitioner, family, share):
    response = _api(practitioner).post(f"/api/v1/families/{family.pk}/shares/{share.pk}/renew/", {})
    assert response.status_code == 400
    assert "ends" in response.json()


def test_only_the_owning_team_renews_and_outsiders_get_404(family, share, partner, other_team_user):
    url = f"/api/v1/families/{family.pk}/shares/{share.pk}/renew/"
    ends = (TODAY() + dt.timedelta(days=100)).isoformat()
    assert _api(partner).post(url, {"ends": ends}, format="json").status_code == 403
    assert _api(other_team_user).post(url, {"ends": ends}, format="json").status_code == 404


def test_the_family_page_offers_renew_and_the_form_renews(client, practitioner, family, share):
    client.force_login(practitioner)
    page = client.get(f"/families/{family.pk}/").content.decode()
    renew_url = f"/families/{family.pk}/shares/{share.pk}/renew/"
    assert renew_url in page

    form = client.get(renew_url)
    assert form.status_code == 200
    too_late = TODAY() + dt.timedelta(days=400)
    refused = client.post(
        renew_url, {"ends_day": too_late.day, "ends_month": too_late.month, "ends_year": too_late.year}
    )
    assert refused.status_code == 200
    assert "A share can last at most 12 months" in refused.content.decode()

    new_end = TODAY() + dt.timedelta(days=200)
    done = client.post(renew_url, {"ends_day": new_end.day, "ends_month": new_end.month, "ends_year": new_end.year})
    assert done.status_code == 302
    share.refresh_from_db()
    assert share.ends == new_end


# --- item 7: ending a share ends that agency's lead role, at once -----------------------------


@pytest.fixture
def partner_lead(family, share, health_agency, manager):
    """A health visitor of the shared agency leads the family, and holds a prompt on it."""
    from escalation.models import EscalationPrompt, Flag

    health_visitor = PartnerUserFactory(username="hv-jo", agency=health_agency)
    services.lead_professional_set(actor=manager, family=family, user=health_visitor)
    flag = Flag.objects.create(family=family, rule="missing_family_details", severity="medium", detail="Gaps")
    EscalationPrompt.objects.create(
        flag=flag, family=family, level="lead_professional", assigned_to=health_visitor, due=TODAY()
    )
    return health_visitor


def _assert_lead_ended(family, lead, manager):
    from escalation.models import EscalationPrompt, Flag

    saved = Family.objects.get(pk=family.pk)
    assert saved.lead_professional_id is None
    assignment = LeadProfessionalAssignment.objects.get(family=family, user=lead)
    assert assignment.ended_at is not None
    assert not LeadProfessionalAssignment.objects.filter(family=family, ended_at__isnull=True).exists()
    audit = AuditEvent.objects.filter(model="cases.family", action="change", family_id=family.pk).order_by("-id")
    assert audit.first().changes == {"lead_professional": {"from": lead.pk, "to": None}}
    # Nothing is left with the person who lost access; the team manager has the old prompt ...
    assert not EscalationPrompt.objects.filter(family=family, assigned_to=lead, status__in=["open", "acknowledged"])
    moved = EscalationPrompt.objects.get(family=family, flag__rule="missing_family_details", status="open")
    assert moved.assigned_to == manager and moved.level == "team_manager"
    # ... and the "no lead professional" flag, raised at once, with its prompt to the team manager.
    flag = Flag.objects.get(family=family, rule="no_lead_professional", status="open")
    prompt = EscalationPrompt.objects.get(flag=flag)
    assert prompt.assigned_to == manager and prompt.level == "team_manager"


def test_ending_a_share_ends_its_agencys_lead_role_at_once(
    practitioner, manager, family, share, partner_lead, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _api(practitioner).delete(f"/api/v1/families/{family.pk}/shares/{share.pk}/")
    assert response.status_code == 204, response.content

    _assert_lead_ended(family, partner_lead, manager)
    family_json = _api(practitioner).get(f"/api/v1/families/{family.pk}/").json()
    assert family_json["lead_professional"] is None


def test_ending_a_share_from_the_page_says_no_lead_professional(
    client, practitioner, manager, family, share, partner_lead, django_capture_on_commit_callbacks
):
    client.force_login(practitioner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/families/{family.pk}/shares/{share.pk}/end/")
    page = client.get(f"/families/{family.pk}/").content.decode()
    assert "No lead professional" in page or "no lead professional" in page
    _assert_lead_ended(family, partner_lead, manager)


def test_a_lead_with_another_current_share_for_the_family_stays(
    manager, family, share, partner_lead, health_agency, django_capture_on_commit_callbacks
):
    ShareFactory(family=family, agency=health_agency)
    with django_capture_on_commit_callbacks(execute=True):
        services.share_end(actor=manager, share=share)
    assert Family.objects.get(pk=family.pk).lead_professional == partner_lead


def test_a_share_that_lapses_ends_the_lead_role_by_the_daily_task(
    manager, family, share, partner_lead, django_capture_on_commit_callbacks
):
    from cases.tasks import release_lapsed_share_leads

    type(share).objects.filter(pk=share.pk).update(ends=TODAY() - dt.timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert release_lapsed_share_leads() == 1

    _assert_lead_ended(family, partner_lead, manager)
    assert AuditEvent.objects.filter(model="cases.family", action="change").order_by("-id").first().actor is None
    with django_capture_on_commit_callbacks(execute=True):
        assert release_lapsed_share_leads() == 0  # nothing left to do: idempotent


def test_the_daily_task_is_in_the_beat_schedule(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "cases.release_lapsed_share_leads" in tasks


def test_a_lead_from_the_owning_team_is_not_touched_by_the_daily_task(family, practitioner):
    from cases.tasks import release_lapsed_share_leads

    assert release_lapsed_share_leads() == 0
    assert Family.objects.get(pk=family.pk).lead_professional == practitioner


def test_a_share_starting_years_away_is_refused(practitioner, family, health_agency):
    response = _api(practitioner).post(
        f"/api/v1/families/{family.pk}/shares/",
        {
            "agency": health_agency.pk,
            "purpose": "Health visiting",
            "legal_basis": "CA 1989 s.17",
            "starts": "9998-12-31",
            "ends": "9999-12-31",
        },
        format="json",
    )
    assert response.status_code == 400
    latest = TODAY() + dt.timedelta(days=365)
    assert response.json()["starts"] == [
        f"A share must start within 12 months: choose a first day on or before {_long_date(latest)}."
    ]
    assert not family.shares.exists()
