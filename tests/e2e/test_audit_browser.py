"""Settings → Audit in a real browser: events of real actions, filters, CSV download, phone."""

from __future__ import annotations

import csv
import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e


def test_owner_reads_filters_and_exports_the_audit_log(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    # Someone guesses the owner's password first: a failed sign-in, recorded.
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    sign_up(page, base, "auditor@audit.io", "Audit Co")
    guess = browser.new_context().new_page()
    guess.goto(f"{base}/login")
    guess.fill("#email", "auditor@audit.io")
    guess.fill("#password", "not-the-password")
    guess.click("#login-submit")
    expect(guess.locator("#password-error")).to_be_visible(timeout=20_000)
    guess.context.close()

    page.goto(f"{base}/settings")
    name_input = page.locator("#workspace-name-input")
    expect(name_input).to_have_value("Audit Co", timeout=20_000)
    name_input.fill("Audit Company")
    page.click("#workspace-rename")
    expect(page.locator("#workspace-name")).to_have_text("Audit Company", timeout=15_000)

    page.goto(f"{base}/settings?tab=audit")
    rows = page.locator(".audit-row")
    expect(rows.first).to_contain_text("workspace.renamed", timeout=20_000)
    expect(rows.first).to_contain_text("Audit Co → Audit Company")
    table = page.locator("#audit-table")
    expect(table).to_contain_text("auth.sign_in_failed")
    expect(table).to_contain_text("workspace.created")
    expect(page.locator("#audit-page-label")).to_contain_text("of 4")
    assert "not-the-password" not in page.content()

    page.click("#audit-action")
    page.get_by_role("option", name="auth.sign_in_failed").click()
    expect(rows).to_have_count(1, timeout=15_000)
    expect(rows.first).to_contain_text("wrong_password")
    page.click("#audit-action")
    page.get_by_role("option", name="Any action").click()
    expect(rows).to_have_count(4, timeout=15_000)
    page.fill("#audit-actor", "nobody@else.io")
    page.click("#audit-apply")
    expect(page.locator("#audit-page-label")).to_have_text("No events", timeout=15_000)
    page.fill("#audit-actor", "auditor@")
    page.click("#audit-apply")
    expect(rows).to_have_count(4, timeout=15_000)
    shot(page, "dash-settings-audit-light-desktop")

    with page.expect_download() as info:
        page.click("#audit-export")
    path = info.value.path()
    with open(path, encoding="utf-8", newline="") as handle:
        data = list(csv.reader(handle))
    assert data[0][:5] == ["time", "actor_type", "actor", "actor_id", "action"]
    assert {r[4] for r in data[1:]} == {
        "workspace.created",
        "auth.sign_in",
        "auth.sign_in_failed",
        "workspace.renamed",
    }

    for mode in ("dark",):
        page.emulate_media(color_scheme=mode)
        page.reload()
        expect(rows.first).to_be_visible(timeout=20_000)
        shot(page, f"dash-settings-audit-{mode}-desktop")
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    expect(rows.first).to_be_visible(timeout=20_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 380, width
    shot(page, "dash-settings-audit-dark-phone")
    expect(page).to_have_url(re.compile(r"tab=audit"))
    ctx.close()
