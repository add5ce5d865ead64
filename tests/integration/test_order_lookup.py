"""Order status lookup: each connector's `find_order` against its local protocol server, and
`lookup_order` on SQLite and PostgreSQL (number AND email must match; a mismatch looks like
"not found"; lookups are rate limited per requester)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import Engine

from app.connectors import ConnectorAuthError, ConnectorConfigError
from app.connectors.json_catalogue import JsonCatalogueConnector
from app.connectors.magento import MagentoConnector
from app.connectors.odoo import OdooConnector
from app.db import session_scope
from app.services import accounts, catalogues, orders
from app.services.limits import RateLimitedError, reset_rate_limiter
from tests.support.fake_shops import (
    ITEMS_KEY,
    MAGENTO_TOKEN,
    ODOO_DB,
    ODOO_KEY,
    ODOO_LOGIN,
    ODOO_PASSWORD,
    FakeShops,
)
from tests.support.fake_shops import orders as sample_orders
from tests.support.loopback_server import LoopbackServer


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, FakeShops]]:
    shops = FakeShops()
    with LoopbackServer(shops.app()) as srv:
        yield srv.url, shops


@pytest.fixture
def shop(server: tuple[str, FakeShops]) -> Iterator[tuple[str, FakeShops]]:
    url, shops = server
    shops.orders, shops.status, shops.delay_s = sample_orders(), None, 0.0
    shops.requests.clear()
    yield url, shops


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
        yield client


def json_config(url: str, **extra: object) -> dict[str, object]:
    return {
        "url": f"{url}/fakestore/products",
        "orders_url": f"{url}/api/orders/{{number}}",
        "orders_path": "order",
        "order_mapping": {"item_qty": "qty"},
        "auth_header": "X-Api-Key",
        "auth_value": ITEMS_KEY,
        **extra,
    }


def magento_config(url: str, token: str = MAGENTO_TOKEN) -> dict[str, object]:
    return {"base_url": url, "token": token}


def odoo_config(url: str, **auth: str) -> dict[str, object]:
    return {"base_url": url, "db": ODOO_DB, "login": ODOO_LOGIN, **auth}


# ---- connectors ------------------------------------------------------------------------------


def test_json_find_order_maps_fields_and_404_is_none(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    connector = JsonCatalogueConnector(json_config(url), http)
    assert connector.supports_orders()
    order = connector.find_order("1235")
    assert order is not None
    assert (order.number, order.email, order.status) == ("1235", "other@example.com", "complete")
    assert order.total == Decimal("45.00") and order.currency == "USD"
    assert order.items == ("1 x Cap model 6",) and order.tracking == ("1Z999AA10123456784",)
    assert connector.find_order("9999") is None
    assert shops.requests[-1].startswith("GET /api/orders/9999")
    # A number is a path segment, never a path: "../" cannot walk the shop's API.
    before = len(shops.requests)
    assert connector.find_order("../../fakestore/products") is None
    assert shops.requests[before:] == []  # no route of the shop was reached


def test_json_orders_need_template_on_the_same_host(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, _ = shop
    assert not JsonCatalogueConnector({"url": f"{url}/fakestore/products"}, http).supports_orders()
    with pytest.raises(ConnectorConfigError, match=r"\{number\}"):
        JsonCatalogueConnector(json_config(url, orders_url=f"{url}/api/orders"), http)
    with pytest.raises(ConnectorConfigError, match="host"):
        JsonCatalogueConnector(
            json_config(url, orders_url="https://elsewhere.example/o/{number}"), http
        )


def test_json_orders_auth_failure(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, _ = shop
    with pytest.raises(ConnectorAuthError):
        JsonCatalogueConnector(json_config(url, auth_value="wrong"), http).find_order("1234")


def test_magento_find_order_by_increment_id(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    connector = MagentoConnector(magento_config(url), http)
    order = connector.find_order("1234")
    assert order is not None and order.email == "Me@Example.com"
    assert order.status == "processing" and order.total == Decimal("129.90")
    # Configurable children (parent_item_id set) are not listed twice.
    assert order.items == ("1 x Backpack model 7", "2 x Mug model 5")
    params = httpx.QueryParams(shops.requests[-1].split("?", 1)[1])
    assert params["searchCriteria[filter_groups][0][filters][0][field]"] == "increment_id"
    assert connector.find_order("9999") is None
    with pytest.raises(ConnectorAuthError):
        MagentoConnector(magento_config(url, "bad"), http).find_order("1234")


@pytest.mark.parametrize(
    "auth", [{"password": ODOO_PASSWORD}, {"api_key": ODOO_KEY}], ids=["session", "api-key"]
)
def test_odoo_find_order_by_name(shop, http, auth) -> None:  # type: ignore[no-untyped-def]
    url, _ = shop
    connector = OdooConnector(odoo_config(url, **auth), http)
    order = connector.find_order("S01235")
    assert order is not None
    assert (order.email, order.status, order.currency) == ("other@example.com", "done", "USD")
    assert order.items == ("1 x Cap model 6",)
    assert connector.find_order("S09999") is None
    bad = {k: "wrong" for k in auth}
    with pytest.raises(ConnectorAuthError):
        OdooConnector(odoo_config(url, **bad), http).find_order("S01234")


# ---- the service -----------------------------------------------------------------------------


@pytest.fixture
def tenant(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")  # the shop runs on loopback
    monkeypatch.delenv("REDIS_URL", raising=False)
    reset_rate_limiter()
    with session_scope(engine) as s:
        _, t = accounts.sign_up(s, "o@o.io", "a-long-password", "O")
    yield t.id
    reset_rate_limiter()


def _add_shop(tenant: str, kind: str, config: dict[str, object]) -> None:
    with session_scope() as s:
        catalogues.create(s, tenant, kind, "Shop", config)


@pytest.mark.parametrize("kind", ["json", "magento2", "odoo"])
def test_lookup_needs_number_and_email(tenant, shop, kind) -> None:  # type: ignore[no-untyped-def]
    url, _ = shop
    config, number = {
        "json": (json_config(url), "1234"),
        "magento2": (magento_config(url), "1234"),
        "odoo": (odoo_config(url, password=ODOO_PASSWORD), "S01234"),
    }[kind]
    _add_shop(tenant, kind, config)
    assert orders.order_lookup_available(tenant)
    found = orders.lookup_order(tenant, f"#{number}", " me@EXAMPLE.com ", requester="c1")
    assert found is not None and found.number == number
    assert found.items[0] == "1 x Backpack model 7"
    assert "1 x Backpack model 7" in found.summary() and number in found.summary()
    # The other customer's email on this order, an unknown number: both just None.
    assert orders.lookup_order(tenant, number, "other@example.com", requester="c2") is None
    assert orders.lookup_order(tenant, "S0" + "9999", "me@example.com", requester="c2") is None
    assert orders.lookup_order(tenant, number, "not-an-email", requester="c2") is None


def test_lookup_rate_limited_per_requester(tenant, shop) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    _add_shop(tenant, "json", json_config(url))
    for n in range(5):
        assert orders.lookup_order(tenant, str(2000 + n), "me@example.com", requester="v1") is None
    with pytest.raises(RateLimitedError):
        orders.lookup_order(tenant, "1234", "me@example.com", requester="v1")
    # The limit is per requester: another conversation still gets its answer.
    assert orders.lookup_order(tenant, "1234", "me@example.com", requester="v2") is not None
    assert sum("/api/orders/" in r for r in shops.requests) == 6  # the refused one asked nobody


def test_lookup_unavailable_without_order_capable_shop_or_on_failure(tenant, shop) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    with pytest.raises(orders.OrderLookupUnavailable, match="not set up"):
        orders.lookup_order(tenant, "1234", "me@example.com", requester="c")
    _add_shop(tenant, "json", {"url": f"{url}/fakestore/products"})  # no orders_url
    assert not orders.order_lookup_available(tenant)
    with pytest.raises(orders.OrderLookupUnavailable):
        orders.lookup_order(tenant, "1234", "me@example.com", requester="c")
    _add_shop(tenant, "magento2", magento_config(url, "bad-token"))
    with pytest.raises(orders.OrderLookupUnavailable, match="can't reach"):
        orders.lookup_order(tenant, "1234", "me@example.com", requester="c")
    shops.status = 503
    with pytest.raises(orders.OrderLookupUnavailable):
        orders.lookup_order(tenant, "1234", "me@example.com", requester="c")


def test_lookup_is_tenant_scoped(tenant, shop, engine) -> None:  # type: ignore[no-untyped-def]
    url, _ = shop
    _add_shop(tenant, "json", json_config(url))
    with session_scope(engine) as s:
        _, other = accounts.sign_up(s, "x@x.io", "a-long-password", "X")
    with pytest.raises(orders.OrderLookupUnavailable):
        orders.lookup_order(other.id, "1234", "me@example.com", requester="c")


def test_email_comparison() -> None:
    assert orders.emails_match("me@example.com", "ME@Example.COM ")
    assert not orders.emails_match("me@example.com", "")
    assert not orders.emails_match("me@example.co", "me@example.com")
    assert orders.clean_number("#A-100/2") == "A-100/2"
    assert orders.clean_number("1; drop") is None


def test_dashboard_form_carries_the_order_settings() -> None:
    config = catalogues.form_config(
        "json",
        {"url": "https://shop.example/products", "orders_url": "https://shop.example/o/{number}",
         "orders_path": "order"},
    )  # fmt: skip
    assert config["orders_url"] == "https://shop.example/o/{number}"
    assert config["orders_path"] == "order"
