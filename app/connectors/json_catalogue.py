"""Generic JSON catalogue: the Fake Store API shape by default, any JSON list by mapping.

Defaults read `GET <url>` → `[{id, title, price, description, category, image}]`. Owners of
other APIs set `items_path` (where the list is, e.g. "data.products"), a field mapping
(dotted paths such as "images.0" or "stock.qty"), a product URL template and paging
(`page`: ?page=N&limit=S, or `offset`: ?skip=K&limit=S).

Cart: with `cart_url` set, "Add to cart" POSTs the Fake Store API's cart shape there,
`{"userId": <cart ref>, "products": [{"productId": <id>, "quantity": n}]}` (same auth
header as the catalogue), and reads the cart's `id` from the answer. Without it, the
product link is the way to buy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from app.connectors.base import (
    MAX_PAGES,
    MAX_PRODUCTS,
    CartResult,
    Catalogue,
    CatalogueConnector,
    ConnectorConfigError,
    ConnectorResponseError,
    Product,
    SkippedRecord,
    clean_text,
    dig,
    http_url_or_none,
    page_size,
    request_json,
    require_http_url,
    to_price,
)

FIELDS = ("id", "title", "price", "description", "category", "image", "url", "in_stock", "sku")
DEFAULT_MAPPING = {
    "id": "id",
    "title": "title",
    "price": "price",
    "description": "description",
    "category": "category",
    "image": "image",
}
PAGINGS = ("none", "page", "offset")


class JsonCatalogueConnector(CatalogueConnector):
    kind: ClassVar[str] = "json"
    label: ClassVar[str] = "JSON catalogue (Fake Store API shape or mapped)"
    secret_fields: ClassVar[tuple[str, ...]] = ("auth_value",)
    supports_cart: ClassVar[bool] = True  # when `cart_url` is set

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        mapping = {**DEFAULT_MAPPING, **dict(config.get("mapping") or {})}
        unknown = set(mapping) - set(FIELDS)
        if unknown:
            raise ConnectorConfigError(f"mapping: unknown field(s) {', '.join(sorted(unknown))}")
        for required in ("id", "title", "price"):
            if not str(mapping.get(required) or "").strip():
                raise ConnectorConfigError(f"mapping: {required} is required")
        paging = str(config.get("paging") or "none")
        if paging not in PAGINGS:
            raise ConnectorConfigError(f"paging must be one of {', '.join(PAGINGS)}")
        template = str(config.get("url_template") or "")
        if template and "{id}" not in template:
            raise ConnectorConfigError("url_template must contain {id}")
        cart_url = require_http_url(config, "cart_url") if config.get("cart_url") else ""
        return {
            "url": require_http_url(config, "url"),
            "cart_url": cart_url,
            "items_path": str(config.get("items_path") or "").strip(),
            "mapping": {k: str(v).strip() for k, v in mapping.items() if v},
            "currency": str(config.get("currency") or "USD").upper()[:3],
            "url_template": template,
            "paging": paging,
            "page_size": page_size(config),
            "page_param": str(config.get("page_param") or "page"),
            "offset_param": str(config.get("offset_param") or "skip"),
            "limit_param": str(config.get("limit_param") or "limit"),
            "auth_header": str(config.get("auth_header") or "Authorization"),
            "auth_value": str(config.get("auth_value") or ""),
        }

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.config["auth_value"]:
            headers[self.config["auth_header"]] = self.config["auth_value"]
        return headers

    @classmethod
    def cart_enabled(cls, config: Mapping[str, Any]) -> bool:
        return bool(config.get("cart_url"))

    def add_to_cart(self, external_id: str, quantity: int, cart_ref: str) -> CartResult:
        if not self.config["cart_url"]:
            return super().add_to_cart(external_id, quantity, cart_ref)
        product_id: Any = int(external_id) if external_id.isdigit() else external_id
        body = request_json(
            self.http,
            "POST",
            self.config["cart_url"],
            json={
                "userId": cart_ref,
                "products": [{"productId": product_id, "quantity": quantity}],
            },
            headers=self._headers(),
        )
        cart_id = dig(body, "id") if isinstance(body, dict) else None
        return CartResult(True, "Added to the cart.", str(cart_id) if cart_id is not None else None)

    def _items(self, body: Any) -> list[Any]:
        path = self.config["items_path"]
        items = dig(body, path) if path else body
        if not isinstance(items, list):
            where = f"at {path!r}" if path else "at the top level"
            raise ConnectorResponseError(f"expected a list of products {where}")
        return items

    def _page_params(self, index: int) -> dict[str, int]:
        size, paging = self.config["page_size"], self.config["paging"]
        if paging == "page":
            return {self.config["page_param"]: index + 1, self.config["limit_param"]: size}
        if paging == "offset":
            return {self.config["offset_param"]: index * size, self.config["limit_param"]: size}
        return {}

    def fetch(self, max_products: int = MAX_PRODUCTS) -> Catalogue:
        out = Catalogue()
        seen: set[str] = set()
        for index in range(MAX_PAGES):
            body = request_json(
                self.http,
                "GET",
                self.config["url"],
                params=self._page_params(index),
                headers=self._headers(),
            )
            items = self._items(body)
            fresh = 0
            for record in items:
                parsed = self._product(record)
                if isinstance(parsed, Product):
                    if parsed.external_id in seen:
                        continue
                    seen.add(parsed.external_id)
                    fresh += 1
                if not out.add(parsed, max_products):
                    return out
            # An API that ignores the paging parameters returns the same page forever.
            last_page = len(items) < self.config["page_size"] or (items and not fresh)
            if self.config["paging"] == "none" or not items or last_page:
                break
        return out

    def _product(self, record: Any) -> Product | SkippedRecord:
        mapping = self.config["mapping"]

        def get(name: str) -> Any:
            return dig(record, mapping[name]) if name in mapping else None

        raw_id = get("id") if isinstance(record, Mapping) else None
        external_id = str(raw_id).strip() if raw_id not in (None, "") else None
        if external_id is None:
            return SkippedRecord(None, "no id")
        title = clean_text(get("title"), limit=300)
        if not title:
            return SkippedRecord(external_id, "no title")
        try:
            price = to_price(get("price"))
        except ValueError as exc:
            return SkippedRecord(external_id, str(exc))
        template = self.config["url_template"]
        in_stock = get("in_stock")
        return Product(
            external_id=external_id[:200],
            title=title,
            price=price,
            currency=self.config["currency"],
            description=clean_text(get("description")),
            category=clean_text(get("category"), limit=200),
            image_url=http_url_or_none(get("image")),
            product_url=(
                http_url_or_none(template.replace("{id}", external_id))
                if template
                else http_url_or_none(get("url"))
            ),
            in_stock=_stock(in_stock),
            sku=clean_text(get("sku"), limit=100) or None,
        )


def _stock(value: Any) -> bool | None:
    """true/false, a quantity, or "in stock"/"out of stock" text; None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value > 0
    text = str(value).strip().lower()
    if text in ("true", "yes", "instock", "in stock", "in_stock", "available"):
        return True
    if text in ("false", "no", "outofstock", "out of stock", "out_of_stock", "unavailable"):
        return False
    return None
