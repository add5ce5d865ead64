"""A person signs up, logs out, logs in; a second workspace sees nothing of the first."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import PASSWORD, sign_up

pytestmark = pytest.mark.e2e


def test_signup_logout_login_and_isolation(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    first = browser.new_context(viewport={"width": 1280, "height": 800})
    page = first.new_page()

    # Signed out: dashboard pages send you to the login page.
    page.goto(f"{base}/widgets")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=30_000)
    shot(page, "login")

    # Inline validation on sign-up.
    page.goto(f"{base}/signup")
    page.fill("#email", "owner@acme.io")
    page.fill("#password", "short")
    page.fill("#workspace", "Acme")
    page.click("#signup-submit")
    expect(page.locator("#password-error")).to_contain_text("at least 10", timeout=15_000)
    shot(page, "signup-error")

    sign_up(page, base, "owner@acme.io", "Acme Docs")
    shot(page, "overview-light")
    cookies = {c["name"]: c for c in first.cookies()}
    assert cookies["cc_session"]["httpOnly"] and cookies["cc_session"]["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("cc_session") == -1  # invisible to scripts

    # Every nav page renders inside the shell.
    for path, heading in (
        ("/widgets", "Widgets"),
        ("/knowledge", "Knowledge"),
        ("/api-keys", "API keys"),
        ("/settings", "Settings"),
    ):
        page.goto(f"{base}{path}")
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=15_000)

    # Log out through the user menu.
    page.click("#user-menu")
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=30_000)
    page.goto(f"{base}/overview")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=30_000)

    # Wrong password: a clear error, no session.
    page.fill("#email", "owner@acme.io")
    page.fill("#password", "not-the-password")
    page.click("#login-submit")
    expect(page.locator("#password-error")).to_contain_text("Wrong email or password")

    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)
    expect(page.locator("#workspace-name")).to_have_text("Acme Docs")

    # A second account in another browser profile gets its own, empty workspace.
    second = browser.new_context(viewport={"width": 375, "height": 780})
    other = second.new_page()
    sign_up(other, base, "owner@beta.io", "Beta Corp")
    expect(other.get_by_text("Acme Docs")).to_have_count(0)
    shot(other, "overview-phone")
    # Duplicate email is refused inline.
    third = browser.new_context().new_page()
    third.goto(f"{base}/signup")
    third.fill("#email", "OWNER@acme.io")
    third.fill("#password", PASSWORD)
    third.fill("#workspace", "Copycat")
    third.click("#signup-submit")
    expect(third.locator("#email-error")).to_contain_text("already exists", timeout=15_000)

    # Dark mode.
    page.emulate_media(color_scheme="dark")
    page.reload()
    expect(page.locator("#workspace-name")).to_have_text("Acme Docs", timeout=15_000)
    shot(page, "overview-dark")
    first.close()
    second.close()
