"""The admin over case data (issue 14, items 9 and 11): read-only, audited like any other read
(changelists and history included), and no lookup, ordering or search on a confidential field,
nor any lookup the changelist's own filters do not offer."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.utils import timezone

from audit.admin_mixins import AuditedReadOnlyAdmin
from audit.models import AuditEvent
from audit.services import REDACTED_FIELDS
from cases.models import CaseNote, Family, InformationGap, LeadProfessionalAssignment, Relationship
from cases.tests.factories import MemberFactory, ShareFactory
from escalation.models import EscalationPrompt, Flag, PromptEvent
from referrals.tests.factories import ReferralFactory
from visits.tests.factories import AppointmentFactory, VisitFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(family, child, mother, practitioner, health_agency):
    """One record of every kind of case data, keyed by its admin's URL name."""
    flag = Flag.objects.create(family=family, member=child, rule="was_not_brought", severity="high", detail="Missed")
    prompt = EscalationPrompt.objects.create(
        flag=flag, family=family, level="lead_professional", assigned_to=practitioner, due=dt.date(2030, 1, 1)
    )
    PromptEvent.objects.create(prompt=prompt, actor=None, kind="raised", to_status="open")
    return {
        "cases/family": family,
        "cases/member": child,
        "cases/relationship": Relationship.objects.create(
            family=family, from_member=mother, to_member=child, kind="parent_of"
        ),
        "cases/informationgap": InformationGap.objects.create(family=family, subject="Father", reason="unknown"),
        "cases/familyshare": ShareFactory(family=family, agency=health_agency),
        "cases/leadprofessionalassignment": LeadProfessionalAssignment.objects.filter(family=family).first()
        or LeadProfessionalAssignment.objects.create(family=family, user=practitioner, started_at=timezone.now()),
        "cases/casenote": CaseNote.objects.create(family=family, author=practitioner, text="Spoke to school"),
        "referrals/referral": ReferralFactory(family=family),
        "visits/visit": VisitFactory(family=family),
        "visits/appointment": AppointmentFactory(member=child),
        "escalation/flag": flag,
        "escalation/escalationprompt": prompt,
    }


CASE_ADMINS = [
    "cases/family",
    "cases/member",
    "cases/relationship",
    "cases/informationgap",
    "cases/familyshare",
    "cases/leadprofessionalassignment",
    "cases/casenote",
    "referrals/referral",
    "visits/visit",
    "visits/appointment",
    "escalation/flag",
    "escalation/escalationprompt",
]


def _leads_to_family(model) -> bool:
    if model is Family:
        return True
    for field in model._meta.get_fields():
        if field.many_to_one and field.related_model is Family:
            return True
    return model is PromptEvent


def test_every_admin_over_case_data_is_read_only_and_audited(rf, admin_user):
    """Registry-wide, so an admin added later for case data cannot forget it."""
    request = rf.get("/admin/")
    request.user = admin_user
    over_case_data = [ma for model, ma in admin.site._registry.items() if _leads_to_family(model)]
    assert {f"{ma.model._meta.app_label}/{ma.model._meta.model_name}" for ma in over_case_data} >= set(CASE_ADMINS)
    for model_admin in over_case_data:
        name = type(model_admin).__name__
        assert isinstance(model_admin, AuditedReadOnlyAdmin), name
        assert not model_admin.has_add_permission(request), name
        assert not model_admin.has_change_permission(request), name
        assert not model_admin.has_delete_permission(request), name
        assert model_admin.get_actions(request) == {}, name


@pytest.mark.parametrize("name", CASE_ADMINS)
def test_case_data_admin_refuses_changes(client, admin_user, records, name):
    record = records[name]
    client.force_login(admin_user)
    assert client.get(f"/admin/{name}/add/").status_code == 403
    assert client.post(f"/admin/{name}/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert type(record).objects.filter(pk=record.pk).exists()


def test_a_flag_cannot_be_resolved_in_the_admin(client, admin_user, records):
    flag = records["escalation/flag"]
    client.force_login(admin_user)
    url = f"/admin/escalation/flag/{flag.pk}/change/"
    response = client.post(url, {"rule": "x", "severity": "low", "status": "resolved", "family": flag.family_id})
    assert response.status_code == 403
    flag.refresh_from_db()
    assert flag.status == "open" and flag.severity == "high"
    # An action on the changelist (e.g. "delete selected") is refused too.
    response = client.post(
        "/admin/escalation/flag/", {"action": "delete_selected", "_selected_action": [flag.pk], "post": "yes"}
    )
    assert Flag.objects.filter(pk=flag.pk).exists()


@pytest.mark.parametrize("name", CASE_ADMINS)
def test_opening_a_record_in_the_admin_is_an_audited_read(client, admin_user, records, name):
    record = records[name]
    client.force_login(admin_user)
    url = f"/admin/{name}/{record.pk}/change/"
    assert client.get(url).status_code == 200
    label = type(record)._meta.label_lower
    event = AuditEvent.objects.get(action="view", model=label, object_id=str(record.pk))
    assert event.actor == admin_user and event.route == f"GET {url}"
    assert event.family_id == records["cases/family"].pk


@pytest.mark.parametrize("name", CASE_ADMINS)
def test_a_changelist_writes_one_read_row_per_record_shown(client, admin_user, records, name):
    record = records[name]
    client.force_login(admin_user)
    url = f"/admin/{name}/"
    response = client.get(url)
    assert response.status_code == 200
    shown = {str(obj.pk) for obj in response.context["cl"].result_list}
    assert str(record.pk) in shown
    label = type(record)._meta.label_lower
    events = AuditEvent.objects.filter(action="view", model=label, route=f"GET {url}")
    assert sorted(e.object_id for e in events) == sorted(shown)
    assert {e.family_id for e in events} == {records["cases/family"].pk}
    assert {e.actor for e in events} == {admin_user}


def test_a_changelist_logs_each_record_once(client, admin_user, family):
    MemberFactory.create_batch(3, family=family)
    client.force_login(admin_user)
    response = client.get("/admin/cases/member/")
    assert response.status_code == 200
    assert AuditEvent.objects.filter(model="cases.member", action="view").count() == 3


def test_an_empty_or_refused_changelist_writes_no_read_row(client, admin_user, family):
    client.force_login(admin_user)
    assert client.get("/admin/cases/member/").status_code == 200
    assert client.get("/admin/cases/member/?given_name__startswith=K").status_code == 400
    assert not AuditEvent.objects.filter(model="cases.member").exists()


def test_a_history_page_is_an_audited_read(client, admin_user, child):
    client.force_login(admin_user)
    url = f"/admin/cases/member/{child.pk}/history/"
    assert client.get(url).status_code == 200
    event = AuditEvent.objects.get(action="view", model="cases.member", object_id=str(child.pk))
    assert event.route == f"GET {url}" and event.family_id == child.family_id


def test_the_family_page_logs_the_members_it_lists(client, admin_user, family, child, mother):
    client.force_login(admin_user)
    assert client.get(f"/admin/cases/family/{family.pk}/change/").status_code == 200
    logged = set(AuditEvent.objects.filter(model="cases.member", action="view").values_list("object_id", flat=True))
    assert logged == {str(child.pk), str(mother.pk)}


# -- lookups (item 9) ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "referrer_name__startswith=P",
        "referrer_name__regex=^Pat",
        "referrer_name=Pat Neighbour-Confidential",
        "referrer_contact__contains=07700",
        "supporting_professional__istartswith=s",
        "referrer_name__isnull=False",
    ],
)
def test_a_lookup_on_the_confidential_referrer_is_refused(client, admin_user, family, query):
    ReferralFactory(family=family)
    client.force_login(admin_user)
    response = client.get(f"/admin/referrals/referral/?{query}")
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(model="referrals.referral").exists()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/cases/family/?referrals__referrer_name__startswith=P",
        "/admin/cases/member/?family__referrals__referrer_name__regex=.",
        "/admin/cases/family/?name__startswith=S",
        "/admin/cases/member/?date_of_birth__year=2020",
        "/admin/cases/member/?contact_phone__regex=^07",
        "/admin/visits/visit/?family__name__startswith=S",
        "/admin/escalation/flag/?detail__contains=Missed",
        "/admin/cases/user/?password__startswith=pbkdf2",
        "/admin/audit/auditevent/?changes__has_key=name",
    ],
)
def test_a_lookup_the_changelist_does_not_offer_is_refused(client, admin_user, family, url):
    ReferralFactory(family=family)
    client.force_login(admin_user)
    assert client.get(url).status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "/admin/cases/family/?status__exact=open",
        "/admin/cases/member/?role__exact=child&lives_in_household__exact=1",
        "/admin/referrals/referral/?source__exact=professional",
        "/admin/visits/visit/?planned__exact=1",
        "/admin/audit/auditevent/?at__gte=2026-01-01+00%3A00%3A00%2B00%3A00&at__lt=2027-01-01+00%3A00%3A00%2B00%3A00",
        "/admin/audit/auditevent/?at__year=2026",
        "/admin/cases/familyshare/?agency__id__exact=1",
    ],
)
def test_the_changelists_own_filters_still_work(client, admin_user, family, url):
    client.force_login(admin_user)
    assert client.get(url).status_code == 200


def test_no_admin_lists_searches_orders_or_filters_on_a_confidential_field(rf, admin_user):
    request = rf.get("/admin/")
    request.user = admin_user
    for model_admin in admin.site._registry.values():
        name = type(model_admin).__name__
        used = [
            *model_admin.get_list_display(request),
            *(f.lstrip("^=@") for f in model_admin.get_search_fields(request)),
            *(f.lstrip("-") for f in model_admin.get_ordering(request) or ()),
            *model_admin.get_sortable_by(request),
            *(f if isinstance(f, str) else f[0] for f in model_admin.get_list_filter(request) if not callable(f)),
            model_admin.date_hierarchy or "",
        ]
        for item in used:
            if isinstance(item, str):
                assert not set(item.split("__")) & REDACTED_FIELDS, (name, item)


def test_the_admin_shows_only_records_the_person_may_see(client, other_team_user, family, child):
    """Through cases.access: a staff account outside the owning team (here given the admin's
    view permission) finds nothing, as a restricted family is hidden from admins."""
    from django.contrib.auth.models import Permission

    other_team_user.is_staff = True
    other_team_user.save()
    other_team_user.user_permissions.add(*Permission.objects.filter(codename__in=["view_family", "view_member"]))
    client.force_login(other_team_user)
    response = client.get("/admin/cases/member/")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == []
    assert client.get(f"/admin/cases/member/{child.pk}/change/").status_code == 302  # "does not exist"
    assert client.get(f"/admin/cases/member/{child.pk}/history/").status_code == 404
    assert not AuditEvent.objects.filter(model="cases.member").exists()


def test_every_admin_takes_only_its_own_filters_lookups():
    from audit.admin_mixins import StrictLookupsMixin

    assert [type(a).__name__ for a in admin.site._registry.values() if not isinstance(a, StrictLookupsMixin)] == []


def test_an_authenticators_secret_cannot_be_guessed_through_the_admin(client, admin_user, manager):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    client.force_login(admin_user)
    assert client.get(f"/admin/otp_totp/totpdevice/?key__startswith={device.key[0]}").status_code == 400
    assert client.get("/admin/otp_totp/totpdevice/?confirmed__exact=1").status_code == 200


def test_a_changelists_read_rows_cost_one_query_whatever_the_page_size(client, admin_user, family):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(admin_user)

    def queries_for_page() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/admin/cases/member/").status_code == 200
        return len(ctx.captured_queries)

    MemberFactory.create_batch(3, family=family)
    small = queries_for_page()
    MemberFactory.create_batch(9, family=family)
    # The same queries for 12 members as for 3: session, user, count(s), the page (with its
    # families, list_select_related), and one INSERT of the page's read rows.
    assert queries_for_page() == small
    assert AuditEvent.objects.filter(model="cases.member").count() == 3 + 12


def test_an_admin_does_not_see_a_restricted_family_in_the_admin(client, admin_user, family, child):
    """An admin sees the audit of a restricted record, not the record (issue 14, item 17)."""
    Family.objects.filter(pk=family.pk).update(restricted=True, restriction_reason="Known in the press")
    client.force_login(admin_user)
    for url in ("/admin/cases/family/", "/admin/cases/member/"):
        response = client.get(url)
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == []
    assert client.get(f"/admin/cases/family/{family.pk}/change/").status_code == 302  # "does not exist"
    assert client.get(f"/admin/cases/member/{child.pk}/history/").status_code == 404
    assert not AuditEvent.objects.filter(model__in=["cases.family", "cases.member"], action="view").exists()


def test_a_history_entry_is_read_only_and_cannot_revert_a_record(client, admin_user, family, child):
    """django-simple-history's entry page doubles as a "revert" form that saves on POST whatever the
    admin's change permission: here a POST is refused and nothing is written."""
    from cases.services import member_update

    member_update(actor=family.lead_professional, member=child, data={"given_name": "Kairo"})
    child.refresh_from_db()
    first = child.history.order_by("history_id").first()
    client.force_login(admin_user)
    url = f"/admin/cases/member/{child.pk}/history/{first.history_id}/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"given_name": "Kai", "family_name": "Smith", "role": "child"})
    assert response.status_code == 403
    child.refresh_from_db()
    assert (child.given_name, child.version) == ("Kairo", 2)


def test_a_restricted_records_history_entries_are_404_to_an_admin(client, admin_user, family, child):
    first = child.history.order_by("history_id").first()
    family_first = family.history.order_by("history_id").first()
    Family.objects.filter(pk=family.pk).update(restricted=True, restriction_reason="Known in the press")
    client.force_login(admin_user)
    assert client.get(f"/admin/cases/member/{child.pk}/history/{first.history_id}/").status_code == 404
    assert client.get(f"/admin/cases/family/{family.pk}/history/{family_first.history_id}/").status_code == 404


def test_the_admin_autocomplete_lists_no_case_data(client, admin_user, family, child):
    client.force_login(admin_user)
    for field in ("member", "family"):
        response = client.get(
            "/admin/autocomplete/",
            {"app_label": "visits", "model_name": "appointment", "field_name": field, "term": ""},
        )
        assert response.status_code in (200, 403, 404)
        if response.status_code == 200:
            assert response.json()["results"] == []
    assert child.given_name not in response.content.decode()


def test_the_authenticator_admin_never_shows_the_secret_and_a_removal_is_a_security_event(client, admin_user, manager):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from audit.models import SecurityEvent

    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    client.force_login(admin_user)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key not in page.content.decode() and "qrcode" not in page.content.decode().lower()
    assert client.post(f"/admin/otp_totp/totpdevice/{device.pk}/change/", {"key": "00" * 20}).status_code == 403
    response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    assert SecurityEvent.objects.filter(kind="two_factor_removed", user=manager).exists()
