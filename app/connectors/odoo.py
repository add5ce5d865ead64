"""Odoo over JSON-RPC: `product.template` read with `search_read`, paged by offset.

Two ways in, as Odoo documents them: a user's password (`/web/session/authenticate`, then
`/web/dataset/call_kw` with the session cookie) or an API key (`/jsonrpc` with the `common`
and `object` services, the key in place of the password). Fields differ across Odoo
versions and installed apps (`website_url` needs eCommerce, `is_storable` is Odoo 18), so the
connector asks `fields_get` once and reads only what exists.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any, ClassVar

from app.connectors.base import (
    MAX_PAGES,
    MAX_PRODUCTS,
    Catalogue,
    CatalogueConnector,
    ConnectorAuthError,
    ConnectorConfigError,
    ConnectorResponseError,
    Order,
    Product,
    SkippedRecord,
    clean_text,
    http_url_or_none,
    order_items,
    page_size,
    price_or_none,
    request_json,
    require_http_url,
    require_text,
    to_price,
)

MODEL = "product.template"
WANTED_FIELDS = (
    "id",
    "name",
    "list_price",
    "description_sale",
    "categ_id",
    "currency_id",
    "default_code",
    "website_url",
    "is_published",
    "qty_available",
    "type",
    "detailed_type",
    "is_storable",
    "sale_ok",
)
ORDER_FIELDS = ("id", "name", "state", "date_order", "amount_total", "currency_id", "partner_id")
AUTH_ERRORS = ("AccessDenied", "SessionExpired", "AccessError")


class OdooConnector(CatalogueConnector):
    kind: ClassVar[str] = "odoo"
    label: ClassVar[str] = "Odoo"
    secret_fields: ClassVar[tuple[str, ...]] = ("password", "api_key")

    @classmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        password, api_key = str(config.get("password") or ""), str(config.get("api_key") or "")
        if not (password or api_key):
            raise ConnectorConfigError("a password or an API key is required")
        return {
            "base_url": require_http_url(config, "base_url"),
            "db": require_text(config, "db"),
            "login": require_text(config, "login"),
            "password": password,
            "api_key": api_key,
            "published_only": bool(config.get("published_only", True)),
            "page_size": page_size(config),
        }

    def __init__(self, config: Mapping[str, Any], http: Any) -> None:
        super().__init__(config, http)
        self._ids = itertools.count(1)
        self._uid: int | None = None

    # ---- JSON-RPC -------------------------------------------------------------------------

    def _rpc(self, path: str, params: dict[str, Any]) -> Any:
        body = request_json(
            self.http,
            "POST",
            f"{self.config['base_url']}{path}",
            json={"jsonrpc": "2.0", "method": "call", "params": params, "id": next(self._ids)},
        )
        if not isinstance(body, Mapping):
            raise ConnectorResponseError("expected a JSON-RPC response object")
        if body.get("error"):
            error = body["error"] if isinstance(body["error"], Mapping) else {}
            data = error.get("data") if isinstance(error.get("data"), Mapping) else {}
            name = str(data.get("name") or "")
            if any(marker in name for marker in AUTH_ERRORS):
                raise ConnectorAuthError("Odoo refused the login (check login and password/key)")
            message = str(data.get("message") or error.get("message") or "error")[:200]
            raise ConnectorResponseError(f"Odoo answered an error: {message}")
        if "result" not in body:
            raise ConnectorResponseError("expected a JSON-RPC result")
        return body["result"]

    def _login(self) -> None:
        cfg = self.config
        if cfg["api_key"]:
            uid = self._rpc(
                "/jsonrpc",
                {
                    "service": "common",
                    "method": "authenticate",
                    "args": [cfg["db"], cfg["login"], cfg["api_key"], {}],
                },
            )
        else:
            result = self._rpc(
                "/web/session/authenticate",
                {"db": cfg["db"], "login": cfg["login"], "password": cfg["password"]},
            )
            uid = result.get("uid") if isinstance(result, Mapping) else None
        if not isinstance(uid, int) or isinstance(uid, bool):
            raise ConnectorAuthError("Odoo refused the login (check login and password/key)")
        self._uid = uid

    def _call(
        self, method: str, args: list[Any], kwargs: dict[str, Any], model: str = MODEL
    ) -> Any:
        cfg = self.config
        if cfg["api_key"]:
            return self._rpc(
                "/jsonrpc",
                {
                    "service": "object",
                    "method": "execute_kw",
                    "args": [cfg["db"], self._uid, cfg["api_key"], model, method, args, kwargs],
                },
            )
        return self._rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {"model": model, "method": method, "args": args, "kwargs": kwargs},
        )

    # ---- catalogue ------------------------------------------------------------------------

    def fetch(self, max_products: int = MAX_PRODUCTS) -> Catalogue:
        self._login()
        available = self._call("fields_get", [], {"attributes": ["type"]})
        if not isinstance(available, Mapping):
            raise ConnectorResponseError("fields_get did not return the model's fields")
        fields = [f for f in WANTED_FIELDS if f in available]
        domain: list[Any] = [["sale_ok", "=", True]] if "sale_ok" in available else []
        if self.config["published_only"] and "is_published" in available:
            domain.append(["is_published", "=", True])
        out = Catalogue()
        size = self.config["page_size"]
        for page in range(MAX_PAGES):
            rows = self._call(
                "search_read",
                [domain],
                {"fields": fields, "limit": size, "offset": page * size, "order": "id"},
            )
            if not isinstance(rows, list):
                raise ConnectorResponseError("search_read did not return a list")
            for record in rows:
                if not out.add(self._product(record), max_products):
                    return out
            if len(rows) < size:
                break
        return out

    # ---- orders ---------------------------------------------------------------------------

    def supports_orders(self) -> bool:
        return True

    def find_order(self, number: str) -> Order | None:
        """`sale.order` by its name (e.g. S00042), its partner's email, its lines."""
        if self._uid is None:
            self._login()
        rows = self._call(
            "search_read",
            [[["name", "=", number]]],
            {"fields": list(ORDER_FIELDS), "limit": 2},
            model="sale.order",
        )
        if not isinstance(rows, list):
            raise ConnectorResponseError("search_read did not return a list")
        record = next((r for r in rows if isinstance(r, Mapping) and r.get("name") == number), None)
        if record is None or not isinstance(record.get("id"), int):
            return None
        email = ""
        partner = record.get("partner_id")
        if isinstance(partner, list) and partner and isinstance(partner[0], int):
            found = self._call("read", [[partner[0]]], {"fields": ["email"]}, model="res.partner")
            if isinstance(found, list) and found and isinstance(found[0], Mapping):
                email = str(found[0].get("email") or "")
        lines = self._call(
            "search_read",
            [[["order_id", "=", record["id"]]]],
            {"fields": ["name", "product_uom_qty", "display_type"], "limit": 50},
            model="sale.order.line",
        )
        return Order(
            number=number,
            email=email,
            status=str(record.get("state") or "unknown"),
            placed_at=str(record.get("date_order") or "") or None,
            total=price_or_none(record.get("amount_total")),
            currency=_many2one_name(record.get("currency_id"))[:3],
            items=order_items(
                [
                    line
                    for line in lines or []
                    if isinstance(line, Mapping) and not line.get("display_type")
                ],
                "name",
                "product_uom_qty",
            ),
        )

    def _product(self, record: Any) -> Product | SkippedRecord:
        if not isinstance(record, Mapping) or not isinstance(record.get("id"), int):
            return SkippedRecord(None, "no id")
        pid = record["id"]
        title = clean_text(record.get("name"), limit=300)
        if not title:
            return SkippedRecord(str(pid), "no name")
        try:
            price = to_price(record.get("list_price"))
        except ValueError as exc:
            return SkippedRecord(str(pid), str(exc))
        base = self.config["base_url"]
        storable = (
            record.get("is_storable") is True
            or record.get("type") == "product"
            or record.get("detailed_type") == "product"
        )
        qty = record.get("qty_available")
        has_qty = isinstance(qty, int | float) and not isinstance(qty, bool)
        website_url = record.get("website_url")
        return Product(
            external_id=str(pid),
            sku=clean_text(record.get("default_code"), limit=100) or None,
            title=title,
            price=price,
            currency=_many2one_name(record.get("currency_id"))[:3] or "USD",
            description=clean_text(record.get("description_sale")),
            category=_many2one_name(record.get("categ_id")).split(" / ")[-1],
            image_url=f"{base}/web/image/{MODEL}/{pid}/image_1024",
            product_url=(
                http_url_or_none(f"{base}{website_url}")
                if isinstance(website_url, str) and website_url.startswith("/")
                else None
            ),
            in_stock=(qty > 0) if storable and has_qty else None,
            stock_qty=float(qty) if storable and has_qty else None,
        )


def _many2one_name(value: Any) -> str:
    """Odoo returns a many2one as [id, "display name"] (or False when empty)."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[1], str):
        return value[1]
    return ""
