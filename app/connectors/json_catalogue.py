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
from urllib.parse import quote, urlsplit

from app.connectors.base import (
    MAX_PAGES,
    MAX_PRODUCTS,
    CartResult,
    Catalogue,
    CatalogueConnector,
    ConnectorConfigError,
    ConnectorResponseError,
    Order,
    Product,
    SkippedRecord,
    clean_text,
    dig,
    http_url_or_none,
    order_items,
    page_size,
    price_or_none,
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
# Orders (optional): `orders_url` is a template with {number}; a 404 means "no such order".
ORDER_FIELDS = (
    "number", "email", "status", "placed_at", "total", "currency", "items", "item_name",
    "item_qty", "tracking",
)  # fmt: skip
DEFAULT_ORDER_MAPPING = {
    "number": "number",
    "email": "email",
    "status": "status",
    "placed_at": "created_at",
    "total": "total",
    "currency": "currency",
    "items": "items",
    "item_name": "name",
    "item_qty": "qty",
    "tracking": "tracking",
}


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
        orders_url = str(config.get("orders_url") or "").strip()
        if orders_url:
            if "{number}" not in orders_url:
                raise ConnectorConfigError("orders_url must contain {number}")
            require_http_url({"orders_url": orders_url.replace("{number}", "n")}, "orders_url")
            if urlsplit(orders_url).hostname != urlsplit(str(config.get("url") or "")).hostname:
                raise ConnectorConfigError("orders_url must be on the catalogue's host")
        order_mapping = {**DEFAULT_ORDER_MAPPING, **dict(config.get("order_mapping") or {})}
        unknown = set(order_mapping) - set(ORDER_FIELDS)
        if unknown:
            raise ConnectorConfigError(
                f"order_mapping: unknown field(s) {', '.join(sorted(unknown))}"
            )
        return {
            "orders_url": orders_url,
            "orders_path": str(config.get("orders_path") or "").strip(),
            "order_mapping": {k: str(v).strip() for k, v in order_mapping.items() if v},
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

    # ---- orders ---------------------------------------------------------------------------

    def supports_orders(self) -> bool:
        return bool(self.config["orders_url"])

    def find_order(self, number: str) -> Order | None:
        """`GET orders_url` with {number} filled in; the order object at `orders_path`
        (a list there: the entry whose number matches)."""
        if not self.config["orders_url"]:
            raise ConnectorConfigError("this catalogue has no orders_url")
        url = self.config["orders_url"].replace("{number}", quote(number, safe=""))
        body = request_json(self.http, "GET", url, headers=self._headers(), none_on_404=True)
        if body is None:
            return None
        path, mapping = self.config["orders_path"], self.config["order_mapping"]
        found = dig(body, path) if path else body
        candidates = found if isinstance(found, list) else [found]

        def get(record: Any, name: str) -> Any:
            return dig(record, mapping[name]) if name in mapping else None

        for record in candidates:
            if not isinstance(record, Mapping) or str(get(record, "number")) != number:
                continue
            tracking = get(record, "tracking")
            return Order(
                number=number,
                email=str(get(record, "email") or ""),
                status=clean_text(get(record, "status"), limit=100) or "unknown",
                placed_at=clean_text(get(record, "placed_at"), limit=40) or None,
                total=price_or_none(get(record, "total")),
                currency=str(get(record, "currency") or self.config["currency"])[:3].upper(),
                items=order_items(
                    get(record, "items"),
                    mapping.get("item_name", "name"),
                    mapping.get("item_qty", "qty"),
                ),
                tracking=tuple(
                    clean_text(t, limit=100)
                    for t in (tracking if isinstance(tracking, list) else [tracking])
                    if isinstance(t, str | int) and str(t).strip()
                )[:5],
            )
        return None

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
