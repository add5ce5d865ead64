"""Social sign-in in a real browser: "Continue with Google" against the local provider,
then the dashboard, signed in with the same HttpOnly session cookie as a password login."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, shot
from tests.support.oidc_provider import Provider

pytestmark = pytest.mark.e2e


def test_continue_with_google_creates_the_workspace_and_signs_in(  # type: ignore[no-untyped-def]
    app_server: AppServer, oidc_provider: Provider, browser
) -> None:
    base = app_server.base_url
    oidc_provider.default_claims = {
        "sub": "e2e-social-1",
        "email": "social@e2e.io",
        "name": "Sam Social",
    }
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    page = ctx.new_page()
    page.goto(f"{base}/login")
    button = page.locator("#social-google")
    expect(button).to_have_text("Continue with Google", timeout=20_000)
    shot(page, "login-social-light-phone")
    button.click()
    expect(page).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)
    expect(page.locator("#workspace-name")).to_have_text("Sam Social's workspace", timeout=15_000)
    cookie = next(c for c in ctx.cookies() if c["name"] == "cc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert not any(c["name"] == "cc_oauth" for c in ctx.cookies())  # used up
    # The account's only sign-in method is listed and cannot be removed.
    page.goto(f"{base}/settings?tab=account")
    method = page.locator(".sign-in-method")
    expect(method).to_have_count(1, timeout=20_000)
    expect(method).to_contain_text("Google")
    expect(method.get_by_role("button", name="Remove Google")).to_be_disabled()

    # A refused sign-in lands on the login page with its reason.
    oidc_provider.default_claims = {"sub": "e2e-social-2", "email": "x@e2e.io", "aud": "other"}
    fresh = browser.new_context().new_page()
    fresh.goto(f"{base}/login")
    fresh.locator("#social-google").click()
    expect(fresh).to_have_url(re.compile(r"/login/?\?error=wrong_audience"), timeout=30_000)
    expect(fresh.locator("#login-form-error")).to_contain_text("did not work", timeout=15_000)
    fresh.context.close()
    ctx.close()
