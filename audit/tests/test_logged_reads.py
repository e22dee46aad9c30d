"""Read rows written by the query that reads the records (audit.reads.logged_reads): the same rows
come back in the same order and shape as without the log, each read record gets its VIEW row in
the same statement, and nothing is logged for what is not read (a count, an exists(), a subquery,
the extra row a cursor paginator reads past the page)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from audit.context import audit_route
from audit.models import AuditAction, AuditEvent
from audit.reads import logged_reads
from cases.models import Family, Member
from cases.tests.factories import FamilyFactory, MemberFactory
from visits.models import Visit
from visits.tests.factories import VisitFactory

pytestmark = pytest.mark.django_db


def logged() -> list[tuple]:
    return list(AuditEvent.objects.order_by("id").values_list("action", "model", "object_id", "family_id", "route"))


@pytest.fixture
def families(team, practitioner):
    return [FamilyFactory(team=team, name=f"Family {i}", lead_professional=practitioner) for i in range(5)]


def test_the_rows_and_their_order_are_those_of_the_plain_query(families, practitioner):
    plain = Family.objects.filter(pk__in=[f.pk for f in families]).select_related("lead_professional").order_by("-id")
    expected = [(f.pk, f.name, f.lead_professional.username) for f in plain]
    with CaptureQueriesContext(connection) as ctx, audit_route("GET /"):
        got = list(logged_reads(plain, actor=practitioner, family="pk"))
    assert [(f.pk, f.name, f.lead_professional.username) for f in got] == expected
    assert len(ctx.captured_queries) == 1
    assert ctx.captured_queries[0]["sql"].startswith("WITH audit_page AS MATERIALIZED")
    rows = list(AuditEvent.objects.order_by("id").values_list("actor_id", "action", "model", "object_id", "family_id"))
    assert rows == [(practitioner.pk, "view", "cases.family", str(pk), pk) for pk, *_ in expected]
    assert {e.route for e in AuditEvent.objects.all()} == {"GET /"}


def test_first_logs_only_the_first_rows_read_in_the_querys_order(families, practitioner):
    ordered = Family.objects.filter(pk__in=[f.pk for f in families]).order_by("-id")
    got = list(logged_reads(ordered, actor=practitioner, family="pk", first=2)[:3])
    assert len(got) == 3
    assert [e[2] for e in logged()] == [str(got[0].pk), str(got[1].pk)]


def test_values_rows_are_logged_with_their_family(family, child, practitioner):
    visits = [VisitFactory(family=family, practitioner=practitioner) for _ in range(3)]
    rows = list(
        logged_reads(
            Visit.objects.filter(family=family).order_by("id").values("id", "family_id", "purpose"), actor=practitioner
        )
    )
    assert [r["id"] for r in rows] == [v.pk for v in visits]
    assert [(e[1], e[2], e[3]) for e in logged()] == [("visits.visit", str(v.pk), family.pk) for v in visits]


def test_a_count_an_exists_and_a_subquery_log_nothing(families, practitioner):
    qs = logged_reads(Family.objects.all(), actor=practitioner, family="pk")
    assert qs.count() == 5
    assert qs.exists()
    assert Member.objects.filter(family__in=qs.values("id")).count() == 0
    assert Family.objects.filter(pk__in=qs).count() == 5
    assert logged() == []


def test_a_page_of_nothing_logs_nothing(practitioner):
    assert list(logged_reads(Family.objects.none(), actor=practitioner, family="pk")) == []
    assert list(logged_reads(Family.objects.filter(pk=-1), actor=practitioner, family="pk")) == []
    assert logged() == []


def test_a_query_without_the_columns_the_log_needs_is_refused(family, practitioner):
    VisitFactory(family=family, practitioner=practitioner)
    with pytest.raises(ValueError, match="must select id and family_id"):
        list(logged_reads(Visit.objects.values("id", "purpose"), actor=practitioner))
    assert logged() == []


def test_an_export_is_logged_as_an_export(family, practitioner):
    list(logged_reads(Family.objects.all(), actor=practitioner, family="pk", action=AuditAction.EXPORT))
    assert [e[0] for e in logged()] == ["export"]


def test_the_log_follows_the_queryset_through_filtering_and_slicing(families, practitioner):
    base = logged_reads(Family.objects.all(), actor=practitioner, family="pk")
    page = list(base.filter(name__in=["Family 1", "Family 3"]).order_by("name")[:1])
    assert [f.name for f in page] == ["Family 1"]
    assert [e[2] for e in logged()] == [str(page[0].pk)]


def test_other_databases_log_straight_after_the_read(families, practitioner):
    """SQLite (the demo) has no data-modifying CTE: the rows are read, then logged in the same call."""
    qs = logged_reads(Family.objects.order_by("id"), actor=practitioner, family="pk", first=4)
    with mock.patch.object(type(connections["default"]), "vendor", "sqlite"), CaptureQueriesContext(connection) as ctx:
        got = list(qs)
    assert len(got) == 5
    assert not ctx.captured_queries[0]["sql"].startswith("WITH")
    assert [e[2] for e in logged()] == [str(f.pk) for f in got[:4]]


def test_members_of_a_family_are_logged_under_it(family, practitioner):
    members = [MemberFactory(family=family) for _ in range(2)]
    list(logged_reads(Member.objects.filter(family=family), actor=practitioner))
    assert sorted(e[2] for e in logged()) == sorted(str(m.pk) for m in members)
    assert {e[3] for e in logged()} == {family.pk}


def test_bad_arguments_are_refused(practitioner):
    with pytest.raises(ValueError):
        logged_reads(Family.objects.all(), actor=practitioner, family="pk", first=0)
    with pytest.raises(TypeError):
        logged_reads(Family.objects.raw("SELECT id FROM cases_family"), actor=practitioner, family="pk")
    with pytest.raises(TypeError):
        logged_reads(Family.objects.all().union(Family.objects.all()), actor=practitioner, family="pk")


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_in_autocommit_a_view_commits_asynchronously_for_that_statement_only(family, practitioner):
    with CaptureQueriesContext(connection) as ctx:
        list(logged_reads(Family.objects.all(), actor=practitioner, family="pk"))
    assert "set_config('synchronous_commit', 'off', true)" in ctx.captured_queries[0]["sql"]
    assert [e[2] for e in logged()] == [str(family.pk)]
    assert _synchronous_commit() == "on"


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_read_rows_commit_with_it(family, practitioner):
    with transaction.atomic(), CaptureQueriesContext(connection) as ctx:
        list(logged_reads(Family.objects.all(), actor=practitioner, family="pk"))
        transaction.set_rollback(True)
    assert "synchronous_commit" not in ctx.captured_queries[0]["sql"]
    assert logged() == []  # rolled back with the transaction it was read in


def test_an_explain_reads_no_record_and_logs_nothing(family, practitioner):
    plan = logged_reads(Family.objects.all(), actor=practitioner, family="pk").explain()
    assert "Scan" in plan
    assert logged() == []


def test_a_union_made_afterwards_is_refused_when_read(family, practitioner):
    union = logged_reads(Family.objects.all(), actor=practitioner, family="pk").union(Family.objects.all())
    with pytest.raises(TypeError, match="union"):
        list(union)
    assert logged() == []


def test_a_logged_read_is_not_cached_for_another_request(family, practitioner):
    import pickle

    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(logged_reads(Family.objects.all(), actor=practitioner, family="pk").query)


def test_a_read_elsewhere_than_the_log_is_read_then_logged(families, practitioner):
    """Behind a router that sends reads to a replica, the page cannot write there: it is read
    where the router says, and its rows logged straight after where the log is written."""
    qs = logged_reads(Family.objects.order_by("id"), actor=practitioner, family="pk", first=2)
    with (
        mock.patch("audit.reads.router.db_for_write", return_value="primary"),
        CaptureQueriesContext(connection) as ctx,
    ):
        got = list(qs)
    assert not ctx.captured_queries[0]["sql"].startswith("WITH")
    assert [e[2] for e in logged()] == [str(f.pk) for f in got[:2]]


def test_api_cursor_pages_log_exactly_the_rows_shown_both_ways(family, practitioner):
    """A cursor page reads one row past the page (two when going back): only the shown are logged."""
    from rest_framework.test import APIClient

    from accounts.tests.factories import api_token_for

    for _ in range(5):
        VisitFactory(family=family, practitioner=practitioner)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(practitioner)}")

    def shown_and_logged(url: str) -> tuple[dict, list[str], list[str]]:
        before = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        body = client.get(url).json()
        rows = AuditEvent.objects.filter(id__gt=before, model="visits.visit").values_list("object_id", flat=True)
        return body, sorted(str(v["id"]) for v in body["results"]), sorted(rows)

    first, shown, written = shown_and_logged("/api/v1/visits/?page_size=2")
    assert len(shown) == 2 and written == shown
    second, shown, written = shown_and_logged(first["next"])
    assert len(shown) == 2 and written == shown
    _, shown, written = shown_and_logged(second["previous"])
    assert shown == sorted(str(v["id"]) for v in first["results"]) and written == shown
    _, shown, written = shown_and_logged("/api/v1/visits/?page=3&page_size=2")
    assert len(shown) == 1 and written == shown
