"""Two-factor codes in a real browser: enrol with the QR page, then log in with a code."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import PASSWORD, sign_up

pytestmark = pytest.mark.e2e


def test_enrol_then_log_in_with_a_code(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_up(page, base, "totp@two.io", "Two Co")

    page.goto(f"{base}/settings?tab=account")
    page.click("#two-factor-manage")
    expect(page).to_have_url(re.compile(r"/two-factor/?$"), timeout=20_000)
    expect(page.locator("#totp-status")).to_have_text("Off", timeout=20_000)
    page.click("#totp-start")
    expect(page.locator("#totp-qr")).to_be_visible(timeout=15_000)
    src = page.locator("#totp-qr").get_attribute("src") or ""
    assert src.startswith("data:image/svg+xml")  # drawn on the server, no outside service
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    shot(page, "dash-two-factor-enrol-light-desktop")
    page.emulate_media(color_scheme="dark")
    shot(page, "dash-two-factor-enrol-dark-desktop")
    page.emulate_media(color_scheme="light")

    page.fill("#totp-code", "000000")
    page.click("#totp-confirm")
    expect(page.locator("#totp-code-error")).to_contain_text("not right", timeout=15_000)
    now = time.time()
    page.fill("#totp-code", totp.at(now))
    page.click("#totp-confirm")
    codes = page.locator(".recovery-code")
    expect(codes).to_have_count(10, timeout=15_000)
    shot(page, "dash-two-factor-recovery-codes")
    page.click("#codes-saved")
    expect(page).to_have_url(re.compile(r"/settings"), timeout=20_000)
    page.goto(f"{base}/two-factor")
    expect(page.locator("#totp-status")).to_have_text("On", timeout=20_000)
    expect(page.locator(".recovery-code")).to_have_count(0)
    assert secret not in page.content()

    page.click("#user-menu")
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=30_000)

    # Password, then the code step on a phone-sized screen.
    page.set_viewport_size({"width": 375, "height": 800})
    page.fill("#email", "totp@two.io")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#code")).to_be_visible(timeout=15_000)
    shot(page, "login-code-step-light-phone")
    # The enrolment's code is spent: the same code is refused, even in its window.
    page.fill("#code", totp.at(now))
    page.click("#code-submit")
    expect(page.locator("#code-error")).to_contain_text("already used", timeout=15_000)
    page.fill("#code", totp.at(now + 30))  # the next step: within the accepted drift
    page.click("#code-submit")
    expect(page).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)
    expect(page.locator("#workspace-name")).to_have_text("Two Co", timeout=15_000)
    ctx.close()
