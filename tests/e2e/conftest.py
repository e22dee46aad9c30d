"""Browser tests: plain Playwright driving Debian's Chromium against pytest-django's live server.

Playwright cannot download its own browser here, so the system Chromium is launched directly
(`.ci/run` installs it when it is missing). Each test gets a fresh browser context (no cookies
carried over) at desktop width; `shoot()` saves full-page screenshots at desktop and phone widths
to test-artifacts/screenshots/ and notes any horizontal overflow in layout.txt beside them.

The live server runs in another thread, so the tests use a transactional database
(`pytest.mark.django_db(transaction=True)`): rows made here are committed and the server sees them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE_WIDTHS = (375,)
PASSWORD = "correct-horse-battery"  # what cases.tests.factories.UserFactory sets
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("E2E_SCREENSHOTS") or ROOT / "test-artifacts" / "screenshots")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
SUBRESOURCES = {"stylesheet", "script", "font", "image", "media", "manifest"}

# The elements wider than the viewport, for the layout notes (a few, outermost first).
OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1) continue;
    if (el.closest('.govuk-visually-hidden')) continue;
    if (out.some(o => o.el.contains(el))) continue;
    const cls = (el.getAttribute('class') || '').trim().split(/\\s+/).filter(Boolean).slice(0, 3).join('.');
    out.push({el, what: el.tagName.toLowerCase() + (cls ? '.' + cls : '') + (el.id ? '#' + el.id : ''),
              right: Math.round(r.right)});
    if (out.length >= 8) break;
  }
  return {scrollWidth: document.documentElement.scrollWidth, width,
          elements: out.map(o => ({what: o.what, right: o.right}))};
}
"""


@dataclass
class BrowserProblems:
    """What went wrong in the browser while a test ran: none of it is allowed."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)

    def any(self) -> bool:
        return bool(self.console_errors or self.page_errors or self.external_requests or self.failed_requests)


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the e2e package.

    Playwright's sync API keeps an asyncio loop running on this thread while it is started, so
    Django would refuse database calls from the test thread (SynchronousOnlyOperation). Allow them
    for exactly as long as Playwright runs, then put the setting back for the rest of the suite.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium package (see .ci/run)")
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so `page` knows at teardown whether the test failed."""
    report = yield
    setattr(item, f"_e2e_report_{report.when}", report)
    return report


@pytest.fixture
def page(request, browser, live_server, browser_problems):
    """A page in a fresh context at 1280 x 900, with relative URLs resolved against the live server.

    Console errors, uncaught exceptions, requests to any host but the live server (no CDN), server
    errors and missing assets are collected; the test fails at teardown if there were any (or, if it
    failed already, they are added to its report).
    """
    context = browser.new_context(viewport=DESKTOP, base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(5_000)
    page = context.new_page()
    problems = browser_problems

    page.on("console", lambda m: m.type == "error" and problems.console_errors.append(f"{m.text} ({page.url})"))
    page.on("pageerror", lambda exc: problems.page_errors.append(f"{exc} ({page.url})"))

    def on_request(req):
        parts = urlsplit(req.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            problems.external_requests.append(req.url)

    def on_response(response):
        # A server error anywhere; a missing stylesheet, script, font or image (a page's own 4xx may be
        # what a test is checking, so pages and HTMX requests are left to the test).
        if response.status >= 500 or (response.status >= 400 and response.request.resource_type in SUBRESOURCES):
            problems.failed_requests.append(f"{response.status} {response.url}")

    def on_request_failed(req):
        # ERR_ABORTED is a load cut short by the next navigation (or a 4xx already counted above).
        if "ERR_ABORTED" not in (req.failure or ""):
            problems.failed_requests.append(f"{req.failure} {req.url}")

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", on_request_failed)
    yield page
    context.close()
    if not problems.any():
        return
    call = getattr(request.node, "_e2e_report_call", None)
    if call is not None and (call.failed or hasattr(call, "wasxfail")):
        # Already failing: add the problems to its report rather than a second error.
        request.node.add_report_section("teardown", "browser problems", str(problems))
    else:
        pytest.fail(f"Problems in the browser: {problems}")


@pytest.fixture(scope="package")
def _layout_notes():
    """Overflow notes for every screenshot of the run, written once beside the PNGs."""
    notes: dict[str, dict] = {}
    yield notes
    if notes:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        (SCREENSHOTS / "layout.json").write_text(json.dumps(notes, indent=2, sort_keys=True) + "\n")


@pytest.fixture
def shoot(page, _layout_notes):
    """`shoot(name)` saves full-page PNGs of the current page at 1280 px and phone widths (and any
    extra widths given), records horizontal overflow at each, and returns to desktop width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shoot(name: str, widths=(DESKTOP["width"], *PHONE_WIDTHS)) -> dict[int, dict]:
        found = {}
        for width in widths:
            page.set_viewport_size({"width": width, "height": DESKTOP["height"]})
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
            found[width] = page.evaluate(OVERFLOW_JS)
            _layout_notes[f"{name}-{width}"] = found[width]
        page.set_viewport_size(DESKTOP)
        return found

    return _shoot
