"""Actions as a visitor and an owner meet them: the model (the OpenAI protocol server)
calls search_products for "a backpack under $120" -> product cards; the visitor presses
Add to cart -> a confirm card -> Confirm -> the shop's cart endpoint received the call;
the owner's transcript shows the tool call, and the widget editor's Actions card lists the
built-ins switched on."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from app import db as app_db
from app.db import session_scope
from app.models import Conversation, Membership, User
from app.services import actions, catalogues, credentials, widgets
from app.settings import reset_settings_cache
from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import assert_no_serious_axe_violations, sign_up
from tests.support.fake_llm import FakeLLM, Script
from tests.support.fake_shops import FakeShops, catalogue
from tests.support.loopback_server import LoopbackServer

pytestmark = pytest.mark.e2e
SYNC_TIMEOUT_S = 90


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[str, FakeShops]]:
    shops = FakeShops(products=catalogue(30))
    with LoopbackServer(shops.app()) as srv:
        yield srv.url, shops


@pytest.fixture(scope="module")
def server_db(app_server: AppServer) -> Iterator[None]:
    """Write to the server's own database with the server's SECRET_KEY (encrypted secrets)."""
    old = os.environ.get("SECRET_KEY")
    os.environ["SECRET_KEY"] = app_server.secret_key
    reset_settings_cache()
    engine = app_db.make_engine(f"sqlite:///{app_server.data_dir / 'chatconnect.db'}")
    app_db.set_engine(engine)
    yield
    app_db.set_engine(None)
    engine.dispose()
    if old is not None:
        os.environ["SECRET_KEY"] = old
    reset_settings_cache()


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def test_add_to_cart_through_a_confirmed_action(  # type: ignore[no-untyped-def]
    app_server: AppServer, browser, shop, server_db, llm
) -> None:
    url, shops = shop
    owner = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = owner.new_page()
    sign_up(admin, app_server.base_url, "cart@outdoor.io", "Outdoor")
    with session_scope() as s:
        user = s.exec(select(User).where(User.email == "cart@outdoor.io")).one()
        tenant_id = s.exec(select(Membership).where(Membership.user_id == user.id)).one()
        tenant_id = tenant_id.tenant_id
        widget = widgets.create_widget(s, tenant_id, "Shop", appearance={"title": "Shop Bot"})
        widget.model = "gpt-4o-mini"
        s.add(widget)
        credentials.set_credentials(
            s,
            widget_tenant(s, tenant_id),
            {"openai_key": "sk-test-key-123456", "openai_base_url": llm.openai_url},
        )
        config = {
            "url": f"{url}/fakestore/products",
            "url_template": f"{url}/p/{{id}}",
            "cart_url": f"{url}/fakestore/carts",
        }
        catalogues.create(s, tenant_id, "json", "Shop", config)
        for name in ("search_products", "add_to_cart"):
            actions.set_builtin(s, tenant_id, "owner", widget.id, name, True)
        widget_id = widget.id
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    status = ""
    while time.monotonic() < deadline:  # the server's catalogue worker syncs it
        with session_scope() as s:
            status = catalogues.list_catalogues(s, tenant_id)[0].status
        if status in ("ready", "failed"):
            break
        time.sleep(0.5)
    assert status == "ready"

    search = {"name": "search_products", "arguments": {"query": "backpack", "max_price": 120}}
    llm.queue = [Script(tool_calls=[search])]
    llm.script = Script(text="Here are backpacks under $120. Press Add to cart on one.")

    visitor = browser.new_context(viewport={"width": 420, "height": 860})
    page = visitor.new_page()
    page.goto(f"{app_server.base_url}/embed/{widget_id}?mode=inline")
    expect(page.locator("#cc-input")).to_be_editable(timeout=60_000)
    page.locator("#cc-input").fill("a backpack under $120")
    page.locator("#cc-input").press("Enter")
    answer = page.locator(".cc-answer").first
    cards = answer.locator(".cc-card")
    expect(cards.first).to_be_visible(timeout=60_000)
    expect(answer.locator(".cc-bubble")).to_contain_text("backpacks under $120")
    assert cards.first.locator(".cc-card-title").inner_text().startswith("Backpack model")
    assert llm.count == 2  # the tool round, then the answer

    cards.first.locator(".cc-card-cart").click()
    confirm = page.locator(".cc-confirm").last
    expect(confirm).to_contain_text("Add 1 x Backpack model", timeout=15_000)
    assert shops.carts == []  # nothing runs before the visitor confirms
    shot(page, "actions-confirm-card")
    assert_no_serious_axe_violations(page, "actions-confirm", context=".cc-confirm")
    # A reload keeps the cards (stored on the message) and the open confirmation.
    page.reload()
    expect(page.locator(".cc-answer .cc-card").first).to_be_visible(timeout=60_000)
    confirm = page.locator(".cc-confirm").last
    expect(confirm).to_contain_text("Add 1 x Backpack model", timeout=15_000)
    confirm.locator(".cc-confirm-yes").click()
    expect(confirm.locator(".cc-confirm-result")).to_contain_text("Done", timeout=30_000)
    assert len(shops.carts) == 1
    (item,) = shops.carts[0]["body"]["products"]
    assert item["quantity"] == 1
    shot(page, "actions-confirmed")

    with session_scope() as s:
        conversation = s.exec(select(Conversation).where(Conversation.tenant_id == tenant_id)).one()
        conversation_id = conversation.id
    admin.goto(f"{app_server.base_url}/conversations/{conversation_id}")
    calls = admin.locator(".tool-call")
    expect(calls.first).to_contain_text("search_products", timeout=30_000)
    expect(calls.first).to_contain_text("ok")
    expect(admin.locator(".tool-call").filter(has_text="add_to_cart")).to_contain_text(
        "confirmed by visitor"
    )
    shot(admin, "actions-transcript")
    assert_no_serious_axe_violations(admin, "actions-transcript", context="main")

    admin.goto(f"{app_server.base_url}/widgets/{widget_id}")
    card = admin.locator("#widget-actions")
    expect(card).to_contain_text("search_products", timeout=30_000)
    expect(admin.locator("#builtin-add_to_cart")).to_have_attribute("data-state", "checked")
    card.scroll_into_view_if_needed()
    shot(admin, "actions-editor")

    # The owner adds an HTTP action: a bad schema is explained, then it is saved with a
    # secret header that the page never shows again.
    admin.click("#add-action")
    admin.locator("#action-name").fill("order_status")
    admin.locator("#action-description").fill("Where an order is, by its number.")
    admin.locator("#action-parameters").fill('{"type": "object", "properties": {"order_id": ')
    admin.locator("#action-url").fill(url + "/hooks/orders/{order_id}")
    admin.locator("#action-headers").fill("Authorization: Bearer hook-secret-77")
    admin.click("#action-save")
    expect(admin.locator("#action-error-parameters")).to_contain_text("Not valid JSON")
    admin.locator("#action-parameters").fill(
        '{"type": "object", "properties": {"order_id": {"type": "string"}}, '
        '"required": ["order_id"]}'
    )
    admin.click("#action-save")
    row = admin.locator(".widget-action").filter(has_text="order_status")
    expect(row).to_contain_text("Authorization (values hidden)", timeout=15_000)
    assert "hook-secret-77" not in admin.content()
    shot(admin, "actions-editor-http")
    assert_no_serious_axe_violations(admin, "actions-editor", context="#widget-actions")

    # The visitor asks; the model calls it; the shop's hook gets the request with the secret.
    llm.queue = [Script(tool_calls=[{"name": "order_status", "arguments": {"order_id": "1234"}}])]
    llm.script = Script(text="Order 1234 has shipped and arrives in 2 days.")
    shops.hook_calls = []
    page.locator("#cc-input").fill("where is my order 1234?")
    page.locator("#cc-input").press("Enter")
    expect(page.locator(".cc-answer").last).to_contain_text("arrives in 2 days", timeout=60_000)
    (hook,) = shops.hook_calls
    assert hook["raw_path"] == "/hooks/orders/1234"
    assert hook["headers"]["authorization"] == "Bearer hook-secret-77"
    visitor.close()
    owner.close()


def widget_tenant(session, tenant_id: str):  # type: ignore[no-untyped-def]
    from app.models import Tenant

    return session.get(Tenant, tenant_id)
