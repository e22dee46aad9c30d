"""The keyboard and the smallest screens: the skip link comes first, and signing in works at 320 px
(WCAG 1.4.10 Reflow: no scrolling in two directions at 320 CSS pixels)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import OVERFLOW_JS, PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TOLERANCE = 2  # px, for sub-pixel rounding


def scroll_width(page: Page) -> int:
    return page.evaluate("() => document.documentElement.scrollWidth")


def assert_skip_link_comes_first(page: Page) -> None:
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # off-screen until focused
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main-content$"))
    expect(page.locator("main#main-content")).to_be_focused()
    page.keyboard.press("Tab")  # the next stop is in the main content, past the header and navigation
    assert page.evaluate("() => document.getElementById('main-content').contains(document.activeElement)")


def test_the_skip_link_is_the_first_tab_stop_and_skips_to_main(page: Page, practitioner, family):
    page.goto("/accounts/login/")
    assert_skip_link_comes_first(page)

    # Signed in, the service navigation and the account links come before the content.
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password", exact=True).press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")
    page.goto(f"/families/{family.pk}/")
    assert_skip_link_comes_first(page)


def test_signing_in_works_at_320px_without_scrolling_sideways(page: Page, practitioner, family):
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto("/accounts/login/")
    assert scroll_width(page) <= 320 + TOLERANCE
    # With the keyboard only: Tab from the top of the page to the username field.
    username = page.get_by_label("Username")
    for _ in range(5):
        page.keyboard.press("Tab")
        if username.evaluate("el => el === document.activeElement"):
            break
    expect(username).to_be_focused()
    page.keyboard.type("alice")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")
    expect(page.get_by_role("link", name="Smith family")).to_be_visible()
    assert scroll_width(page) <= 320 + TOLERANCE


# The pages of the practitioner's journey (the sign-in page is checked above), at 320 px.
PAGES_AT_320 = {
    "caseload": "/",
    "visit form": "/families/{family}/visits/add/",
    "appointment form": "/families/{family}/appointments/add/?member={child}",
    "gap form": "/families/{family}/gaps/add/?member={child}&subject=parent",
    "member form": "/families/{family}/members/add/?role=father&lives_in_household=no",
}


def _sign_in_at_320(page: Page) -> None:
    page.set_viewport_size({"width": 320, "height": 640})
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My caseload")


def test_the_journeys_forms_do_not_scroll_sideways_at_320px(page: Page, practitioner, family, mother, child):
    _sign_in_at_320(page)
    wide = {}
    for name, path in PAGES_AT_320.items():
        page.goto(path.format(family=family.pk, child=child.pk))
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        found = page.evaluate(OVERFLOW_JS)
        if found["scrollWidth"] > 320 + TOLERANCE:
            wide[name] = found
    assert not wide, wide


def test_the_family_page_does_not_scroll_sideways_at_320px(page: Page, practitioner, family, mother, child):
    _sign_in_at_320(page)
    page.goto(f"/families/{family.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Smith family")
    found = page.evaluate(OVERFLOW_JS)
    assert found["scrollWidth"] <= 320 + TOLERANCE, found
