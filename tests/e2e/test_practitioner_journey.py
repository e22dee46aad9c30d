"""A practitioner's day in the browser: sign in, open a family, log a planned visit (the error for a
missing purpose first), record that a child was not brought, and fill the gaps in the household.

The family: Jade Smith (mother, no date of birth) and her son Kai; no father recorded, so the
"What is missing from the family record" box lists Kai's missing parent (Child K, seed 002: the
father was barely known to services).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PURPOSE = "Review the safety plan with Jade and see Kai's bedroom"
EXPECTED = "Safety plan agreed; Kai seen in his room"


def sign_in(page: Page, username: str = "alice") -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")


def fill_date(page: Page, legend: str, day: dt.date) -> None:
    group = page.get_by_role("group", name=legend, exact=True)
    group.get_by_label("Day").fill(str(day.day))
    group.get_by_label("Month").fill(str(day.month))
    group.get_by_label("Year").fill(str(day.year))


def chronology(page: Page):
    return page.locator("#chronology-list")


def gaps_box(page: Page):
    return page.get_by_role("region", name="What is missing from the family record")


def test_log_visit_record_was_not_brought_and_fill_a_gap(page: Page, shoot, practitioner, family, mother, child):
    from cases.models import InformationGap
    from visits.models import Appointment, Visit

    today = timezone.localdate()

    # Sign in through the form.
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    shoot("sign-in", widths=(1280, 375, 320))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The caseload shows the family, with "You" as its lead professional.
    expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name="Smith family"))
    expect(row).to_contain_text("You")
    shoot("caseload")
    row.get_by_role("link", name="Smith family").click()

    # The family page: the lead professional banner and what is missing.
    expect(page.get_by_role("heading", level=1)).to_have_text("Smith family")
    banner = page.get_by_role("region", name="Lead professional")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(practitioner.get_full_name())
    expect(gaps_box(page)).to_contain_text("Kai Smith has 1 parent recorded.")
    expect(chronology(page)).to_contain_text("Nothing recorded yet")
    shoot("family", widths=(1280, 375, 320))

    # A planned visit without a purpose or expected outcome: the errors show and nothing is saved.
    page.get_by_role("link", name="Log a visit").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Log a visit")
    expect(page.get_by_role("radio", name="Yes, planned")).to_be_checked()
    fill_date(page, "Date of the visit", today - dt.timedelta(days=1))
    page.get_by_label("Time (optional)").fill("10:30")
    page.get_by_role("radio", name="Completed", exact=True).check()
    page.get_by_role("button", name="Save visit").click()

    expect(page).to_have_title(re.compile(r"^Error: Log a visit"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("There is a problem")
    expect(summary.get_by_role("link", name="Enter the purpose of the planned visit")).to_have_attribute(
        "href", "#id_purpose"
    )
    expect(summary.get_by_role("link", name="Enter the expected outcome of the planned visit")).to_be_visible()
    # govuk-frontend moves focus to the summary, so a screen reader announces it first.
    expect(summary).to_be_focused()
    expect(page.locator("#id_purpose-error")).to_contain_text("Enter the purpose of the planned visit")
    expect(page.locator("#id_expected_outcome-error")).to_contain_text("Enter the expected outcome")
    expect(page.locator(".govuk-form-group--error")).to_have_count(2)
    # What was typed is kept.
    expect(page.get_by_role("radio", name="Completed", exact=True)).to_be_checked()
    expect(page.get_by_role("group", name="Date of the visit").get_by_label("Year")).to_have_value(
        str((today - dt.timedelta(days=1)).year)
    )
    assert Visit.objects.count() == 0
    shoot("visit-form-errors")

    # The error link takes the user to the field.
    summary.get_by_role("link", name="Enter the purpose of the planned visit").click()
    expect(page.get_by_role("textbox", name="Purpose of the visit")).to_be_focused()

    # Now with a purpose and expected outcome: back on the family page, in the chronology.
    page.get_by_role("textbox", name="Purpose of the visit").fill(PURPOSE)
    page.get_by_role("textbox", name="Expected outcome").fill(EXPECTED)
    page.get_by_role("button", name="Save visit").click()
    expect(page).to_have_url(re.compile(rf"/families/{family.pk}/#chronology$"))
    expect(page.get_by_role("alert")).to_contain_text("Visit saved.")
    expect(chronology(page)).to_contain_text(f"Planned visit: completed. Purpose: {PURPOSE}")
    assert Visit.objects.filter(family=family, planned=True, purpose=PURPOSE).count() == 1

    # An appointment for Kai that he was not brought to: the words for a child, never "did not attend".
    page.get_by_role("link", name="Appointment for Kai Smith").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record an appointment")
    expect(page.get_by_label("Who is the appointment for?")).to_have_value(str(child.pk))
    labels = page.get_by_role("group", name="How did it go?").locator(".govuk-radios__label").all_inner_texts()
    assert "Was not brought" in labels
    assert not [label for label in labels if "did not attend" in label.lower() or "DNA" in label], labels
    page.get_by_label("Type of appointment").select_option(label="Health review")
    fill_date(page, "Date", today - dt.timedelta(days=2))
    page.get_by_role("radio", name="Was not brought").check()
    shoot("appointment-form")
    page.get_by_role("button", name="Save appointment").click()
    expect(page.get_by_role("alert")).to_contain_text("Appointment saved.")
    expect(chronology(page)).to_contain_text("Kai Smith: Health review — was not brought.")
    assert Appointment.objects.get(member=child).status == "was_not_brought"

    # Fill a gap: Jade will not say who Kai's father is; ask again in a month.
    revisit = today + dt.timedelta(days=30)
    page.goto(f"/families/{family.pk}/#household")
    kai_gap = gaps_box(page).get_by_role("listitem").filter(has_text="Kai Smith has 1 parent recorded")
    kai_gap.get_by_role("link", name="Record why not").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Record what is not known about Kai Smith")
    expect(page.get_by_label("What is not known")).to_have_value("parent")
    page.get_by_role("radio", name="Family declined to say").check()
    fill_date(page, "When to ask again", revisit)
    page.get_by_label("Notes (optional)").fill("Jade said she would rather not talk about him yet.")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("Recorded. You will be prompted to ask again")
    expect(gaps_box(page)).not_to_contain_text("Kai Smith has")
    expect(gaps_box(page)).to_contain_text("Jade Smith has no date of birth.")  # the other gaps stay
    not_known = page.get_by_role("table", name="Facts not known yet, and when to ask again")
    gap_row = not_known.get_by_role("row").filter(has_text="Parent (Kai Smith)")
    expect(gap_row).to_contain_text("Family declined to say")
    expect(gap_row).to_contain_text(f"{revisit.day} {revisit:%b %Y}")
    assert InformationGap.objects.get(family=family, member=child).reason == "declined"
    shoot("family-after-saving", widths=(1280, 375, 320))


def test_add_the_absent_father_with_a_phone_number(page: Page, shoot, family, mother, child):
    from cases.models import Member

    sign_in(page)
    page.goto(f"/families/{family.pk}/")
    kai_gap = gaps_box(page).get_by_role("listitem").filter(has_text="Kai Smith has 1 parent recorded")
    kai_gap.get_by_role("link", name="Add a parent").click()

    # The link fills in what it can: a father who lives elsewhere, the family's surname.
    expect(page.get_by_role("heading", level=1)).to_have_text("Add someone to the family")
    expect(page.get_by_label("Role in the family")).to_have_value("father")
    expect(page.get_by_role("radio", name="No")).to_be_checked()
    expect(page.get_by_label("Last name")).to_have_value("Smith")
    page.get_by_label("First name").fill("Dean")
    page.get_by_label("Phone number (optional)").fill("07700 900123")
    page.get_by_role("button", name="Save").click()

    expect(page.get_by_role("alert")).to_contain_text("Dean Smith saved.")
    elsewhere = page.get_by_role("table", name="People who live elsewhere")
    dean = elsewhere.get_by_role("row").filter(has_text="Dean Smith")
    expect(dean).to_contain_text("Father")
    expect(dean.get_by_role("link", name="07700 900123")).to_have_attribute("href", "tel:07700 900123")
    expect(gaps_box(page)).not_to_contain_text("Kai Smith has")
    expect(gaps_box(page)).not_to_contain_text("Dean Smith")
    father = Member.objects.get(family=family, role="father")
    assert (father.lives_in_household, father.contact_phone) == (False, "07700 900123")


def test_a_wrong_password_is_explained_and_nothing_is_let_in(page: Page, practitioner):
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_title(re.compile(r"^Error: Sign in"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("The username or password is not right")
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    expect(page).to_have_url(re.compile(r"/accounts/login/$"))


def test_several_children_can_be_ticked_as_seen(page: Page, family, mother, child):
    """ "Children seen" and "Children seen alone" are checkboxes: a visit can see more than one child."""
    from cases.tests.factories import MemberFactory
    from visits.models import Visit

    sister = MemberFactory(family=family, given_name="Mia", family_name="Smith", role="child")
    sign_in(page)
    page.goto(f"/families/{family.pk}/visits/add/")
    page.get_by_role("radio", name="No, unplanned (opportunistic)").check()
    fill_date(page, "Date of the visit", timezone.localdate())
    page.get_by_role("radio", name="Completed", exact=True).check()
    seen = page.get_by_role("group", name="Children seen (optional)", exact=True)
    alone = page.get_by_role("group", name="Children seen alone (optional)", exact=True)
    expect(seen.get_by_role("checkbox")).to_have_count(2, timeout=1_000)
    seen.get_by_role("checkbox", name="Kai Smith").check()
    seen.get_by_role("checkbox", name="Mia Smith").check()
    alone.get_by_role("checkbox", name="Mia Smith").check()
    page.get_by_role("button", name="Save visit").click()

    expect(page.get_by_role("alert")).to_contain_text("Visit saved.")
    expect(chronology(page)).to_contain_text("Unplanned visit: completed.")
    visit = Visit.objects.get(family=family)
    assert set(visit.children_seen.all()) == {child, sister}
    assert list(visit.children_seen_alone.all()) == [sister]
