"""Catalogue connectors against local servers speaking each API's documented shapes."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from app.connectors import (
    CONNECTORS,
    ConnectorAuthError,
    ConnectorConfigError,
    ConnectorResponseError,
    ConnectorUnavailable,
    connector_class,
)
from app.connectors.json_catalogue import JsonCatalogueConnector
from app.connectors.magento import MagentoConnector
from app.connectors.odoo import OdooConnector
from tests.support.fake_shops import (
    ITEMS_KEY,
    MAGENTO_TOKEN,
    ODOO_DB,
    ODOO_KEY,
    ODOO_LOGIN,
    ODOO_PASSWORD,
    FakeShops,
    catalogue,
)
from tests.support.loopback_server import LoopbackServer

MALFORMED = [
    {"id": 99, "title": "", "price": 1},
    {"title": "No id", "price": 3},
    {"id": 100, "title": "Bad price", "price": "abc"},
    {"id": 101, "title": "Negative", "price": -1},
    {"id": 102, "title": "Not a number", "price": "NaN"},
]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[LoopbackServer, FakeShops]]:
    shops = FakeShops()
    with LoopbackServer(shops.app()) as srv:
        yield srv, shops


@pytest.fixture
def shop(server: tuple[LoopbackServer, FakeShops]) -> Iterator[tuple[str, FakeShops]]:
    srv, shops = server
    shops.products, shops.malformed = catalogue(30), []
    shops.delay_s, shops.status = 0.0, None
    shops.requests.clear()
    yield srv.url, shops


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=httpx.Timeout(5.0)) as client:
        yield client


def test_registry_names_each_connector() -> None:
    assert set(CONNECTORS) == {"json", "magento2", "odoo"}
    assert connector_class("odoo") is OdooConnector
    with pytest.raises(ConnectorConfigError, match="unknown catalogue type"):
        connector_class("shopify")
    assert MagentoConnector.secret_fields == ("token",)
    assert set(OdooConnector.secret_fields) == {"password", "api_key"}


# ---- generic JSON ---------------------------------------------------------------------------


def test_fake_store_shape_by_default(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    shops.malformed = MALFORMED
    result = JsonCatalogueConnector(
        {"url": f"{url}/fakestore/products", "url_template": "https://shop.test/p/{id}"}, http
    ).fetch()
    assert len(result.products) == 30
    first = result.products[0]
    assert first.external_id == "1" and first.title == "Water bottle model 1"
    assert first.price == Decimal("33.95") and first.currency == "USD"
    assert first.description == "The water bottle number 1."  # HTML reduced to text
    assert first.category == "outdoor"
    assert first.image_url == f"{url}/img/1.jpg"
    assert first.product_url == "https://shop.test/p/1"
    reasons = {s.external_id: s.reason for s in result.skipped}
    assert reasons == dict(
        [
            ("99", "no title"),
            (None, "no id"),
            ("100", "price 'abc' is not a number"),
            ("101", "price must be a non-negative number"),
            ("102", "price must be a non-negative number"),
        ]
    )
    assert len(shops.requests) == 1


def test_mapped_paged_api_with_a_key(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    config = {
        "url": f"{url}/api/items",
        "items_path": "data.products",
        "mapping": {
            "id": "sku",
            "title": "name",
            "price": "pricing.amount",
            "image": "media.0.src",
            "in_stock": "stock.available",
            "description": "",
            "category": "",
        },
        "paging": "page",
        "page_size": 7,
        "auth_header": "X-Api-Key",
        "auth_value": ITEMS_KEY,
        "currency": "eur",
    }
    result = JsonCatalogueConnector(config, http).fetch()
    assert [p.external_id for p in result.products] == [f"SKU-{i}" for i in range(1, 31)]
    assert len(shops.requests) == 5  # 7+7+7+7+2
    p3 = result.products[2]
    assert p3.currency == "EUR" and p3.price == Decimal("59.95")
    assert p3.in_stock is True and result.products[4].in_stock is False  # qty 4 / qty 0
    assert p3.image_url == f"{url}/m/3.png"
    with pytest.raises(ConnectorAuthError, match="HTTP 401"):
        JsonCatalogueConnector({**config, "auth_value": "wrong"}, http).fetch()


def test_an_api_that_ignores_paging_is_read_once(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    result = JsonCatalogueConnector(
        {"url": f"{url}/fakestore/products", "paging": "offset", "page_size": 10}, http
    ).fetch()
    assert len(result.products) == 30
    assert len(shops.requests) == 2  # the second page repeated the first: stop


def test_truncates_at_the_product_cap(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, _ = shop
    result = JsonCatalogueConnector({"url": f"{url}/fakestore/products"}, http).fetch(
        max_products=12
    )
    assert len(result.products) == 12 and result.truncated


def test_timeouts_and_server_errors_are_retryable(shop) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    shops.delay_s = 1.0
    with httpx.Client(timeout=0.2) as quick, pytest.raises(ConnectorUnavailable, match="in time"):
        JsonCatalogueConnector({"url": f"{url}/fakestore/products"}, quick).fetch()
    shops.delay_s, shops.status = 0.0, 503
    with httpx.Client(timeout=5) as client, pytest.raises(ConnectorUnavailable, match="503"):
        JsonCatalogueConnector({"url": f"{url}/fakestore/products"}, client).fetch()
    with httpx.Client(timeout=2) as client, pytest.raises(ConnectorUnavailable, match="reach"):
        JsonCatalogueConnector({"url": "http://127.0.0.1:9/products"}, client).fetch()


def test_wrong_shapes_are_clear_errors(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, _ = shop
    with pytest.raises(ConnectorResponseError, match="expected a list of products at 'data'"):
        JsonCatalogueConnector(
            {"url": f"{url}/api/items", "items_path": "data", "auth_header": "X-Api-Key",
             "auth_value": ITEMS_KEY, "paging": "page"},
            http,
        ).fetch()  # fmt: skip
    with pytest.raises(ConnectorResponseError, match="HTTP 404"):
        JsonCatalogueConnector({"url": f"{url}/nowhere"}, http).fetch()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "url: an http"),
        ({"url": "ftp://shop.test/p"}, "url: an http"),
        ({"url": "https://user:pw@shop.test/p"}, "credentials"),
        ({"url": "https://shop.test/p", "url_template": "https://shop.test/p"}, "{id}"),
        ({"url": "https://shop.test/p", "mapping": {"colour": "c"}}, "unknown field"),
        ({"url": "https://shop.test/p", "mapping": {"price": ""}}, "price is required"),
        ({"url": "https://shop.test/p", "paging": "cursor"}, "paging must be"),
        ({"url": "https://shop.test/p", "page_size": 0}, "between 1 and 1000"),
    ],
)
def test_json_config_is_validated(config: dict, message: str) -> None:
    with pytest.raises(ConnectorConfigError, match=message):
        JsonCatalogueConnector.validate_config(config)


# ---- Magento 2 ------------------------------------------------------------------------------


def test_magento_pages_to_total_count(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    shops.malformed = [{"title": None, "price": 5}]
    result = MagentoConnector(
        {"base_url": url, "token": MAGENTO_TOKEN, "page_size": 8}, http
    ).fetch()
    pages = [r for r in shops.requests if "/V1/products" in r]
    assert len(pages) == 4  # 31 rows / 8: never a fifth call (it would repeat page 4)
    ids = {p.external_id for p in result.products}
    assert len(ids) == 26 and "MB-010" not in ids and "MB-015" not in ids
    reasons = {s.external_id: s.reason for s in result.skipped}
    assert reasons["MB-010"] == "disabled in the shop"
    assert reasons["MB-015"] == "not visible individually (a variant)"
    assert reasons[None] == "no sku"
    p = next(p for p in result.products if p.external_id == "MB-001")
    assert p.title == "Water bottle model 1" and p.price == Decimal("33.95")
    assert p.image_url == f"{url}/media/catalog/product/m/b/main-1.jpg"  # the "image" entry
    assert p.product_url == f"{url}/item-1.html"
    assert p.category == "Outdoor" and p.description == "The water bottle number 1."
    assert p.in_stock is True and p.stock_qty == 3.0


def test_magento_store_code_and_auth(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    result = MagentoConnector(
        {"base_url": url, "token": MAGENTO_TOKEN, "store_code": "default", "page_size": 50},
        http,
    ).fetch()
    assert len(result.products) == 26
    assert any(r.startswith("GET /rest/default/V1/products") for r in shops.requests)
    with pytest.raises(ConnectorAuthError, match="refused the credentials"):
        MagentoConnector({"base_url": url, "token": "stolen"}, http).fetch()
    with pytest.raises(ConnectorConfigError, match="token is required"):
        MagentoConnector.validate_config({"base_url": url})


def test_magento_timeout(shop) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    shops.delay_s = 1.0
    with httpx.Client(timeout=0.2) as quick, pytest.raises(ConnectorUnavailable):
        MagentoConnector({"base_url": url, "token": MAGENTO_TOKEN}, quick).fetch()


# ---- Odoo -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret", [{"password": ODOO_PASSWORD}, {"api_key": ODOO_KEY}], ids=["session", "api_key"]
)
def test_odoo_reads_published_products(shop, http, secret) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    shops.malformed = [{"id": 77, "title": None, "price": 1}]
    config = {"base_url": url, "db": ODOO_DB, "login": ODOO_LOGIN, "page_size": 10, **secret}
    result = OdooConnector(config, http).fetch()
    assert len(result.products) == 25  # 30 minus five unpublished
    assert [s.reason for s in result.skipped] == ["no name"]
    assert shops.requests.count("odoo search_read") == 3  # pages of 10, 10, 6
    p1 = next(p for p in result.products if p.external_id == "1")
    assert p1.currency == "EUR" and p1.category == "Outdoor" and p1.sku == "OD-1"
    assert p1.image_url == f"{url}/web/image/product.template/1/image_1024"
    assert p1.product_url == f"{url}/shop/item-1"
    assert p1.in_stock is True and p1.stock_qty == 3.0  # storable (odd id)
    p2 = next(p for p in result.products if p.external_id == "2")
    assert p2.in_stock is None  # a consumable: Odoo does not track its stock


def test_odoo_refusals(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, _ = shop
    base = {"base_url": url, "db": ODOO_DB, "login": ODOO_LOGIN}
    with pytest.raises(ConnectorAuthError):
        OdooConnector({**base, "password": "wrong"}, http).fetch()
    with pytest.raises(ConnectorAuthError):
        OdooConnector({**base, "api_key": "wrong"}, http).fetch()
    with pytest.raises(ConnectorConfigError, match="password or an API key"):
        OdooConnector.validate_config(base)


def test_odoo_without_ecommerce_fields(shop, http) -> None:  # type: ignore[no-untyped-def]
    url, shops = shop
    shops.odoo_fields = ("id", "name", "list_price", "categ_id", "currency_id")
    try:
        result = OdooConnector(
            {"base_url": url, "db": ODOO_DB, "login": ODOO_LOGIN, "api_key": ODOO_KEY}, http
        ).fetch()
    finally:
        del shops.odoo_fields  # back to the class default
    assert len(result.products) == 30  # no is_published to filter on
    assert all(p.product_url is None and p.in_stock is None for p in result.products)
