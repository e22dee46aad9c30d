"""How read rows are written (audit.services.audit_reads): one INSERT, its arrays sent as literals,
committed without waiting for the WAL flush only when it is a VIEW in a transaction of its own,
never inside someone else's transaction (a change and its CHANGE row stay synchronous).
And the log's actor column: no index, no database foreign key, still PROTECTed in Django."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.tests.factories import api_token_for
from audit.context import audit_route
from audit.models import AuditAction, AuditEvent
from audit.services import _bigint_array, _text_array, audit_reads
from cases.models import Family
from cases.tests.factories import UserFactory


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


def _inserts(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if q["sql"].startswith("INSERT INTO audit_auditevent")]


@pytest.mark.django_db(transaction=True)
def test_a_view_in_autocommit_is_committed_asynchronously_for_that_statement_only(practitioner, family):
    assert connection.get_autocommit() and not connection.in_atomic_block
    with CaptureQueriesContext(connection) as ctx, audit_route("GET /api/v1/visits/"):
        assert audit_reads(actor=practitioner, model=Family, rows=[(family.pk, family.pk), (7, None)]) == 2
    (sql,) = _inserts(ctx)
    assert "set_config('synchronous_commit', 'off', true)" in sql
    # The rows are there (committed) and the setting ended with the statement's own transaction.
    rows = list(AuditEvent.objects.order_by("id").values_list("object_id", "family_id", "action", "route"))
    assert rows == [
        (str(family.pk), family.pk, "view", "GET /api/v1/visits/"),
        ("7", None, "view", "GET /api/v1/visits/"),
    ]
    assert _synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_an_export_stays_synchronous(practitioner, family):
    with CaptureQueriesContext(connection) as ctx:
        audit_reads(actor=practitioner, model=Family, rows=[(family.pk, family.pk)], action=AuditAction.EXPORT)
    (sql,) = _inserts(ctx)
    assert "synchronous_commit" not in sql
    assert AuditEvent.objects.get().action == "export"


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_rows_commit_with_it_synchronously(practitioner, family):
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        audit_reads(actor=practitioner, model=Family, rows=[(family.pk, family.pk)])
        # The change's own commit must not be made asynchronous by a read row written beside it.
        assert _synchronous_commit() == "on"
    (sql,) = _inserts(ctx)
    assert "synchronous_commit" not in sql
    assert AuditEvent.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_api_list_writes_its_read_rows_outside_any_transaction(practitioner, family):
    """The request path the benchmark times: a GET is in autocommit, so its rows go the async way,
    written by the page's own query (audit.reads), not a separate INSERT."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(practitioner)}")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/v1/families/")
    assert response.status_code == 200
    assert _inserts(ctx) == []
    (sql,) = [q["sql"] for q in ctx.captured_queries if "INSERT INTO audit_auditevent" in q["sql"]]
    assert sql.startswith("WITH audit_page AS MATERIALIZED")
    assert "set_config('synchronous_commit', 'off', true)" in sql
    assert list(AuditEvent.objects.values_list("object_id", "actor_id")) == [(str(family.pk), practitioner.pk)]
    assert _synchronous_commit() == "on"


@pytest.mark.django_db
def test_object_ids_are_quoted_whatever_they_hold(practitioner):
    odd = ['a"b', "back\\slash", "comma,brace}{", "NULL", "", "spaced out", "élève"]
    audit_reads(actor=practitioner, model="cases.chronology", rows=[(v, None) for v in odd])
    assert list(AuditEvent.objects.order_by("id").values_list("object_id", "family_id")) == [(v, None) for v in odd]


def test_array_literals():
    assert _text_array([1, 'x"y', "a\\b"]) == '{"1","x\\"y","a\\\\b"}'
    assert _bigint_array([3, None, 12]) == "{3,NULL,12}"


@pytest.mark.django_db
def test_the_actor_column_has_no_index_and_no_database_foreign_key():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, AuditEvent._meta.db_table)
    on_actor = {name: c for name, c in constraints.items() if c["columns"] == ["actor_id"]}
    assert not on_actor, on_actor
    # The indexes the log's queries use are still there.
    indexed = {tuple(c["columns"]) for c in constraints.values() if c["index"]}
    assert {("at",), ("family_id", "at")} <= indexed


@pytest.mark.django_db
def test_a_user_in_the_log_still_cannot_be_deleted(team, family):
    reader = UserFactory(username="read-one-family", team=team, agency=team.agency)
    bystander = UserFactory(username="read-nothing", team=team, agency=team.agency)
    audit_reads(actor=reader, model=Family, rows=[(family.pk, family.pk)])
    with pytest.raises(ProtectedError) as refused:
        reader.delete()
    assert {type(obj) for obj in refused.value.protected_objects} == {AuditEvent}
    bystander.delete()  # in no audit row: nothing protects it
