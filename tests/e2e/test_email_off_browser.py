"""Email off (the default server, no SMTP_URL): the forgot-password page says so and points
at the operator command; the Account tab says addresses are not verified here."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e


def test_forgot_password_without_smtp(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{base}/login")
    page.click("#forgot-password-link", timeout=30_000)
    expect(page).to_have_url(re.compile(r"/forgot-password/?$"), timeout=30_000)
    notice = page.locator("#forgot-no-email")
    expect(notice).to_contain_text("does not send email", timeout=15_000)
    expect(notice).to_contain_text("python -m app.manage reset-link")
    expect(page.locator("#forgot-submit")).to_have_count(0)
    shot(page, "email-off-forgot")

    sign_up(page, base, "offline@acme.io", "No Mail Co")
    page.goto(f"{base}/settings")
    page.click("#tab-account", timeout=30_000)
    expect(page.locator("#verify-mail-off")).to_be_visible(timeout=15_000)
    expect(page.locator("#email-unverified")).to_be_visible()
    page.click("#tab-members")
    expect(page.locator("#invite-open")).to_contain_text("Invite by link", timeout=15_000)
