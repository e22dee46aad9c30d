"""The escalation dashboard (HTML): who sees it, what is at the top, counts, filters, the HTMX
partial, query counts, the charts' data and text alternatives, and the CSV export.

Prompts are made directly (a flag and a prompt per family) so due dates can lie in the past and
the ordering is exact; `make_prompt` is shared with the prompt-page and browser tests.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from html.parser import HTMLParser
from unittest import mock

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from audit.models import AuditEvent
from cases.models import Role
from cases.tests.factories import FamilyFactory, TeamFactory, UserFactory
from escalation.models import EscalationPrompt, Flag, PromptEvent, PromptLevel
from referrals.models import Referral
from visits.tests.factories import AppointmentFactory

pytestmark = pytest.mark.django_db

DASHBOARD = "/dashboard/"
EXPORT = "/dashboard/export.csv"
HTMX = {"HX-Request": "true", "HX-Target": "prompt-list"}
PAGE_SIZE = 25  # escalation.views.PAGE_SIZE
CSV_HEADER = [
    "prompt",
    "family_reference",
    "family",
    "check",
    "severity",
    "level",
    "assigned_to",
    "status",
    "due",
    "overdue",
    "raised",
    "detail",
]


def make_prompt(
    *,
    team=None,
    family=None,
    name: str | None = None,
    rule: str = "was_not_brought",
    severity: str = "medium",
    status: str = "open",
    due_in: int = 5,
    age_days: int = 1,
    assigned_to=None,
    level: str | None = None,
    detail: str | None = None,
    evidence: dict | None = None,
    member=None,
) -> EscalationPrompt:
    """A flag and its prompt, raised `age_days` ago and due `due_in` days from today (negative: past).

    A new family of `team` is made unless one is given (one open flag per family, rule and member).
    """
    now = timezone.now()
    raised = now - dt.timedelta(days=age_days)
    if family is None:
        family = FamilyFactory(team=team, **({"name": name} if name else {}))
    flag = Flag.objects.create(
        family=family,
        member=member,
        rule=rule,
        severity=severity,
        detail=detail or f"{family.name}: {rule.replace('_', ' ')} ({severity}).",
        evidence=evidence or {},
        first_seen=raised,
        last_seen=now,
    )
    if level is None:
        level = PromptLevel.TEAM_MANAGER if severity == "high" else PromptLevel.LEAD_PROFESSIONAL
    decided = (
        {"action_taken": "Called the health visitor", "rationale": "Seen at clinic"} if status == "actioned" else {}
    )
    prompt = EscalationPrompt.objects.create(
        flag=flag,
        family=family,
        level=level,
        assigned_to=assigned_to,
        status=status,
        due=timezone.localdate() + dt.timedelta(days=due_in),
        created_at=raised,
        updated_at=raised,
        **decided,
    )
    PromptEvent.objects.create(prompt=prompt, at=raised, kind="raised", to_status="open", reason="Raised in a test.")
    return prompt


def _html(response) -> str:
    return response.content.decode()


def _listed(response) -> list[int]:
    """The prompt ids in the table, in the order shown."""
    return [int(pk) for pk in re.findall(r'<a class="govuk-link" href="/prompts/(\d+)/">', _html(response))]


def _rows(html: str) -> list[str]:
    body = re.search(r'<tbody class="govuk-table__body">(.*?)</tbody>', html, flags=re.S)
    assert body, "no prompt table"
    return re.findall(r"<tr class=\"govuk-table__row[^\"]*\">(.*?)</tr>", body.group(1), flags=re.S)


def _chart_data(html: str) -> dict:
    found = re.search(r'<script id="chart-data" type="application/json">(.*?)</script>', html, flags=re.S)
    assert found, "the page does not embed the chart data"
    return json.loads(found.group(1))


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    body = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.reader(io.StringIO(body)))


class _Scripts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.scripts: list[dict] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts.append(attrs)
        self.handlers += [name for name in attrs if name.startswith("on")]


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """A cache of this test's own: the charts are cached per user, and nothing may leak between tests."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "dashboard-tests"}
    }
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def south(council):
    """Another team of the same council, with its own manager and a family."""
    return TeamFactory(agency=council, name="Assessment Team South")


@pytest.fixture
def south_manager(south):
    return UserFactory(
        username="sam", first_name="Sam", last_name="South", team=south, agency=south.agency, role=Role.MANAGER
    )


@pytest.fixture
def mixed(team, practitioner, teammate, manager, south):
    """Prompts for the manager's team (to each of its people) and one for the south team."""
    return {
        "alice": make_prompt(team=team, name="Adams family", assigned_to=practitioner, age_days=2),
        "bob": make_prompt(team=team, name="Baker family", assigned_to=teammate, age_days=3),
        "mandy": make_prompt(team=team, name="Carter family", severity="high", assigned_to=manager, age_days=4),
        "south": make_prompt(team=south, name="Southern family", severity="high", age_days=5),
    }


# --- who sees what ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(DASHBOARD)
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))
    assert client.get(EXPORT).status_code == 302


def test_manager_sees_the_team_dashboard_with_workload_and_charts(client, manager, mixed):
    client.force_login(manager)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = _html(response)
    assert "<title>Escalation dashboard – Safeguarding case record</title>" in html
    assert '<h1 class="govuk-heading-l">Escalation dashboard</h1>' in html
    # Every prompt of the team, whoever it is assigned to; not the south team's.
    assert set(_listed(response)) == {mixed["alice"].pk, mixed["bob"].pk, mixed["mandy"].pk}
    assert "Southern family" not in html
    assert "Team workload" in html
    assert 'id="chart-data"' in html
    assert "vendor/chart.js/chart.umd.min.js" in html
    # The filter offers team and person to a manager.
    assert 'name="team"' in html and 'name="assigned_to"' in html


def test_workload_shows_each_persons_caseload_and_open_prompts(client, manager, practitioner, teammate, family, team):
    FamilyFactory(team=team, lead_professional=practitioner)  # alice leads 2 open families
    FamilyFactory(team=team, lead_professional=practitioner, status="closed")  # not counted
    make_prompt(team=team, assigned_to=practitioner, due_in=-1)  # overdue
    make_prompt(team=team, assigned_to=practitioner)
    make_prompt(team=team, assigned_to=practitioner, status="actioned")  # not open: not counted
    client.force_login(manager)
    response = client.get(DASHBOARD)
    workload = {w["username"]: w for w in response.context["workload"]}
    assert set(workload) == {"alice", "bob", "mandy"}
    assert (workload["alice"]["n_families"], workload["alice"]["n_prompts"], workload["alice"]["n_overdue"]) == (
        2,
        2,
        1,
    )
    assert (workload["bob"]["n_families"], workload["bob"]["n_prompts"], workload["bob"]["n_overdue"]) == (0, 0, 0)
    assert response.context["workload"][0]["username"] == "alice"  # the most overdue first
    html = _html(response)
    assert f'href="?assigned_to={practitioner.pk}&amp;status=active">{escape(practitioner.get_full_name())}' in html


def test_workload_counts_are_the_same_without_postgresql(manager, practitioner, teammate, family, team):
    """The embedded demo database (SQLite) has no `= ANY(array)`: the ORM's counts there must be
    the raw query's."""
    from escalation.selectors import _workload_counts

    FamilyFactory(team=team, lead_professional=practitioner, status="closed")
    FamilyFactory(team=team, lead_professional=teammate)
    make_prompt(team=team, assigned_to=practitioner, due_in=-1)
    make_prompt(team=team, assigned_to=practitioner, due_in=0)  # due today: not overdue
    make_prompt(team=team, assigned_to=teammate, status="acknowledged", due_in=-3)
    make_prompt(team=team, assigned_to=teammate, status="actioned", due_in=-3)
    ids = [manager.pk, practitioner.pk, teammate.pk]
    today = timezone.localdate()
    raw = sorted(_workload_counts(ids, today=today, viewer=manager))
    with mock.patch.object(type(connections["default"]), "vendor", "sqlite"):
        portable = sorted(_workload_counts(ids, today=today, viewer=manager))
    assert (
        raw
        == portable
        == [
            ("families", practitioner.pk, 1, 0),
            ("families", teammate.pk, 1, 0),
            ("prompts", practitioner.pk, 2, 1),
            ("prompts", teammate.pk, 1, 1),
        ]
    )


def test_practitioner_gets_my_prompts_only_theirs_and_no_workload_or_charts(client, practitioner, mixed):
    client.force_login(practitioner)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    html = _html(response)
    assert '<h1 class="govuk-heading-l">My prompts</h1>' in html
    assert "<title>My prompts – Safeguarding case record</title>" in html
    assert _listed(response) == [mixed["alice"].pk]
    assert "Baker family" not in html and "Carter family" not in html
    assert "Team workload" not in html
    assert "chart-data" not in html and "chart.umd.min.js" not in html
    assert 'name="team"' not in html and 'name="assigned_to"' not in html
    # Even asking for someone else's prompts gives only their own.
    response = client.get(DASHBOARD, {"assigned_to": mixed["bob"].assigned_to_id, "status": "active"})
    assert mixed["bob"].pk not in _listed(response)


@pytest.mark.parametrize("persona", ["partner", "unshared_partner"])
def test_partners_get_403_for_the_dashboard_and_export(client, request, share, mixed, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(DASHBOARD).status_code == 403
    assert client.get(DASHBOARD, headers=HTMX).status_code == 403
    assert client.get(EXPORT).status_code == 403
    assert not AuditEvent.objects.filter(action="export").exists()


def test_another_teams_manager_sees_none_of_the_teams_prompts(client, south_manager, mixed):
    client.force_login(south_manager)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert _listed(response) == [mixed["south"].pk]
    for key in ("alice", "bob", "mandy"):
        assert client.get(reverse("prompt-detail", args=[mixed[key].pk])).status_code == 404


def test_head_of_service_sees_every_team_in_the_agency(client, council, south_manager, team, mixed):
    council.head_of_service = south_manager
    council.save()
    client.force_login(south_manager)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert set(_listed(response)) == {p.pk for p in mixed.values()}
    assert client.get(reverse("prompt-detail", args=[mixed["alice"].pk])).status_code == 200
    # Narrowed to the north team, with that team's workload.
    response = client.get(DASHBOARD, {"team": team.pk, "status": "active"})
    assert set(_listed(response)) == {mixed["alice"].pk, mixed["bob"].pk, mixed["mandy"].pk}
    assert {w["username"] for w in response.context["workload"]} == {"alice", "bob", "mandy"}


def test_admin_sees_every_prompt(client, admin_user, mixed):
    client.force_login(admin_user)
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    assert "Escalation dashboard" in _html(response)
    assert set(_listed(response)) == {p.pk for p in mixed.values()}


# --- order, overdue, counts ------------------------------------------------------------------


def test_overdue_first_then_high_then_oldest(client, manager, team):
    p = {
        "medium_new": make_prompt(team=team, age_days=1),
        "medium_old": make_prompt(team=team, age_days=20),
        "high_new": make_prompt(team=team, severity="high", age_days=2),
        "high_old": make_prompt(team=team, severity="high", age_days=10),
        "overdue_medium": make_prompt(team=team, due_in=-3, age_days=9),
        "overdue_high_new": make_prompt(team=team, severity="high", due_in=-1, age_days=7),
        "overdue_high_old": make_prompt(team=team, severity="high", due_in=-8, age_days=14, status="acknowledged"),
        "due_today": make_prompt(team=team, due_in=0, age_days=6),  # due today is not yet overdue
    }
    client.force_login(manager)
    response = client.get(DASHBOARD)
    expected = [
        "overdue_high_old",
        "overdue_high_new",
        "overdue_medium",
        "high_old",
        "high_new",
        "medium_old",
        "due_today",
        "medium_new",
    ]
    assert _listed(response) == [p[k].pk for k in expected]


def test_overdue_rows_are_marked_unmistakably(client, manager, team):
    make_prompt(team=team, name="Late family", severity="high", due_in=-2)
    make_prompt(team=team, name="Acknowledged late family", status="acknowledged", due_in=-1)
    make_prompt(team=team, name="Timely family", due_in=3)
    client.force_login(manager)
    html = _html(client.get(DASHBOARD))
    rows = _rows(html)
    assert len(rows) == 3
    marked = [r for r in rows if '<strong class="govuk-tag govuk-tag--red">Overdue</strong>' in r]
    assert len(marked) == 2
    assert "Timely family" not in "".join(marked)
    assert html.count("app-row--overdue") == 2
    assert re.search(r'app-stat--alert" role="listitem"><span class="app-stat__n">2</span> overdue', html)


def test_decided_prompts_past_their_due_date_are_not_overdue(client, manager, team):
    make_prompt(team=team, status="actioned", due_in=-10)
    make_prompt(team=team, status="escalated", due_in=-10)
    client.force_login(manager)
    response = client.get(DASHBOARD, {"status": ""})
    assert len(_listed(response)) == 2
    assert "Overdue</strong>" not in _html(response)
    assert response.context["counts"]["overdue"] == 0


def test_counts_by_rule_severity_and_status(client, manager, team):
    make_prompt(team=team, rule="was_not_brought", severity="high", due_in=-1)
    make_prompt(team=team, rule="was_not_brought", severity="medium", status="acknowledged")
    make_prompt(team=team, rule="engagement_decline", severity="high")
    make_prompt(team=team, rule="no_lead_professional", severity="medium")
    make_prompt(team=team, rule="missing_family_details", severity="medium", status="actioned")
    make_prompt(team=team, rule="missing_family_details", severity="medium", status="escalated")
    client.force_login(manager)

    counts = client.get(DASHBOARD).context["counts"]  # open or acknowledged by default
    assert counts == {
        "by_rule": {"was_not_brought": 2, "engagement_decline": 1, "no_lead_professional": 1},
        "by_severity": {"high": 2, "medium": 2},
        "by_status": {"open": 3, "acknowledged": 1},
        "overdue": 1,
        "total": 4,
    }
    response = client.get(DASHBOARD, {"status": ""})
    counts = response.context["counts"]
    assert counts["by_rule"]["missing_family_details"] == 2
    assert counts["by_status"] == {"open": 3, "acknowledged": 1, "actioned": 1, "escalated": 1}
    assert counts["total"] == 6
    html = _html(response)
    assert re.search(r'<span class="app-stat__n">2</span> high', html)
    assert re.search(r'<span class="app-stat__n">4</span> medium', html)
    assert re.search(r'<span class="app-stat__n">6</span> in this list', html)
    assert re.search(r">Was not brought</th><td[^>]*>2</td>", html)
    assert re.search(r">Missing family details</th><td[^>]*>2</td>", html)
    assert re.search(r">Escalated</th><td[^>]*>1</td>", html)


# --- filters ---------------------------------------------------------------------------------


@pytest.fixture
def varied(team, practitioner, teammate):
    return {
        "wnb_high": make_prompt(
            team=team, rule="was_not_brought", severity="high", assigned_to=practitioner, age_days=1
        ),
        "wnb_medium_old": make_prompt(team=team, rule="was_not_brought", assigned_to=teammate, age_days=8),
        "engagement_older": make_prompt(team=team, rule="engagement_decline", assigned_to=practitioner, age_days=12),
        "lead_oldest": make_prompt(team=team, rule="no_lead_professional", severity="high", age_days=25),
        "actioned": make_prompt(team=team, rule="was_not_brought", status="actioned", assigned_to=practitioner),
        "escalated": make_prompt(team=team, rule="engagement_decline", severity="high", status="escalated"),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"wnb_high", "wnb_medium_old", "engagement_older", "lead_oldest"}),
        ({"rule": "was_not_brought", "status": "active"}, {"wnb_high", "wnb_medium_old"}),
        ({"severity": "high", "status": "active"}, {"wnb_high", "lead_oldest"}),
        ({"status": "actioned"}, {"actioned"}),
        ({"status": "escalated"}, {"escalated"}),
        ({"status": "open"}, {"wnb_high", "wnb_medium_old", "engagement_older", "lead_oldest"}),
        ({"status": ""}, {"wnb_high", "wnb_medium_old", "engagement_older", "lead_oldest", "actioned", "escalated"}),
        ({"min_age_days": "6", "status": "active"}, {"wnb_medium_old", "engagement_older", "lead_oldest"}),
        ({"min_age_days": "11", "status": "active"}, {"engagement_older", "lead_oldest"}),
        ({"min_age_days": "21", "status": "active"}, {"lead_oldest"}),
        ({"rule": "was_not_brought", "status": ""}, {"wnb_high", "wnb_medium_old", "actioned"}),
        ({"severity": "high", "status": "", "rule": "engagement_decline"}, {"escalated"}),
    ],
)
def test_filters(client, manager, varied, params, expected):
    client.force_login(manager)
    response = client.get(DASHBOARD, params)
    assert response.status_code == 200
    assert set(_listed(response)) == {varied[k].pk for k in expected}
    assert response.context["counts"]["total"] == len(expected)


def test_filter_by_assignee(client, manager, practitioner, teammate, varied):
    client.force_login(manager)
    mine = client.get(DASHBOARD, {"assigned_to": practitioner.pk, "status": "active"})
    assert set(_listed(mine)) == {varied["wnb_high"].pk, varied["engagement_older"].pk}
    bobs = client.get(DASHBOARD, {"assigned_to": teammate.pk, "status": "active"})
    assert _listed(bobs) == [varied["wnb_medium_old"].pk]


def test_filter_by_team(client, manager, team, south, varied):
    other = make_prompt(team=south)
    client.force_login(manager)
    assert len(_listed(client.get(DASHBOARD, {"team": team.pk, "status": "active"}))) == 4
    # Another team of the agency is not offered, and asking for it in the URL shows none of its
    # prompts (the filter is ignored: the manager's own team is shown instead).
    response = client.get(DASHBOARD, {"team": south.pk, "status": "active"})
    assert f'<option value="{south.pk}"' not in _html(response)
    assert other.pk not in _listed(response)
    assert len(_listed(response)) == 4


def test_filters_survive_a_reload_in_the_url(client, manager, varied):
    client.force_login(manager)
    params = {"rule": "was_not_brought", "severity": "high", "status": "active", "min_age_days": ""}
    html = _html(client.get(DASHBOARD, params))
    # The form shows what was chosen, and the filter is open ...
    assert re.search(r'<option value="was_not_brought"\s+selected>', html)
    assert re.search(r'<option value="high"\s+selected>', html)
    assert '<details class="govuk-details" open>' in html
    # ... and the export link carries the same filters.
    link = re.search(r'href="/dashboard/export\.csv\?([^"]*)"', html)
    assert link
    query = link.group(1).replace("&amp;", "&")
    assert "rule=was_not_brought" in query and "severity=high" in query and "status=active" in query
    # The form submits by GET, so the URL is the state.
    assert re.search(r'<form method="get" class="app-filters"[^>]*hx-push-url="true"', html)


def test_htmx_filter_returns_only_the_table(client, manager, varied):
    client.force_login(manager)
    response = client.get(DASHBOARD, {"severity": "high", "status": "active"}, headers=HTMX)
    assert response.status_code == 200
    html = _html(response).strip()
    assert html.startswith('<div id="prompt-list">') and html.endswith("</div>")
    assert "<html" not in html and "<h1" not in html
    assert "Team workload" not in html and "chart-data" not in html
    assert set(_listed(response)) == {varied["wnb_high"].pk, varied["lead_oldest"].pk}


def test_htmx_request_for_another_target_gets_the_whole_page(client, manager, varied):
    client.force_login(manager)
    html = _html(client.get(DASHBOARD, headers={"HX-Request": "true", "HX-Target": "main-content"}))
    assert "<html" in html and "Team workload" in html


def test_htmx_filter_updates_the_export_link(client, manager, varied):
    client.force_login(manager)
    html = _html(client.get(DASHBOARD, {"severity": "high", "status": "active"}, headers=HTMX))
    assert re.search(r'href="/dashboard/export\.csv\?[^"]*severity=high', html)


# --- pagination and query counts ---------------------------------------------------------------


def _queries(client, url, params=None) -> int:
    """Queries for one request, the charts' cache cold (so their queries are counted too)."""
    from django.core.cache import cache

    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params or {})
        if getattr(response, "streaming", False):
            b"".join(response.streaming_content)
        else:
            assert response.status_code == 200
    return len(ctx.captured_queries)


def _bulk(n: int, *, team, people) -> None:
    for i in range(n):
        make_prompt(
            team=team,
            rule=["was_not_brought", "engagement_decline", "no_lead_professional"][i % 3],
            severity="high" if i % 2 else "medium",
            status="acknowledged" if i % 4 == 0 else "open",
            due_in=-1 if i % 5 == 0 else 3,
            age_days=i % 25,
            assigned_to=people[i % len(people)],
        )


def test_dashboard_queries_do_not_grow_with_the_number_of_prompts(client, manager, practitioner, teammate, team):
    people = [practitioner, teammate, manager, None]
    _bulk(3, team=team, people=people)
    client.force_login(manager)
    few = _queries(client, DASHBOARD)
    _bulk(27, team=team, people=people)
    many = _queries(client, DASHBOARD)
    assert many == few, f"{few} queries for 3 prompts, {many} for 30"
    response = client.get(DASHBOARD)
    assert len(_listed(response)) == PAGE_SIZE
    assert response.context["page"].paginator.count == 30


def test_my_prompts_and_htmx_queries_do_not_grow(client, manager, practitioner, team):
    _bulk(3, team=team, people=[practitioner])
    client.force_login(practitioner)
    few = (_queries(client, DASHBOARD), _queries(client, DASHBOARD, {"status": "active"}))
    client.force_login(manager)
    few_htmx = _queries_htmx(client)
    _bulk(27, team=team, people=[practitioner])
    client.force_login(practitioner)
    assert (_queries(client, DASHBOARD), _queries(client, DASHBOARD, {"status": "active"})) == few
    client.force_login(manager)
    assert _queries_htmx(client) == few_htmx


def _queries_htmx(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(DASHBOARD, {"status": "active"}, headers=HTMX).status_code == 200
    return len(ctx.captured_queries)


def test_export_queries_do_not_grow(client, manager, practitioner, team):
    _bulk(3, team=team, people=[practitioner, manager])
    client.force_login(manager)
    few = _queries(client, EXPORT)
    _bulk(27, team=team, people=[practitioner, manager])
    assert _queries(client, EXPORT) == few


def test_pagination_keeps_the_filters(client, manager, team):
    for _ in range(PAGE_SIZE + 5):
        make_prompt(team=team, severity="high")
    make_prompt(team=team)  # medium: filtered out
    client.force_login(manager)
    first = client.get(DASHBOARD, {"severity": "high", "status": "active"})
    html = _html(first)
    assert len(_listed(first)) == PAGE_SIZE
    assert "Page 1 of 2" in html
    nxt = re.search(r'<a class="govuk-link govuk-pagination__link" href="\?([^"]*)" rel="next">', html)
    assert nxt
    second = client.get(DASHBOARD + "?" + nxt.group(1).replace("&amp;", "&"))
    assert len(_listed(second)) == 5
    assert not set(_listed(first)) & set(_listed(second))
    assert second.context["page"].paginator.count == PAGE_SIZE + 5


def test_the_second_page_of_the_default_list_is_still_open_prompts_only(client, manager, team):
    for _ in range(PAGE_SIZE + 5):
        make_prompt(team=team)
    decided = {make_prompt(team=team, status="actioned").pk, make_prompt(team=team, status="escalated").pk}
    client.force_login(manager)
    html = _html(client.get(DASHBOARD))
    nxt = re.search(r'href="\?([^"]*)" rel="next"', html)
    assert nxt
    second = client.get(DASHBOARD + "?" + nxt.group(1).replace("&amp;", "&"))
    assert second.context["page"].paginator.count == PAGE_SIZE + 5
    assert not decided & set(_listed(second))


# --- charts ----------------------------------------------------------------------------------


def test_chart_data_is_embedded_as_json_from_visible_records_only(
    client, manager, team, south, child, health_agency, council
):
    now = timezone.now()
    AppointmentFactory(member=child, status="was_not_brought", agency=health_agency, scheduled_for=now)
    AppointmentFactory(
        member=child, status="was_not_brought", agency=health_agency, scheduled_for=now - dt.timedelta(hours=1)
    )
    AppointmentFactory(member=child, status="attended", agency=council, scheduled_for=now)
    south_child = FamilyFactory(team=south).members.create(given_name="Zed", family_name="South", role="child")
    AppointmentFactory(
        member=south_child, status="was_not_brought", agency__name="Southern Dental Practice", scheduled_for=now
    )
    make_prompt(team=team, age_days=1)
    make_prompt(team=team, age_days=2, status="acknowledged")
    make_prompt(team=team, age_days=8)
    make_prompt(team=team, age_days=15, rule="engagement_decline")
    make_prompt(team=team, age_days=30, severity="high")
    make_prompt(team=team, age_days=30, status="actioned")  # not open: not in the age bands
    make_prompt(team=south, age_days=1)  # not visible
    resolved = make_prompt(team=team, rule="no_lead_professional").flag  # its prompt stays open
    Flag.objects.filter(pk=resolved.pk).update(status="resolved", resolved_at=now)

    client.force_login(manager)
    html = _html(client.get(DASHBOARD))
    data = _chart_data(html)
    assert {"weeks", "opened", "resolved", "months", "wnb_by_agency", "age_bands"} <= set(data)
    assert data["age_bands"] == ["0–5 days", "6–10 days", "11–20 days", "21 days or more"]
    assert data["age_counts"] == [3, 1, 1, 1]
    assert set(data["wnb_by_agency"]) == {health_agency.name}  # not the south team's dental practice
    assert sum(data["wnb_by_agency"][health_agency.name]) == 2
    assert len(data["wnb_by_agency"][health_agency.name]) == len(data["months"])
    assert data["months"][-1] == timezone.localdate().strftime("%Y-%m")
    assert len(data["weeks"]) >= 26
    assert sum(data["opened"]["was_not_brought"]) == 5  # the south team's flag is not counted
    assert sum(data["opened"]["engagement_decline"]) == 1
    assert data["resolved"] == {"no_lead_professional": [0] * (len(data["weeks"]) - 1) + [1]}
    assert "Southern Dental Practice" not in html


def test_charts_are_never_another_users(client, manager, south_manager, team, south, child, health_agency):
    AppointmentFactory(member=child, status="was_not_brought", agency=health_agency, scheduled_for=timezone.now())
    make_prompt(team=team, age_days=30)
    make_prompt(team=south, age_days=1)
    client.force_login(manager)
    assert _chart_data(_html(client.get(DASHBOARD)))["age_counts"] == [0, 0, 0, 1]
    client.force_login(south_manager)
    data = _chart_data(_html(client.get(DASHBOARD)))
    assert data["age_counts"] == [1, 0, 0, 0]
    assert data["wnb_by_agency"] == {}


def test_open_prompts_by_age_reflect_a_decision_just_made(client, manager, team):
    prompt = make_prompt(team=team, age_days=1, assigned_to=manager)
    client.force_login(manager)
    assert _chart_data(_html(client.get(DASHBOARD)))["age_counts"] == [1, 0, 0, 0]
    client.post(reverse("prompt-action", args=[prompt.pk]), {"action_taken": "Visited", "rationale": "Seen well"})
    response = client.get(DASHBOARD)
    assert _listed(response) == []
    assert _chart_data(_html(response))["age_counts"] == [0, 0, 0, 0]


def test_each_chart_has_a_text_alternative(client, manager, team):
    make_prompt(team=team, age_days=1)
    make_prompt(team=team, age_days=22)
    client.force_login(manager)
    html = _html(client.get(DASHBOARD))
    for canvas in ("chart-flags", "chart-wnb", "chart-ages"):
        assert re.search(rf'<canvas id="{canvas}" role="img" aria-label="[^"]+"', html)
    assert '<tbody class="govuk-table__body" id="chart-flags-table">' in html  # filled by charts.js
    assert 'id="chart-wnb-table"' in html
    # The age chart's table is in the HTML itself.
    assert '<caption class="govuk-table__caption govuk-visually-hidden">Open prompts by age</caption>' in html
    for label, n in (("0–5 days", 1), ("6–10 days", 0), ("11–20 days", 0), ("21 days or more", 1)):
        assert re.search(rf">{label}</th><td class=\"govuk-table__cell govuk-table__cell--numeric\">{n}</td>", html)


@pytest.mark.parametrize("persona", ["manager", "practitioner"])
def test_no_inline_executable_script(client, request, team, practitioner, persona):
    make_prompt(team=team, assigned_to=practitioner, due_in=-1)
    client.force_login(request.getfixturevalue(persona))
    parser = _Scripts()
    parser.feed(_html(client.get(DASHBOARD)))
    assert parser.scripts
    for attrs in parser.scripts:
        assert attrs.get("src") or attrs.get("type") == "application/json", attrs
        if attrs.get("src"):
            assert attrs["src"].startswith("/static/"), attrs
    assert parser.handlers == []  # no onclick= and the like either


# --- CSV export ------------------------------------------------------------------------------


@pytest.fixture
def confidential_referral(family, manager):
    return Referral.objects.create(
        family=family,
        source="public",
        referrer_name="Maureen Whistleblower-Confidential",
        referrer_contact="07700 900461, 3 Hidden Lane",
        supporting_professional="Dr Secret Supporter",
        concerns=["neglect"],
        summary="Neighbour worried about the children being left alone.",
        recorded_by=manager,
    )


def test_export_is_the_filtered_list_without_the_confidential_referrer(
    client, manager, practitioner, family, team, confidential_referral
):
    on_family = make_prompt(family=family, severity="high", due_in=-2, assigned_to=manager, age_days=9)
    other = make_prompt(team=team, rule="engagement_decline", assigned_to=practitioner, age_days=3)
    make_prompt(team=team, status="actioned")  # not in the default (open) list
    client.force_login(manager)
    response = client.get(EXPORT)
    assert response["Content-Disposition"].startswith('attachment; filename="escalation-prompts-')
    rows = _csv(response)
    assert rows[0] == CSV_HEADER
    assert [int(r[0]) for r in rows[1:]] == [on_family.pk, other.pk]  # the dashboard's order
    first = dict(zip(CSV_HEADER, rows[1], strict=True))
    assert first["family_reference"] == family.reference
    assert first["family"] == "Smith family"
    assert first["check"] == "was_not_brought" and first["severity"] == "high"
    assert first["level"] == "team_manager"
    assert first["assigned_to"] == manager.get_full_name()
    assert first["status"] == "open" and first["overdue"] == "yes"
    assert first["due"] == (timezone.localdate() - dt.timedelta(days=2)).isoformat()
    assert first["detail"] == on_family.flag.detail
    assert dict(zip(CSV_HEADER, rows[2], strict=True))["overdue"] == "no"

    text = "\n".join(",".join(r) for r in rows)
    # (Not the first name alone: the factories' Faker names could be anyone's, "Maureen" included.)
    for secret in ("Whistleblower", "07700 900461", "Hidden Lane", "Secret Supporter"):
        assert secret not in text


def test_export_honours_the_filters(client, manager, varied):
    client.force_login(manager)
    rows = _csv(client.get(EXPORT, {"severity": "high", "status": "active"}))
    assert {int(r[0]) for r in rows[1:]} == {varied["wnb_high"].pk, varied["lead_oldest"].pk}
    rows = _csv(client.get(EXPORT, {"status": "actioned"}))
    assert [int(r[0]) for r in rows[1:]] == [varied["actioned"].pk]
    assert rows[1][CSV_HEADER.index("overdue")] == "no"
    rows = _csv(client.get(EXPORT, {"rule": "was_not_brought", "status": ""}))
    assert len(rows) == 1 + 3


def test_export_link_on_the_page_downloads_the_same_list(client, manager, varied):
    client.force_login(manager)
    page = client.get(DASHBOARD, {"rule": "was_not_brought", "status": "active"})
    link = re.search(r'href="(/dashboard/export\.csv\?[^"]*)"', _html(page)).group(1).replace("&amp;", "&")
    rows = _csv(client.get(link))
    assert [int(r[0]) for r in rows[1:]] == _listed(page)


def test_practitioner_exports_only_their_own_prompts(client, practitioner, varied):
    client.force_login(practitioner)
    rows = _csv(client.get(EXPORT))
    assert {int(r[0]) for r in rows[1:]} == {varied["wnb_high"].pk, varied["engagement_older"].pk}


def test_export_is_audited(client, manager, varied):
    client.force_login(manager)
    _csv(client.get(EXPORT, {"severity": "high", "status": "active"}))
    event = AuditEvent.objects.get(action="export", model="cases.user")
    assert event.actor == manager
    assert event.changes["export"] == "escalation prompts"
    assert event.changes["filters"]["severity"] == "high"
    assert event.route == f"GET {EXPORT}"
    # One EXPORT row per prompt in the file too, so each family's access log shows it.
    exported = AuditEvent.objects.filter(action="export", model="escalation.escalationprompt")
    assert exported.count() > 0 and all(e.family_id for e in exported)
