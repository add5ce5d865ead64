"""Which shops get a cart: the JSON connector with a cart URL (set from the dashboard
form); Magento, Odoo and JSON shops without one link to the product page instead."""

from __future__ import annotations

import pytest

from app.connectors import CONNECTORS, ConnectorConfigError
from app.services.catalogues import form_config


def test_the_form_passes_the_cart_url_and_the_json_connector_uses_it() -> None:
    config = form_config(
        "json", {"url": "https://shop.test/products", "cart_url": " https://shop.test/carts "}
    )
    assert config["cart_url"] == "https://shop.test/carts"
    json_cls = CONNECTORS["json"]
    assert json_cls.cart_enabled(json_cls.validate_config(config))
    without = json_cls.validate_config({"url": "https://shop.test/products"})
    assert not json_cls.cart_enabled(without)
    with pytest.raises(ConnectorConfigError, match="cart_url"):
        json_cls.validate_config({"url": "https://shop.test/p", "cart_url": "ftp://shop.test/c"})


@pytest.mark.parametrize("kind", ["magento2", "odoo"])
def test_magento_and_odoo_link_to_the_shop_instead(kind: str) -> None:
    assert not CONNECTORS[kind].cart_enabled({"base_url": "https://shop.test"})
