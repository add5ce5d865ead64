"""Knowledge > Catalogues as an owner uses it: test a shop's connection, add it, watch the
first sync, re-sync (nothing embedded), see a removed product leave, set a schedule, delete.
The shop is a local server speaking the Fake Store API shape."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from app.db import make_engine, session_scope
from app.services import accounts, catalogues, widgets
from app.settings import Settings
from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import assert_no_serious_axe_violations, sign_up
from tests.support.fake_shops import FakeShops, catalogue
from tests.support.loopback_server import LoopbackServer

pytestmark = pytest.mark.e2e
SYNC_TIMEOUT_MS = 90_000


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[str, FakeShops]]:
    shops = FakeShops(products=catalogue(12))
    with LoopbackServer(shops.app()) as srv:
        yield srv.url, shops


def _card(page: Page):  # type: ignore[no-untyped-def]
    return page.locator(".catalogue-card").first


def test_catalogue_tab(app_server: AppServer, browser, shop) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_up(page, app_server.base_url, "shop@acme.io", "Acme Shop")
    page.goto(f"{app_server.base_url}/knowledge")
    page.click("#tab-catalogues")
    page.locator("#catalogue-name").fill("Outdoor store")
    page.locator("#catalogue-url").fill(f"{url}/nothing-here")
    page.click("#catalogue-test")
    expect(page.locator("#catalogue-test-result")).to_contain_text("HTTP 404", timeout=15_000)
    page.locator("#catalogue-url").fill(f"{url}/fakestore/products")
    page.click("#catalogue-test")
    expect(page.locator("#catalogue-test-result")).to_contain_text("Connected: 12 products")

    page.click("#catalogue-add")
    card = _card(page)
    expect(card.locator(".catalogue-status")).to_have_text("ready", timeout=SYNC_TIMEOUT_MS)
    expect(card.locator(".catalogue-counts")).to_contain_text("Products12")
    expect(page.locator("#catalogue-name")).to_have_value("")

    # The shop drops a product: a re-sync embeds nothing new and removes it.
    shops.products = catalogue(12)[1:]
    card.locator(".catalogue-sync").click()
    expect(card.locator(".catalogue-counts")).to_contain_text("Products11", timeout=SYNC_TIMEOUT_MS)
    expect(card.locator(".catalogue-counts")).to_contain_text("Embedded last sync0")
    expect(card.locator(".catalogue-counts")).to_contain_text("Removed last sync1")
    card.get_by_role("combobox", name="Re-sync schedule").click()
    page.get_by_role("option", name="Every day").click()
    expect(page.get_by_text("Schedule saved.")).to_be_visible()
    shot(page, "catalogues-desktop")
    assert_no_serious_axe_violations(page, "catalogues", context="main")

    page.set_viewport_size({"width": 375, "height": 800})
    page.emulate_media(color_scheme="dark")
    expect(card).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page scrolls sideways at 375 px ({width})"
    shot(page, "catalogues-phone-dark")

    # A shop that refuses the credentials shows its reason on the card.
    shops.status = 401
    card.locator(".catalogue-sync").click()
    expect(card.locator(".catalogue-error")).to_contain_text(
        "refused the credentials", timeout=SYNC_TIMEOUT_MS
    )
    shops.status = None

    card.locator(".catalogue-delete").click()
    page.click("#catalogue-confirm-delete")
    expect(page.locator(".catalogue-card")).to_have_count(0)
    context.close()


def test_product_cards_in_the_widget(app_server: AppServer, browser, shop) -> None:  # type: ignore[no-untyped-def]
    """A visitor asks for "a backpack under $120": the answer comes with product cards built
    from the synced catalogue (image from the shop, name, price, View link)."""
    url, shops = shop
    shops.products, shops.status = catalogue(30), None
    engine = make_engine(Settings(data_dir=app_server.data_dir).resolved_database_url)
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "cards@outdoor.io", "a-long-password-1", "Outdoor")
        widget = widgets.create_widget(s, tenant.id, "Shop", appearance={"title": "Shop Bot"})
        config = {"url": f"{url}/fakestore/products", "url_template": f"{url}/p/{{id}}"}
        catalogues.create(s, tenant.id, "json", "Shop", config)
        tenant_id, widget_id = tenant.id, widget.id
    deadline = time.monotonic() + SYNC_TIMEOUT_MS / 1000
    while True:  # the server's catalogue worker syncs it
        with session_scope(engine) as s:
            status = catalogues.list_catalogues(s, tenant_id)[0].status
        if status in ("ready", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    engine.dispose()
    assert status == "ready"

    context = browser.new_context(viewport={"width": 420, "height": 860})
    page = context.new_page()
    page.goto(f"{app_server.base_url}/embed/{widget_id}?mode=inline")
    expect(page.locator("#cc-input")).to_be_editable(timeout=60_000)
    page.locator("#cc-input").fill("a backpack under $120")
    page.locator("#cc-input").press("Enter")
    answer = page.locator(".cc-answer").first
    cards = answer.locator(".cc-card")
    expect(cards.first).to_be_visible(timeout=60_000)
    expect(answer.locator(".cc-bubble")).to_contain_text("products that match")
    titles = cards.locator(".cc-card-title").all_inner_texts()
    assert titles and all(t.startswith("Backpack model") for t in titles[:2]), titles
    prices = [
        float(p.strip("$").replace(",", ""))
        for p in cards.locator(".cc-card-price").all_inner_texts()
    ]
    assert all(p <= 120 for p in prices), prices
    first = cards.first
    expect(first.locator("img")).to_have_attribute("src", re.compile(rf"^{re.escape(url)}/img/"))
    assert first.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    view = first.locator(".cc-card-view")
    expect(view).to_have_attribute("href", re.compile(rf"^{re.escape(url)}/"))
    shot(page, "catalogue-product-cards")
    assert_no_serious_axe_violations(page, "product-cards", context=".cc-cards")
    context.close()
