"""The dashboard's flat catalogue form -> connector settings (one URL box for every kind)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.services.catalogues import CatalogueError, form_config, parse_mapping
from app.services.product_search import ProductQuery, format_price, own_image, parse_query


def test_form_config_per_kind() -> None:
    form = {"url": " https://shop.test/api ", "token": "t", "mapping": "", "db": "x"}
    assert form_config("magento2", form) == {"base_url": "https://shop.test/api", "token": "t"}
    assert form_config("odoo", {**form, "login": "a", "api_key": "k"}) == {
        "base_url": "https://shop.test/api", "db": "x", "login": "a", "api_key": "k",
    }  # fmt: skip
    json_form = {"url": "https://s.test/p", "mapping": "title = name\nprice: amount.value\n"}
    assert form_config("json", json_form) == {
        "url": "https://s.test/p", "mapping": {"title": "name", "price": "amount.value"},
    }  # fmt: skip
    with pytest.raises(CatalogueError):
        form_config("shopify", form)


def test_mapping_lines_need_a_path() -> None:
    assert parse_mapping("\n id = sku \n") == {"id": "sku"}
    with pytest.raises(CatalogueError, match="needs field = path"):
        parse_mapping("title")


def test_product_filters_from_the_question() -> None:
    cats = ["bags", "outdoor", "Office supplies"]
    q = parse_query("a backpack under $120", cats)
    assert q.max_price == Decimal("120") and q.category is None
    q = parse_query("outdoor things below 49.50 please", cats)
    assert q.max_price == Decimal("49.50") and q.category == "outdoor"
    assert parse_query("any bag for school?", cats).category == "bags"
    assert parse_query("office supplies up to €15", cats) == ProductQuery(
        Decimal("15"), "Office supplies"
    )
    assert not parse_query("what are your opening hours", cats).filtered
    assert parse_query("I need 2 backpacks", cats).max_price is None


def test_images_only_from_the_shop_host() -> None:
    hosts = {"shop.test"}
    assert own_image("https://shop.test/i/1.png", hosts) == "https://shop.test/i/1.png"
    assert own_image("https://cdn.shop.test/i/1.png", hosts) == "https://cdn.shop.test/i/1.png"
    assert own_image("https://evil.test/i/1.png", hosts) == ""
    assert own_image("https://shop.test.evil.io/x.png", hosts) == ""
    assert own_image("javascript:alert(1)", hosts) == "" and own_image(None, hosts) == ""
    assert format_price(Decimal("1234.5"), "USD") == "$1,234.50"
    assert format_price(Decimal("9"), "chf") == "9.00 CHF"
