"""Widgets page: create → edit (inline errors, live preview messages) → snippets → duplicate →
enable/disable → delete with confirmation; another workspace cannot open the editor."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 780}

# Records what reaches the preview iframe (with the sender's origin) from inside its window.
LISTEN_IN_PREVIEW = """() => {
  const w = document.getElementById('widget-preview').contentWindow;
  window.__ccGot = [];
  w.addEventListener('message', (e) => window.__ccGot.push({data: e.data, origin: e.origin}));
}"""
LAST_PREVIEW = """() => (window.__ccGot || [])
  .filter((m) => m.data && m.data.type === 'chatconnect:preview').map((m) => m)"""


def _preview_listener(page: Page, widget_id: str) -> None:
    """Once the preview shows the real embed page, record what reaches it (and from where)."""
    page.wait_for_function(
        """(id) => { const f = document.getElementById('widget-preview');
          try { return f.contentWindow.location.pathname === '/embed/' + id
                && f.contentDocument.readyState === 'complete'; } catch (e) { return false; } }""",
        arg=widget_id,
        timeout=30_000,
    )
    page.evaluate(LISTEN_IN_PREVIEW)


def _preview_settings(page: Page) -> list[dict]:
    return [m["data"]["settings"] for m in page.evaluate(LAST_PREVIEW)]


def _screens(page: Page, name: str, ready: str) -> None:
    for mode in ("light", "dark"):
        page.emulate_media(color_scheme=mode)
        page.reload()
        expect(page.locator(ready).first).to_be_visible(timeout=20_000)
        page.wait_for_timeout(600)
        width = "phone" if page.viewport_size["width"] < 600 else "desktop"  # type: ignore[index]
        shot(page, f"{name}-{mode}-{width}")


def test_widget_lifecycle(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    ctx = browser.new_context(viewport=DESKTOP)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page = ctx.new_page()
    sign_up(page, base, "owner@widgets.io", "Widget Co")

    # Empty list says what to do next.
    page.goto(f"{base}/widgets")
    expect(page.get_by_text("No widgets yet")).to_be_visible(timeout=20_000)
    shot(page, "dash-widgets-empty")

    # Create: an empty name is refused by the browser, a real one opens the editor.
    page.click("#new-widget")
    page.fill("#new-widget-name", "Help center")
    page.click("#create-widget-submit")
    expect(page).to_have_url(re.compile(r"/widgets/[0-9a-f]{32}/?$"), timeout=20_000)
    widget_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    expect(page.locator("#editor-heading")).to_have_text("Help center", timeout=20_000)
    expect(page.locator('a[aria-current="page"]')).to_have_text("Widgets")

    # The preview is the real embed page, and edits are posted to it from our own origin.
    src = page.get_attribute("#widget-preview", "src")
    assert src == f"/embed/{widget_id}?mode=inline&preview=1"
    _preview_listener(page, widget_id)
    page.fill("#widget-greeting", "Welcome to the help center!")
    page.fill("#widget-color", "#e5484d")
    page.fill("#widget-starters", "How do I pay?\nWhere is my order?")
    page.wait_for_function(
        """() => (window.__ccGot || []).some((m) => m.data.type === 'chatconnect:preview'
             && m.data.settings.primary_color === '#e5484d'
             && m.data.settings.starter_questions.length === 2)""",
        timeout=15_000,
    )
    sent = page.evaluate(LAST_PREVIEW)
    assert {m["origin"] for m in sent} == {base}
    last = sent[-1]["data"]["settings"]
    assert last["greeting"] == "Welcome to the help center!"
    assert last["starter_questions"] == ["How do I pay?", "Where is my order?"]
    assert set(last) == {
        "title",
        "avatar_url",
        "primary_color",
        "theme",
        "position",
        "greeting",
        "starter_questions",
        "placeholder",
    }
    # The embed page applies unsaved settings live ...
    frame = page.frame_locator("#widget-preview")
    expect(frame.get_by_text("Welcome to the help center!")).to_be_visible(timeout=10_000)
    expect(frame.get_by_text("Where is my order?")).to_be_visible()
    # ... and gets them again when it reloads (it says it is ready; the editor re-sends).
    page.evaluate("() => { const f = document.getElementById('widget-preview'); f.src = f.src; }")
    _preview_listener(page, widget_id)
    expect(frame.get_by_text("Welcome to the help center!")).to_be_visible(timeout=20_000)
    expect(frame.get_by_text("Where is my order?")).to_be_visible()

    # Inline validation: a bad color and a bad domain are named before and after Save.
    page.fill("#widget-color", "red")
    expect(page.locator("#primary_color-error")).to_contain_text("hex color", timeout=10_000)
    page.wait_for_function(f"() => ({LAST_PREVIEW})().length > 0", timeout=10_000)
    assert _preview_settings(page)[-1]["primary_color"] != "red"  # never previews bad input
    page.fill("#widget-color", "#e5484d")
    expect(page.locator("#primary_color-error")).to_have_count(0, timeout=10_000)
    page.fill("#widget-domains", "example.com\nnot a domain")
    page.locator("#widget-domains").blur()
    expect(page.locator("#allowed_domains-error")).to_contain_text(
        "not a valid domain", timeout=10_000
    )
    page.click("#save-widget")
    expect(page.get_by_text("Please fix the highlighted field.")).to_be_visible(timeout=10_000)
    expect(page.locator("#allowed_domains-error")).to_contain_text("not a domain")

    page.fill("#widget-domains", "https://Example.com/help\n*.example.com, localhost:8080")
    page.fill("#widget-system-prompt", "Answer in two sentences.")
    page.click("#widget-model")
    page.get_by_role("option", name="gpt-4o-mini", exact=True).click()
    page.click("#widget-citations")
    page.click("#save-widget-bottom")
    expect(page.get_by_text("Widget saved.")).to_be_visible(timeout=10_000)
    expect(page.locator("#allowed_domains-error")).to_have_count(0)
    # Saved values come back normalized after a reload.
    page.reload()
    expect(page.locator("#widget-domains")).to_have_value(
        "example.com\n*.example.com\nlocalhost:8080", timeout=20_000
    )
    expect(page.locator("#widget-greeting")).to_have_value("Welcome to the help center!")
    expect(page.locator("#widget-color")).to_have_value("#e5484d")
    expect(page.locator("#widget-model")).to_contain_text("gpt-4o-mini")
    expect(page.locator("#widget-citations")).to_have_attribute("aria-checked", "false")

    # Snippets: the copy buttons put the server's text (PUBLIC_URL based) on the clipboard.
    script = f'<script src="{base}/embed/widget.js" data-widget-id="{widget_id}" async></script>'
    expect(page.locator("#copy-script-code")).to_have_text(script)
    page.click("#copy-script")
    expect(page.get_by_text("Snippet copied to the clipboard.").first).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == script
    page.click("#copy-iframe")
    page.wait_for_function(
        "(id) => navigator.clipboard.readText().then((t) => t.startsWith("
        "'<iframe src=\"' + location.origin + '/embed/' + id + '?mode=inline\"'))",
        arg=widget_id,
        timeout=10_000,
    )
    _screens(page, "dash-widget-editor", "#widget-greeting")
    page.emulate_media(color_scheme="light")

    # List: duplicate, disable, delete the copy after confirming.
    page.click("#back-to-widgets")
    cards = page.locator(".widget-card")
    expect(cards).to_have_count(1, timeout=20_000)
    expect(cards.first).to_contain_text("example.com")
    cards.first.locator(".widget-duplicate").click()
    expect(cards).to_have_count(2, timeout=10_000)
    copy = cards.filter(has_text="Help center (copy)")
    expect(copy).to_have_count(1)
    expect(copy).to_contain_text("*.example.com")
    copy.locator(".widget-enabled").click()
    expect(copy).to_contain_text("Disabled", timeout=10_000)
    copy.locator(".widget-delete").click()
    dialog = page.get_by_role("alertdialog")
    expect(dialog).to_contain_text("Help center (copy)")
    page.wait_for_timeout(400)  # let the dialog's fade-in finish before the screenshot
    shot(page, "dash-widgets-delete-confirm")
    dialog.get_by_role("button", name="Cancel").click()
    expect(cards).to_have_count(2)
    copy.locator(".widget-delete").click()
    page.click("#confirm-delete-widget")
    expect(cards).to_have_count(1, timeout=10_000)
    expect(page.get_by_text("Help center (copy)")).to_have_count(0)
    _screens(page, "dash-widgets", ".widget-card")

    # Phone width, same session.
    phone_ctx = browser.new_context(viewport=PHONE, storage_state=ctx.storage_state())
    phone = phone_ctx.new_page()
    phone.goto(f"{base}/widgets")
    _screens(phone, "dash-widgets", ".widget-card")
    phone.goto(f"{base}/widgets/{widget_id}")
    _screens(phone, "dash-widget-editor", "#widget-greeting")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # Another workspace: the same id is simply "not found", and its list is empty.
    other_ctx = browser.new_context(viewport=DESKTOP)
    other = other_ctx.new_page()
    sign_up(other, base, "owner@elsewhere.io", "Elsewhere")
    other.goto(f"{base}/widgets/{widget_id}")
    expect(other.get_by_text("Widget not found")).to_be_visible(timeout=20_000)
    other.goto(f"{base}/widgets")
    expect(other.get_by_text("No widgets yet")).to_be_visible(timeout=20_000)
    for c in (ctx, phone_ctx, other_ctx):
        c.close()
