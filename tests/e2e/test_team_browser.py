"""API keys and settings, as an owner and as an invited member, in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import PASSWORD, sign_up
from tests.support.fake_llm import FakeLLM, Script

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "an-even-longer-password-2"


def _screens(page: Page, name: str, ready: str) -> None:
    """Light and dark screenshots at the current viewport."""
    width = page.viewport_size["width"] if page.viewport_size else 1280
    size = "phone" if width < 600 else "desktop"
    for mode in ("light", "dark"):
        page.emulate_media(color_scheme=mode)
        page.reload()
        expect(page.locator(ready).first).to_be_visible(timeout=20_000)
        page.wait_for_timeout(400)
        shot(page, f"dash-{name}-{mode}-{size}")
    page.emulate_media(color_scheme="light")


def test_api_keys_and_settings_flow(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    owner_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    owner_ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = owner_ctx.new_page()
    sign_up(page, base, "boss@team.io", "Team Co")

    # ---- API keys: create -> secret once -> copy -> listed by prefix -> revoke ----------
    page.goto(f"{base}/api-keys")
    expect(page.get_by_text("No API keys yet")).to_be_visible(timeout=20_000)
    page.click("#key-create")
    page.click("#key-create-submit")  # no name: inline error
    expect(page.locator("#key-name-error")).to_contain_text("name", timeout=10_000)
    shot(page, "dash-api-keys-create-dialog")  # the shared form dialog, with an inline error
    page.fill("#key-name", "Backend")
    page.click("#scope-documents")
    page.click("#key-create-submit")
    secret_el = page.locator("#key-secret")
    expect(secret_el).to_contain_text("_", timeout=15_000)
    secret = secret_el.inner_text().strip()
    assert len(secret) > 30
    shot(page, "dash-api-keys-secret-dialog")
    page.click("#key-secret-copy")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    page.click("#key-secret-done")
    expect(page.locator("#key-secret")).to_have_count(0)
    row = page.locator(".key-row").first
    expect(row.locator(".key-prefix")).to_have_text(re.compile(r"^sk_\w+"))
    prefix = row.locator(".key-prefix").inner_text().strip()
    assert secret.startswith(prefix + "_") and len(prefix) < len(secret) // 2
    expect(row).to_contain_text("chat, documents")
    assert secret not in page.content()  # shown once: gone from the page
    page.reload()
    expect(page.locator(".key-row")).to_have_count(1, timeout=20_000)
    assert secret not in page.content()
    _screens(page, "api-keys", ".key-row")

    page.locator(".key-revoke").first.click()
    page.click("#key-revoke-confirm")
    expect(page.locator(".key-row").first).to_contain_text("Revoked", timeout=15_000)

    # ---- settings: rename, plan --------------------------------------------------------
    page.goto(f"{base}/settings")
    name_input = page.locator("#workspace-name-input")
    expect(name_input).to_have_value("Team Co", timeout=20_000)
    name_input.fill("")
    page.click("#workspace-rename")
    expect(page.locator("#workspace-name-error")).to_be_visible(timeout=10_000)
    name_input.fill("Team Company")
    page.click("#workspace-rename")
    expect(page.locator("#workspace-name")).to_have_text("Team Company", timeout=15_000)
    expect(page.locator("#token-usage")).to_contain_text("of 1,000,000 tokens")
    _screens(page, "settings", "#workspace-name-input")

    # ---- providers: set a credential (masked), test against the fake LLM ---------------
    with FakeLLM(script=Script(text="OK")) as llm:
        page.click("#tab-providers")
        page.fill("#cred-compat_base_url", llm.openai_url)
        page.fill("#cred-compat_key", "local-secret-4321")
        page.click("#cred-save-openai_compatible")
        status = page.locator("#cred-status-openai_compatible")
        expect(status).to_contain_text("4321", timeout=15_000)
        assert "local-secret" not in page.content()
        expect(page.locator("#cred-compat_key")).to_have_value("")
        # The default model is picked from the models the server lists.
        expect(page.locator("#models-empty")).to_have_count(0, timeout=15_000)
        page.click("#default-model")
        page.get_by_role("option", name="llama3.2 · OpenAI-compatible (Ollama, vLLM)").click()
        page.click("#default-model-save")
        expect(page.get_by_text("Default model saved.")).to_be_visible(timeout=15_000)
        page.click("#cred-test-openai_compatible")
        result = page.locator("#cred-test-result-openai_compatible")
        expect(result).to_contain_text("Connected", timeout=30_000)
        assert llm.requests and llm.requests[-1].headers["authorization"].endswith("4321")
        assert llm.requests[-1].body["model"] == "llama3.2"
        shot(page, "dash-settings-providers-light-desktop")

    # ---- members: invite link -> second browser signs up -> member is read-only --------
    page.click("#tab-members")
    page.click("#invite-open")
    page.click("#invite-submit")
    link_el = page.locator("#invite-link")
    expect(link_el).to_contain_text("/invite/", timeout=15_000)
    link = link_el.inner_text().strip()
    page.click("#invite-link-copy")
    assert page.evaluate("navigator.clipboard.readText()") == link
    page.click("#invite-link-done")
    expect(page.locator("#invites-table")).to_contain_text("member")
    shot(page, "dash-settings-members-light-desktop")

    member_ctx = browser.new_context(viewport={"width": 375, "height": 800})
    member = member_ctx.new_page()
    member.goto(link)
    expect(member.locator("#invite-workspace")).to_have_text("Team Company", timeout=20_000)
    shot(member, "dash-invite-light-phone")
    member.fill("#email", "mia@team.io")
    member.fill("#password", PASSWORD)
    member.click("#invite-submit")
    expect(member).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)
    member.goto(f"{base}/api-keys")
    expect(member.locator("#keys-read-only")).to_be_visible(timeout=20_000)
    expect(member.locator("#key-create")).to_have_count(0)
    expect(member.locator(".key-revoke")).to_have_count(0)
    _screens(member, "api-keys", "#keys-read-only")
    member.goto(f"{base}/settings")
    expect(member.locator("#workspace-name-input")).to_be_disabled(timeout=20_000)
    _screens(member, "settings", "#workspace-name-input")
    # The link works once.
    again = member_ctx.new_page()
    again.goto(link)
    expect(again.locator("#invite-problem")).to_contain_text("already", timeout=20_000)

    # Straight to the tab: after a reload, the page shows the last (stale) state at once, and
    # a click on a tab can land before its on_mount load, which then selects the URL's tab.
    page.goto(f"{base}/settings?tab=members")
    expect(page.locator(".member-row")).to_have_count(2, timeout=20_000)
    expect(page.locator("#members-table")).to_contain_text("mia@team.io")

    # ---- account: change password, delete workspace with typed confirmation -----------
    page.click("#tab-account")
    page.fill("#current_password", "wrong-password-0")
    page.fill("#new_password", NEW_PASSWORD)
    page.fill("#confirm_password", NEW_PASSWORD)
    page.click("#password-submit")
    expect(page.locator("#current_password-error")).to_contain_text("not correct", timeout=15_000)
    page.fill("#current_password", PASSWORD)
    page.click("#password-submit")
    expect(page.get_by_text("Password changed.")).to_be_visible(timeout=15_000)
    shot(page, "dash-settings-account-light-desktop")

    page.click("#workspace-delete-open")
    page.fill("#workspace-delete-confirm", "Team")
    page.click("#workspace-delete-submit")
    expect(page.locator("#workspace-delete-error")).to_contain_text("exactly", timeout=15_000)
    page.fill("#workspace-delete-confirm", "Team Company")
    page.click("#workspace-delete-submit")
    expect(page).to_have_url(re.compile(r"/login/?$"), timeout=30_000)
    # Everything is gone: the member's session and the owner's account with it.
    member.goto(f"{base}/overview")
    expect(member).to_have_url(re.compile(r"/login/?$"), timeout=30_000)
    page.fill("#email", "boss@team.io")
    page.fill("#password", NEW_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#password-error")).to_contain_text("Wrong email or password")
    owner_ctx.close()
    member_ctx.close()


def test_phone_screens_for_owner(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    ctx = browser.new_context(viewport={"width": 375, "height": 800})
    page = ctx.new_page()
    sign_up(page, base, "phone@team.io", "Phone Co")
    page.goto(f"{base}/api-keys")
    expect(page.get_by_text("No API keys yet")).to_be_visible(timeout=20_000)
    page.click("#key-create")
    page.fill("#key-name", "Mobile")
    page.click("#key-create-submit")
    page.click("#key-secret-done", timeout=15_000)
    expect(page.locator(".key-row")).to_have_count(1, timeout=15_000)
    _screens(page, "api-keys-owner", ".key-row")
    page.goto(f"{base}/settings")
    expect(page.locator("#workspace-name-input")).to_have_value("Phone Co", timeout=20_000)
    _screens(page, "settings-owner", "#workspace-name-input")
    ctx.close()
