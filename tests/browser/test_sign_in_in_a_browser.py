"""A real browser signs in with password and TOTP and reaches the start page.

Drives Debian's Chromium (`apt-get install chromium`; Playwright's own browser download
cannot run here) against pytest-django's live server, and saves a screenshot to
test-results/ as an artefact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from tests.access.factories import PASSWORD, PersonFactory

CHROMIUM = Path("/usr/bin/chromium")
RESULTS = Path(__file__).resolve().parents[2] / "test-results"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [
    pytest.mark.browser,
    # live_server needs a transactional database (tests/conftest.py restores starting data).
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="Chromium is not installed at /usr/bin/chromium (make browser-deps)",
    ),
]


@pytest.fixture
def browser_page() -> Any:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # around it are ordinary synchronous ones.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()
            # The test's own ORM calls ran while Playwright's loop was running, so their
            # connection is kept where pytest-django's teardown does not look; left open, it
            # stops PostgreSQL dropping the test database at the end of the session.
            connections.close_all()


def test_a_practitioner_signs_in_with_password_and_code_and_reaches_the_start_page(
    live_server: Any, browser_page: Any
) -> None:
    person = PersonFactory(username="browser.practitioner")
    device = TOTPDevice.objects.get(user=person)
    page = browser_page

    RESULTS.mkdir(exist_ok=True)
    page.goto(f"{live_server.url}/sign-in")
    page.screenshot(path=str(RESULTS / "sign-in-page.png"))
    page.fill("#id_username", person.username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/sign-in/code")

    code = f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"
    page.fill("#id_code", code)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")

    assert page.locator("h1").inner_text() == "Find who is working with a child"
    assert page.locator("[data-testid=sign-out]").is_visible()
    assert page.locator(".govuk-service-navigation").inner_text().count("Reason for access") == 1
    page.screenshot(path=str(RESULTS / "sign-in-reached-start-page.png"), full_page=True)
