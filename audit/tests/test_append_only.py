"""The audit and security logs are append-only (DESIGN 6): the models refuse to change or delete
a row, PostgreSQL refuses UPDATE and DELETE underneath (migration 0004), and the admin only reads."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.utils import timezone

from audit.models import AuditEvent, SecurityEvent
from audit.services import audit_read

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(family, practitioner):
    audit_read(actor=practitioner, instance=family, family_id=family.pk, route="GET /families/1/")
    return AuditEvent.objects.get()


@pytest.fixture
def security(practitioner):
    return SecurityEvent.objects.create(
        kind="login", user=practitioner, username="alice", route="POST /accounts/login/"
    )


def _unchanged(event: AuditEvent) -> None:
    fresh = AuditEvent.objects.get(pk=event.pk)
    assert (fresh.action, fresh.model, fresh.route, fresh.actor_id) == (
        event.action,
        event.model,
        event.route,
        event.actor_id,
    )


# --- the models ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [AuditEvent, SecurityEvent])
def test_queryset_update_and_delete_are_refused(event, security, model):
    with pytest.raises(PermissionError):
        model.objects.filter(pk__gt=0).update(route="rewritten")
    with pytest.raises(PermissionError):
        model.objects.all().update(route="rewritten")
    with pytest.raises(PermissionError):
        model.objects.filter(pk__gt=0).delete()
    with pytest.raises(PermissionError):
        model.objects.all().delete()
    assert model.objects.count() == 1
    assert model.objects.get().route != "rewritten"


def test_saving_an_existing_row_is_refused(event, security):
    event.route = "rewritten"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.save(update_fields=["route"])
    security.username = "someone-else"
    with pytest.raises(PermissionError):
        security.save()
    assert AuditEvent.objects.get().route == "GET /families/1/"
    assert SecurityEvent.objects.get().username == "alice"


def test_deleting_an_instance_is_refused(event, security):
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        security.delete()
    assert AuditEvent.objects.count() == SecurityEvent.objects.count() == 1


def test_new_rows_can_still_be_added(event, family, practitioner):
    audit_read(actor=practitioner, instance=family, family_id=family.pk, route="GET /again/")
    assert AuditEvent.objects.count() == 2


# --- the database itself --------------------------------------------------------------------------

RAW = [
    ("audit_auditevent", "UPDATE audit_auditevent SET route = 'rewritten'"),
    ("audit_auditevent", "DELETE FROM audit_auditevent"),
    ("audit_securityevent", "UPDATE audit_securityevent SET username = 'rewritten'"),
    ("audit_securityevent", "DELETE FROM audit_securityevent"),
]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(("table", "sql"), RAW, ids=[sql.split(" ")[0] + " " + table for table, sql in RAW])
def test_raw_sql_cannot_update_or_delete_the_logs(event, security, table, sql):
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    _unchanged(event)
    assert SecurityEvent.objects.get().username == "alice"
    assert AuditEvent.objects.count() == SecurityEvent.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
def test_raw_sql_cannot_update_a_single_row_either(event):
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET family_id = NULL WHERE id = %s", [event.pk])
    assert AuditEvent.objects.get().family_id == event.family_id


# --- the admin ------------------------------------------------------------------------------------


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    client.raise_request_exception = False
    return client


def test_admin_shows_an_audit_event_read_only(admin_client, event):
    response = admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "View audit event" in html
    assert 'name="_save"' not in html
    assert 'name="_continue"' not in html
    assert f"/admin/audit/auditevent/{event.pk}/delete/" not in html
    assert 'class="readonly"' in html
    assert "GET /families/1/" in html


@pytest.mark.parametrize(("model", "fixture"), [("auditevent", "event"), ("securityevent", "security")])
def test_admin_refuses_to_add_change_or_delete(request, admin_client, model, fixture):
    obj = request.getfixturevalue(fixture)
    base = f"/admin/audit/{model}/"
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}add/", {"route": "x"}).status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/change/", {"route": "rewritten"}).status_code == 403
    assert admin_client.get(f"{base}{obj.pk}/delete/").status_code == 403
    assert admin_client.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    response = admin_client.post(base, {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"})
    assert response.status_code in (200, 302, 403)
    model_class = type(obj)
    assert model_class.objects.filter(pk=obj.pk).exists()
    assert "delete_selected" not in admin_client.get(base).content.decode()


def test_admin_changelists_render_with_their_filters_and_dates(admin_client, event, security):
    year = event.at.year
    for base in ("/admin/audit/auditevent/", "/admin/audit/securityevent/"):
        assert admin_client.get(base).status_code == 200
        assert admin_client.get(base, {"at__year": year}).status_code == 200
        day = {"at__year": year, "at__month": event.at.month, "at__day": timezone.localtime(event.at).day}
        assert admin_client.get(base, day).status_code == 200
    assert _listed(admin_client.get("/admin/audit/securityevent/", {"q": "alice"})) == {security.pk}
    logins = SecurityEvent.objects.filter(kind="login").values_list("pk", flat=True)  # the admin's own too
    assert _listed(admin_client.get("/admin/audit/securityevent/", {"kind__exact": "login"})) == set(logins)
    assert _listed(admin_client.get("/admin/audit/securityevent/", {"kind__exact": "refused"})) == set()
    view = admin_client.get(f"/admin/audit/securityevent/{security.pk}/change/")
    assert view.status_code == 200
    assert 'name="_save"' not in view.content.decode()


def _listed(response) -> set[int]:
    return {obj.pk for obj in response.context["cl"].result_list}


def test_admin_searches_the_audit_log_by_username_family_and_route(admin_client, family, practitioner, partner):
    from cases.tests.factories import FamilyFactory

    other = FamilyFactory(team=family.team)
    audit_read(actor=practitioner, instance=family, family_id=family.pk, route=f"GET /families/{family.pk}/")
    audit_read(actor=partner, instance=other, family_id=other.pk, route=f"GET /api/v1/families/{other.pk}/")
    alice_row = AuditEvent.objects.get(actor=practitioner)
    partner_row = AuditEvent.objects.get(actor=partner)

    by_user = admin_client.get("/admin/audit/auditevent/", {"q": "alice"})
    assert by_user.status_code == 200
    assert _listed(by_user) == {alice_row.pk}

    by_family = admin_client.get("/admin/audit/auditevent/", {"q": str(other.pk)})
    assert by_family.status_code == 200
    assert _listed(by_family) == {partner_row.pk}  # `=family_id`: exact, not a substring of another id

    by_route = admin_client.get("/admin/audit/auditevent/", {"q": "/api/v1/"})
    assert _listed(by_route) == {partner_row.pk}


@pytest.mark.parametrize("term", ["not-a-number", "smith family", "12abc", "9" * 30, "-1"])
def test_admin_search_with_a_non_numeric_term_is_not_a_server_error(admin_client, event, term):
    response = admin_client.get("/admin/audit/auditevent/", {"q": term})
    assert response.status_code == 200


def test_admin_filters_the_audit_log_by_action(admin_client, event):
    response = admin_client.get("/admin/audit/auditevent/", {"action__exact": "view"})
    assert response.status_code == 200
    assert _listed(response) == {event.pk}
    assert _listed(admin_client.get("/admin/audit/auditevent/", {"action__exact": "change"})) == set()


def test_only_admins_reach_the_audit_admin(client, manager, event):
    client.force_login(manager)
    response = client.get("/admin/audit/auditevent/")
    assert response.status_code in (302, 403)
