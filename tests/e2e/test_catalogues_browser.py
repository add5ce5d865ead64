"""Knowledge > Catalogues as an owner uses it: test a shop's connection, add it, watch the
first sync, re-sync (nothing embedded), see a removed product leave, set a schedule, delete.
The shop is a local server speaking the Fake Store API shape."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import sign_up
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
