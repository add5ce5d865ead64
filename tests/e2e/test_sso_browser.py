"""Workspace SSO in a real browser: the owner sets it up (provider, domain, TXT check),
then a colleague signs in with "Sign in with SSO" and lands in that workspace."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import sign_up
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider

pytestmark = pytest.mark.e2e


def test_owner_sets_up_sso_and_a_colleague_signs_in(  # type: ignore[no-untyped-def]
    app_server: AppServer, oidc_provider: Provider, dns_records: Path, browser
) -> None:
    base = app_server.base_url
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_up(page, base, "owner@sso-e2e.io", "SSO Co")
    page.goto(f"{base}/settings")
    page.fill("#sso-issuer", oidc_provider.base_url)
    page.fill("#sso-client-id", CLIENT_ID)
    page.fill("#sso-client-secret", CLIENT_SECRET)
    page.get_by_text("SSO on for verified domains").click()
    page.get_by_text("Add new people on first sign-in").click()
    page.click("#sso-save")
    expect(page.locator("#sso-client-secret")).to_have_value("", timeout=15_000)
    expect(page.locator("#sso-client-secret")).to_have_attribute(
        "placeholder", re.compile("Saved"), timeout=15_000
    )
    page.fill("#sso-domain", "sso-e2e.io")
    page.click("#sso-add-domain")
    row = page.locator(".sso-domain")
    expect(row).to_contain_text("Not verified", timeout=15_000)
    codes = row.locator("code")
    name, value = codes.nth(0).inner_text(), codes.nth(1).inner_text()
    assert name == "_chatconnect.sso-e2e.io" and value.startswith("chatconnect-verify=")
    dns_records.write_text(json.dumps({name: [value]}))
    row.get_by_role("button", name="Verify").click()
    expect(row).to_contain_text("Verified", timeout=15_000)
    assert CLIENT_SECRET not in page.content()
    shot(page, "dash-settings-sso-light-desktop")

    oidc_provider.default_claims = {"sub": "dev-1", "email": "dev@sso-e2e.io", "name": "Dev"}
    colleague = browser.new_context(viewport={"width": 375, "height": 800}).new_page()
    colleague.goto(f"{base}/login")
    colleague.click("#sso-open")
    # The SSO step replaces the password form (both have #email): fill the new one, not the
    # old one a busy server has not swapped out yet.
    expect(colleague.locator("#sso-submit")).to_be_visible(timeout=15_000)
    colleague.fill("#email", "dev@sso-e2e.io")
    shot(colleague, "login-sso-light-phone")
    colleague.click("#sso-submit")
    expect(colleague).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)
    expect(colleague.locator("#workspace-name")).to_have_text("SSO Co", timeout=15_000)
    colleague.context.close()
    ctx.close()
