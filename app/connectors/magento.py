"""Magento 2 (Adobe Commerce) REST: `/rest/<store>/V1/products` with an integration token.

Paging uses `searchCriteria[pageSize]`/`[currentPage]` and stops at `total_count`: Magento
answers a page past the end with the last page again. Only enabled products visible in the
catalogue are kept; category ids are named through `/V1/categories` (one call per sync).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from app.connectors.base import (
    MAX_PAGES,
    MAX_PRODUCTS,
    Catalogue,
    CatalogueConnector,
    ConnectorConfigError,
    ConnectorError,
    ConnectorResponseError,
    Order,
    Product,
    SkippedRecord,
    clean_text,
    order_items,
    page_size,
    price_or_none,
    request_json,
    require_http_url,
    require_text,
    to_price,
)

STATUS_ENABLED = 1
VISIBILITY_NOT_VISIBLE = 1  # "Not Visible Individually": a variant of a configurable product


class MagentoConnector(CatalogueConnector):
    kind: ClassVar[str] = "magento2"
    label: ClassVar[str] = "Magento 2 / Adobe Commerce"
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        store = str(config.get("store_code") or "").strip().strip("/")
        if store and not store.replace("_", "").isalnum():
            raise ConnectorConfigError("store_code may hold letters, digits and _ only")
        return {
            "base_url": require_http_url(config, "base_url"),
            "token": require_text(config, "token"),
            "store_code": store,
            "currency": str(config.get("currency") or "USD").upper()[:3],
            "url_suffix": str(config.get("url_suffix") if "url_suffix" in config else ".html"),
            "page_size": page_size(config),
        }

    @property
    def _api(self) -> str:
        store = self.config["store_code"]
        return f"{self.config['base_url']}/rest/{store + '/' if store else ''}V1"

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.config['token']}", "Accept": "application/json"}
        return request_json(self.http, "GET", f"{self._api}{path}", params=params, headers=headers)

    def _category_names(self) -> dict[str, str]:
        try:
            tree = self._get("/categories")
        except ConnectorError:
            return {}  # names are a nicety; products still sync with ids unnamed
        names: dict[str, str] = {}
        stack = [tree] if isinstance(tree, Mapping) else []
        while stack:
            node = stack.pop()
            if isinstance(node.get("id"), int) and isinstance(node.get("name"), str):
                names[str(node["id"])] = node["name"]
            stack.extend(c for c in node.get("children_data") or [] if isinstance(c, Mapping))
        return names

    def fetch(self, max_products: int = MAX_PRODUCTS) -> Catalogue:
        out = Catalogue()
        categories = self._category_names()
        size = self.config["page_size"]
        pages = 1
        page = 1
        while page <= min(pages, MAX_PAGES):
            body = self._get(
                "/products",
                {"searchCriteria[pageSize]": size, "searchCriteria[currentPage]": page},
            )
            items = body.get("items") if isinstance(body, Mapping) else None
            total = body.get("total_count") if isinstance(body, Mapping) else None
            if not isinstance(items, list) or not isinstance(total, int):
                raise ConnectorResponseError("expected {items: [...], total_count: N}")
            pages = math.ceil(total / size)
            for record in items:
                if not out.add(self._product(record, categories), max_products):
                    return out
            page += 1
        return out

    # ---- orders ---------------------------------------------------------------------------

    def supports_orders(self) -> bool:
        return True

    def find_order(self, number: str) -> Order | None:
        """`GET /V1/orders` filtered on `increment_id` (the number customers see)."""
        f = "searchCriteria[filter_groups][0][filters][0]"
        body = self._get(
            "/orders",
            {
                f"{f}[field]": "increment_id",
                f"{f}[value]": number,
                f"{f}[condition_type]": "eq",
                "searchCriteria[pageSize]": 2,
            },
        )
        items = body.get("items") if isinstance(body, Mapping) else None
        if not isinstance(items, list):
            raise ConnectorResponseError("expected {items: [...]} from /V1/orders")
        for record in items:
            if isinstance(record, Mapping) and str(record.get("increment_id") or "") == number:
                return Order(
                    number=number,
                    email=str(record.get("customer_email") or ""),
                    status=str(record.get("status") or record.get("state") or "unknown"),
                    placed_at=str(record.get("created_at") or "") or None,
                    total=price_or_none(record.get("grand_total")),
                    currency=str(record.get("order_currency_code") or self.config["currency"]),
                    # Children of configurable items repeat their parent: parents only.
                    items=order_items(
                        [
                            i
                            for i in record.get("items") or []
                            if isinstance(i, Mapping) and i.get("parent_item_id") is None
                        ],
                        "name",
                        "qty_ordered",
                    ),
                )
        return None

    def _product(self, record: Any, categories: Mapping[str, str]) -> Product | SkippedRecord:
        if not isinstance(record, Mapping) or not record.get("sku"):
            return SkippedRecord(None, "no sku")
        sku = str(record["sku"])[:200]
        if record.get("status") != STATUS_ENABLED:
            return SkippedRecord(sku, "disabled in the shop")
        if record.get("visibility") == VISIBILITY_NOT_VISIBLE:
            return SkippedRecord(sku, "not visible individually (a variant)")
        title = clean_text(record.get("name"), limit=300)
        if not title:
            return SkippedRecord(sku, "no name")
        try:
            price = to_price(record.get("price"))
        except ValueError as exc:
            return SkippedRecord(sku, str(exc))
        attrs = _custom_attributes(record)
        base = self.config["base_url"]
        stock = (record.get("extension_attributes") or {}).get("stock_item") or {}
        qty = stock.get("qty")
        category_ids = attrs.get("category_ids")
        named = [
            categories[str(c)]
            for c in (category_ids if isinstance(category_ids, list) else [])
            if str(c) in categories
        ]
        url_key = attrs.get("url_key")
        return Product(
            external_id=sku,
            sku=sku,
            title=title,
            price=price,
            currency=self.config["currency"],
            description=clean_text(attrs.get("description") or attrs.get("short_description")),
            category=", ".join(named[:3]),
            image_url=_image(record, base),
            product_url=(
                f"{base}/{url_key}{self.config['url_suffix']}"
                if isinstance(url_key, str) and url_key.replace("-", "").isalnum()
                else None
            ),
            in_stock=stock["is_in_stock"] if isinstance(stock.get("is_in_stock"), bool) else None,
            stock_qty=float(qty) if isinstance(qty, int | float) else None,
        )


def _custom_attributes(record: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in record.get("custom_attributes") or []:
        if isinstance(item, Mapping) and isinstance(item.get("attribute_code"), str):
            out[item["attribute_code"]] = item.get("value")
    return out


def _image(record: Mapping[str, Any], base: str) -> str | None:
    """The entry typed "image" (else the first enabled one), under the shop's media path."""
    entries = [
        e
        for e in record.get("media_gallery_entries") or []
        if isinstance(e, Mapping) and isinstance(e.get("file"), str) and not e.get("disabled")
    ]
    entries.sort(key=lambda e: ("image" not in (e.get("types") or []), e.get("position") or 0))
    if not entries:
        return None
    file = entries[0]["file"]
    return f"{base}/media/catalog/product/{file.lstrip('/')}"
