"""A team manager's morning in the browser: sign in, open the escalation dashboard, see the overdue
high prompt at the top, open it, record the action taken with a rationale, and see it leave the
open list. Then the filters: chosen in the page (HTMX), kept in the URL, still there on reload.

The flag is real (Kai was not brought to two appointments at two agencies, found by the check);
its prompt is made overdue by moving its due date into the past.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from escalation.models import EscalationPrompt, PromptStatus
from escalation.services.checks import run_checks_in_process
from escalation.tests.test_views_dashboard import make_prompt
from visits.tests.factories import AppointmentFactory

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACTION_TAKEN = "Strategy discussion booked with the health visitor and GP for Monday"
RATIONALE = "Kai missed care at two agencies in a week; the pattern needs a joint plan"


@pytest.fixture
def prompts(family, child, manager, practitioner, teammate, team, health_agency, council):
    """The overdue high prompt (the Smith family's), and others that must come below it."""
    now = timezone.now()
    AppointmentFactory(
        member=child, status="was_not_brought", agency=health_agency, scheduled_for=now - dt.timedelta(days=12)
    )
    AppointmentFactory(
        member=child, status="was_not_brought", agency=council, scheduled_for=now - dt.timedelta(days=16)
    )
    run_checks_in_process(rule_codes=["was_not_brought"], as_of=now - dt.timedelta(days=10))
    urgent = EscalationPrompt.objects.get(family=family)
    assert urgent.flag.severity == "high" and urgent.assigned_to == manager
    EscalationPrompt.objects.filter(pk=urgent.pk).update(due=timezone.localdate() - dt.timedelta(days=3))
    return {
        "urgent": urgent,
        # Overdue but medium; high but not overdue (and older); neither.
        "overdue_medium": make_prompt(
            team=team, name="Jones family", due_in=-1, age_days=6, assigned_to=practitioner, rule="engagement_decline"
        ),
        "high": make_prompt(team=team, name="Patel family", severity="high", age_days=20, assigned_to=manager),
        "medium": make_prompt(team=team, name="Green family", age_days=25, assigned_to=teammate),
    }


def sign_in_as_manager(page: Page, username: str = "mandy") -> None:
    """Password, then the code from the manager's authenticator app (required for managers)."""
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from cases.models import User

    user = User.objects.get(username=username)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="Phone", confirmed=True
    )
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter the code from your authenticator app")
    page.get_by_label("Code from your authenticator app").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")


def prompt_rows(page: Page):
    return page.locator("#prompt-list tbody tr")


def test_manager_actions_the_overdue_high_prompt_at_the_top(page: Page, shoot, manager, prompts):
    sign_in_as_manager(page)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Escalation dashboard")
    expect(page).to_have_title("Escalation dashboard – Safeguarding case record")

    # The overdue high prompt is first, unmistakably; then the overdue medium one; then by severity and age.
    rows = prompt_rows(page)
    expect(rows).to_have_count(4)
    first = rows.first
    expect(first).to_contain_text("Overdue")
    expect(first).to_contain_text("High")
    expect(first).to_contain_text("Smith family")
    expect(first).to_have_class(re.compile(r"app-row--overdue"))
    expect(rows.nth(1)).to_contain_text("Jones family")
    expect(rows.nth(1)).to_contain_text("Overdue")
    expect(rows.nth(2)).to_contain_text("Patel family")
    expect(rows.nth(2)).not_to_contain_text("Overdue")
    expect(rows.nth(3)).to_contain_text("Green family")
    expect(page.locator(".app-stat--alert")).to_have_text(re.compile(r"2\s+overdue"))
    expect(page.get_by_role("heading", name="Team workload")).to_be_visible()
    expect(page.locator("canvas#chart-ages")).to_be_visible()
    shoot("manager-dashboard")

    # Open it: the explanation, the evidence, the team around the family, the history.
    first.get_by_role("link", name="Smith family").click()
    expect(page).to_have_url(re.compile(rf"/prompts/{prompts['urgent'].pk}/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Was not brought")
    expect(page.locator(".govuk-inset-text")).to_contain_text("Kai Smith was not brought to 2 appointments")
    expect(page.locator("main")).to_contain_text("Overdue")
    evidence = page.locator("main a[href*='/appointments/']")
    expect(evidence).to_have_count(2)
    expect(page.get_by_role("heading", name="Team around the family")).to_be_visible()
    expect(page.locator("main")).to_contain_text("(lead professional)")
    expect(page.locator(".app-timeline")).to_contain_text("Raised by the system")
    shoot("manager-prompt")

    # A decision without a rationale is refused, with the error linked to the field.
    page.get_by_label("What action was taken?").fill(ACTION_TAKEN)
    page.get_by_role("button", name="Record the decision").click()
    expect(page).to_have_title(re.compile(r"^Error: Was not brought"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Give the rationale for the decision")
    expect(page.get_by_label("What action was taken?")).to_have_value(ACTION_TAKEN)
    shoot("manager-prompt-error", widths=(1280,))
    summary.get_by_role("link", name="Give the rationale for the decision").click()
    expect(page.get_by_label("Why? (the rationale for this decision)")).to_be_focused()

    # Record the action with its rationale.
    page.get_by_label("Why? (the rationale for this decision)").fill(RATIONALE)
    page.get_by_role("button", name="Record the decision").click()

    # Back on the dashboard: confirmed, and the prompt has left the open list.
    expect(page).to_have_url(re.compile(r"/dashboard/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Escalation dashboard")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Decision recorded")
    expect(prompt_rows(page)).to_have_count(3)
    expect(page.locator("#prompt-list")).not_to_contain_text("Smith family")
    expect(prompt_rows(page).first).to_contain_text("Jones family")
    shoot("manager-dashboard-after", widths=(1280,))

    urgent = EscalationPrompt.objects.get(pk=prompts["urgent"].pk)
    assert urgent.status == PromptStatus.ACTIONED
    assert (urgent.action_taken, urgent.rationale) == (ACTION_TAKEN, RATIONALE)
    assert urgent.events.get(kind="actioned").actor == manager

    # It is still there, as actioned, for whoever looks for decided prompts.
    page.goto("/dashboard/?status=actioned")
    expect(prompt_rows(page)).to_have_count(1)
    expect(prompt_rows(page).first).to_contain_text("Smith family")
    expect(prompt_rows(page).first).to_contain_text("Actioned")


def test_filters_apply_in_place_and_survive_a_reload(page: Page, manager, prompts):
    sign_in_as_manager(page)
    page.goto("/dashboard/")
    expect(prompt_rows(page)).to_have_count(4)
    page.locator("details.govuk-details summary", has_text="Filter").click()
    page.get_by_label("Severity").select_option("high")

    # HTMX swaps the list in place and puts the filter in the URL.
    expect(page).to_have_url(re.compile(r"severity=high"))
    expect(prompt_rows(page)).to_have_count(2)
    expect(page.locator("#prompt-list")).not_to_contain_text("Jones family")
    expect(page.locator("#prompt-list")).to_contain_text("Smith family")

    page.reload()
    expect(page.get_by_label("Severity")).to_have_value("high")
    expect(prompt_rows(page)).to_have_count(2)
    expect(page.locator("#prompt-list")).to_contain_text("Patel family")


def test_the_dashboard_does_not_scroll_sideways_on_a_phone(page: Page, manager, prompts):
    sign_in_as_manager(page)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto("/dashboard/")
    expect(prompt_rows(page)).to_have_count(4)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 375 + 2, f"the page is {width} px wide at 375 px"
