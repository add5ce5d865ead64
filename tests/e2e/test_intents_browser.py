"""Intent mode in the browser: a visitor asks where order 1234 is, is asked for the email,
gives a wrong one (nothing shown), then the right one (status shown); the owner tests a
phrase on the Intents page, edits a reply and sees the widget's mode in its editor."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from app.db import make_engine, session_scope
from app.models import Tenant
from app.services import catalogues, widgets
from app.settings import Settings, reset_settings_cache
from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import assert_no_serious_axe_violations, sign_up
from tests.support.fake_shops import ITEMS_KEY, FakeShops
from tests.support.loopback_server import LoopbackServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with LoopbackServer(FakeShops().app()) as srv:
        yield srv.url


def _ask(page: Page, text: str, n: int):  # type: ignore[no-untyped-def]
    page.locator("#cc-input").fill(text)
    page.locator("#cc-input").press("Enter")
    answer = page.locator(".cc-answer").nth(n)
    expect(answer).to_be_visible(timeout=60_000)
    return answer


def test_order_status_dialogue_and_intents_editor(
    app_server: AppServer, browser, shop, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    # The shop's key is encrypted here with the server's SECRET_KEY, as the server would.
    monkeypatch.setenv("SECRET_KEY", app_server.secret_key)
    reset_settings_cache()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_up(page, app_server.base_url, "owner@intent-shop.io", "Intent Shop")
    engine = make_engine(Settings(data_dir=app_server.data_dir).resolved_database_url)
    with session_scope(engine) as s:
        tenant = s.exec(select(Tenant).where(Tenant.name == "Intent Shop")).one()
        widget = widgets.create_widget(
            s, tenant.id, "Orders", mode="intent", appearance={"title": "Shop Bot"},
            unknown_answer="I can help with orders, products and opening hours.",
        )  # fmt: skip
        catalogues.create(
            s, tenant.id, "json", "Shop",
            {"url": f"{shop}/fakestore/products", "orders_url": f"{shop}/api/orders/{{number}}",
             "orders_path": "order", "auth_header": "X-Api-Key", "auth_value": ITEMS_KEY},
        )  # fmt: skip
        widget_id = widget.id
    engine.dispose()

    # ---- the visitor -------------------------------------------------------------------------
    visitor = context.new_page()
    visitor.set_viewport_size({"width": 420, "height": 860})
    visitor.goto(f"{app_server.base_url}/embed/{widget_id}?mode=inline")
    expect(visitor.locator("#cc-input")).to_be_editable(timeout=60_000)
    asked = _ask(visitor, "where is my order 1234?", 0)
    expect(asked).to_contain_text("What is the email address you used for order 1234?")
    wrong = _ask(visitor, "other@example.com", 1)
    expect(wrong).to_contain_text("couldn't find order 1234")
    expect(wrong).not_to_contain_text("Backpack")
    right = _ask(visitor, "me@example.com", 2)
    expect(right).to_contain_text("Order 1234 is being prepared")
    expect(right).to_contain_text("1 x Backpack model 7")
    shot(visitor, "intents-order-dialogue")
    assert_no_serious_axe_violations(visitor, "intents-widget")

    # ---- the owner ---------------------------------------------------------------------------
    page.goto(f"{app_server.base_url}/intents")
    expect(page.locator("#intent-greeting")).to_be_visible(timeout=30_000)
    page.locator("#intent-test-phrase").fill("hey, wheres my parcel??")
    page.click("#intent-test-button")
    expect(page.locator("#intent-test-result")).to_have_text("order_status", timeout=60_000)
    expect(page.locator("#intent-test-runner-up")).to_contain_text(re.compile(r"\w+ \(\d\.\d\d\)"))
    page.click("#intent-greeting")
    expect(page.locator("#intent-editing")).to_have_text("greeting")
    page.locator("#intent-reply").fill("Welcome to Intent Shop!")
    page.click("#intent-save")
    expect(page.get_by_text("Saved “greeting”.")).to_be_visible()
    shot(page, "intents-editor")
    assert_no_serious_axe_violations(page, "intents-editor", context="main")
    hello = _ask(visitor, "hello", 3)
    expect(hello).to_contain_text("Welcome to Intent Shop!")

    # The owner adds an intent of their own; the widget answers with it at once.
    page.locator("#intent-new-name").fill("returns policy")
    page.locator("#intent-new-example").fill("how do I return an item")
    page.locator("#intent-new-reply").fill("Returns are free for 30 days.")
    page.click("#intent-add")
    expect(page.locator("#intent-returns_policy")).to_be_visible()
    expect(page.locator("#intent-editing")).to_have_text("returns_policy")
    returns = _ask(visitor, "how can I return an item?", 4)
    expect(returns).to_contain_text("Returns are free for 30 days.")
    page.click("#intent-delete")
    expect(page.locator("#intent-returns_policy")).to_have_count(0)

    page.goto(f"{app_server.base_url}/widgets/{widget_id}")
    expect(page.locator("#widget-mode")).to_contain_text("Intents only (no AI)", timeout=30_000)
    context.close()
