"""The dashboard's faster paths say exactly what the plain ones said: `dashboard_summary` (one
query for the list's order, its counts and the open prompts' ages) against `dashboard_prompts` and
`prompt_ages`; `dashboard_page` only ever fetches prompts the summary found; the charts' history
is shared by managers who see the same teams and by nobody else; the filter's selects render as
Django's do.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django import forms
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Role
from cases.tests.factories import TeamFactory, UserFactory
from escalation import selectors
from escalation.forms import DashboardFilterForm, QuickSelect
from escalation.tests.test_views_dashboard import DASHBOARD, _chart_data, _html, make_prompt

pytestmark = pytest.mark.django_db


@pytest.fixture
def south(council):
    return TeamFactory(agency=council, name="Assessment Team South")


@pytest.fixture
def south_manager(south):
    return UserFactory(username="sam", team=south, agency=south.agency, role=Role.MANAGER)


@pytest.fixture
def deputy(team):
    """A second manager of the manager's team."""
    return UserFactory(username="dee", team=team, agency=team.agency, role=Role.MANAGER)


@pytest.fixture
def assorted(team, south, practitioner, teammate, manager):
    """Prompts of every kind: overdue or not, both severities, every status, several ages and
    checks, ties on the raised time, assigned or not; and one of another team."""
    now = timezone.now()
    people = [practitioner, teammate, manager, None]
    rules = ["was_not_brought", "engagement_decline", "no_lead_professional", "missing_family_details"]
    statuses = ["open", "open", "acknowledged", "actioned", "escalated"]
    made = []
    for i in range(30):
        made.append(
            make_prompt(
                team=team,
                rule=rules[i % 4],
                severity="high" if i % 3 == 0 else "medium",
                status=statuses[i % 5],
                due_in=[-3, 2, 0, -1, 7][i % 5],
                age_days=[0, 3, 6, 9, 12, 15, 25, 40][i % 8],
                assigned_to=people[i % 4],
            )
        )
    # The same raised time: the id decides.
    type(made[0]).objects.filter(pk__in=[made[1].pk, made[9].pk]).update(created_at=now)
    make_prompt(team=south, severity="high", due_in=-5)
    return made


FILTERS = [
    selectors.DashboardFilters(),
    selectors.DashboardFilters(status=""),
    selectors.DashboardFilters(status="actioned"),
    selectors.DashboardFilters(status="open", severity="high"),
    selectors.DashboardFilters(rule="engagement_decline", status=""),
    selectors.DashboardFilters(min_age_days=11),
    selectors.DashboardFilters(assigned_to=-1),
]


@pytest.mark.parametrize("persona", ["manager", "practitioner", "admin_user"])
@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_the_summary_is_the_plain_list_its_counts_and_the_open_prompts_ages(request, assorted, persona, filters):
    user = request.getfixturevalue(persona)
    if filters.assigned_to == -1:
        filters = selectors.DashboardFilters(assigned_to=assorted[0].assigned_to_id)
    if persona == "practitioner":
        filters = selectors.DashboardFilters(**{**vars(filters), "mine": True})
    summary = selectors.dashboard_summary(user=user, filters=filters, with_ages=True)

    plain = list(selectors.dashboard_prompts(user=user, filters=filters))
    assert summary.ids == [p.pk for p in plain]
    assert summary.overdue_ids == {p.pk for p in plain if p.overdue}
    assert summary.counts == {
        "by_rule": dict(Counter(p.flag.rule for p in plain)),
        "by_severity": dict(Counter(p.flag.severity for p in plain)),
        "by_status": dict(Counter(p.status for p in plain)),
        "overdue": sum(1 for p in plain if p.overdue),
        "total": len(plain),
    }
    assert summary.ages == selectors.prompt_ages(user=user)
    assert selectors.dashboard_summary(user=user, filters=filters).ids == summary.ids  # without ages too


def test_counts_come_in_the_filters_order(manager, team):
    for rule in ["no_lead_professional", "engagement_decline", "was_not_brought"]:
        make_prompt(team=team, rule=rule, status="acknowledged")
    make_prompt(team=team, rule="was_not_brought")
    counts = selectors.dashboard_summary(user=manager, filters=selectors.DashboardFilters()).counts
    assert list(counts["by_rule"]) == ["was_not_brought", "engagement_decline", "no_lead_professional"]
    assert list(counts["by_status"]) == ["open", "acknowledged"]


def test_a_page_only_ever_holds_prompts_the_summary_found(manager, team, south):
    mine = make_prompt(team=team)
    theirs = make_prompt(team=south)
    summary = selectors.dashboard_summary(user=manager, filters=selectors.DashboardFilters())
    assert summary.ids == [mine.pk]
    rows = selectors.dashboard_page(summary=summary, ids=[theirs.pk, mine.pk])
    assert [r["id"] for r in rows] == [mine.pk]


def test_the_open_prompts_ages_ignore_the_lists_filters(client, manager, team):
    make_prompt(team=team, age_days=1)
    make_prompt(team=team, age_days=8, severity="high")
    make_prompt(team=team, age_days=30, status="actioned")
    client.force_login(manager)
    for params in ({}, {"status": "actioned"}, {"severity": "high", "status": "active"}, {"status": ""}):
        assert _chart_data(_html(client.get(DASHBOARD, params)))["age_counts"] == [1, 1, 0, 0], params


# --- the charts' cache -------------------------------------------------------------------------


def _history_runs(monkeypatch) -> list:
    runs = []
    real = selectors.chart_history

    def counted(**kwargs):
        runs.append(kwargs["user"].username)
        return real(**kwargs)

    monkeypatch.setattr(selectors, "chart_history", counted)
    return runs


def test_managers_of_the_same_team_share_the_charts_history(client, monkeypatch, manager, deputy, team):
    make_prompt(team=team)
    runs = _history_runs(monkeypatch)
    client.force_login(manager)
    first = _chart_data(_html(client.get(DASHBOARD)))
    client.force_login(deputy)
    assert _chart_data(_html(client.get(DASHBOARD))) == first
    assert runs == ["mandy"]


def test_the_charts_history_is_never_shared_across_teams(client, monkeypatch, manager, south_manager, team, south):
    make_prompt(team=team, rule="was_not_brought")
    make_prompt(team=south, rule="engagement_decline")
    runs = _history_runs(monkeypatch)
    client.force_login(manager)
    assert set(_chart_data(_html(client.get(DASHBOARD)))["opened"]) == {"was_not_brought"}
    client.force_login(south_manager)
    assert set(_chart_data(_html(client.get(DASHBOARD)))["opened"]) == {"engagement_decline"}
    assert runs == ["mandy", "sam"]


def test_a_head_of_service_and_a_team_manager_keep_their_own_figures(
    client, monkeypatch, council, manager, south_manager, team, south
):
    """The head of service (the south team's manager) sees the whole agency; the north team's
    manager, asking after them, still sees the north team's figures only."""
    council.head_of_service = south_manager
    council.save()
    make_prompt(team=team, rule="was_not_brought")
    make_prompt(team=south, rule="engagement_decline")
    runs = _history_runs(monkeypatch)
    client.force_login(south_manager)
    assert set(_chart_data(_html(client.get(DASHBOARD)))["opened"]) == {"was_not_brought", "engagement_decline"}
    client.force_login(manager)
    assert set(_chart_data(_html(client.get(DASHBOARD)))["opened"]) == {"was_not_brought"}
    assert runs == ["sam", "mandy"]


def test_admins_share_the_whole_services_figures(client, monkeypatch, admin_user, team, south):
    make_prompt(team=team)
    make_prompt(team=south, rule="engagement_decline")
    other_admin = UserFactory(username="root2", role=Role.ADMIN, team=None, agency=None, is_superuser=True)
    runs = _history_runs(monkeypatch)
    client.force_login(admin_user)
    first = _chart_data(_html(client.get(DASHBOARD)))
    assert set(first["opened"]) == {"was_not_brought", "engagement_decline"}
    client.force_login(other_admin)
    assert _chart_data(_html(client.get(DASHBOARD))) == first
    assert runs == ["root"]


def test_figures_counted_while_visibility_changed_are_not_shared(
    client, monkeypatch, council, manager, deputy, team, south
):
    """Made head of service while the history was being counted: the figures (now the agency's)
    are shown to them but kept out of the north team's shared entry."""
    make_prompt(team=team, rule="was_not_brought")
    make_prompt(team=south, rule="engagement_decline")
    real = selectors.chart_history

    def promoted_meanwhile(**kwargs):
        council.head_of_service = manager
        council.save()
        return real(**kwargs)

    monkeypatch.setattr(selectors, "chart_history", promoted_meanwhile)
    client.force_login(manager)
    client.get(DASHBOARD)
    monkeypatch.setattr(selectors, "chart_history", real)
    client.force_login(deputy)
    assert set(_chart_data(_html(client.get(DASHBOARD)))["opened"]) == {"was_not_brought"}


def test_a_warm_dashboard_costs_no_chart_history_queries(client, manager, deputy, team):
    make_prompt(team=team)
    client.force_login(manager)
    client.get(DASHBOARD)
    client.force_login(deputy)
    with CaptureQueriesContext(connection) as ctx:
        client.get(DASHBOARD)
    assert not [q for q in ctx.captured_queries if "DATE_TRUNC" in q["sql"]]


# --- the filter's selects ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [None, {"rule": "was_not_brought", "severity": "high", "status": "", "min_age_days": "6"}, {"team": "<x>"}],
)
def test_quick_selects_render_as_djangos_do(manager, practitioner, data):
    practitioner.first_name, practitioner.last_name = "O'Brien", '& "Sons" <b>'
    practitioner.save()
    form = DashboardFilterForm(data, user=manager)
    form.is_valid()
    for name, field in form.fields.items():
        assert isinstance(field.widget, QuickSelect)
        quick = str(form[name])
        field.widget = forms.Select(choices=field.choices)
        field.widget.is_required = field.required
        assert quick == str(form[name]), name


def test_quick_select_renders_option_groups_as_djangos_does():
    choices = [("", "None"), ("Group <1>", [("a", "A & B"), ("b", "B")]), ("c", "C")]
    quick = QuickSelect(choices=choices, attrs={"class": "govuk-select", "data-x": '"q"'})
    plain = forms.Select(choices=choices, attrs={"class": "govuk-select", "data-x": '"q"'})
    assert quick.render("f", "a", attrs={"id": "id_f"}) == plain.render("f", "a", attrs={"id": "id_f"})
