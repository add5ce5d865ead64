"""The dashboard's flat catalogue form -> connector settings (one URL box for every kind)."""

from __future__ import annotations

import pytest

from app.services.catalogues import CatalogueError, form_config, parse_mapping


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
