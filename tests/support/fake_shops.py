"""Local shops speaking the documented shapes of three catalogue APIs, for connector tests.

- Fake Store API: `GET /fakestore/products` → a JSON list; `GET /api/items?page=&limit=` is a
  paged, key-protected JSON API of another shape (mapped by the generic connector).
- Magento 2: `GET /rest[/<store>]/V1/products?searchCriteria[...]` with a bearer token
  (a page past the end repeats the last page, as Magento does), `GET /rest/V1/categories`.
- Odoo: JSON-RPC `/web/session/authenticate` (+ session cookie) then
  `/web/dataset/call_kw/<model>/<method>`, and `/jsonrpc` (common.authenticate,
  object.execute_kw) for API keys; errors in Odoo's `{"error": {"data": {"name": ...}}}` form.
- Cart: `POST /fakestore/carts` (the Fake Store API's cart shape) records each call in
  `carts` and answers the new cart's id.
- Owner actions: any method on `/hooks/<path>` records (method, path, query, headers, JSON
  body) in `hook_calls`, waits `hook_delay_s`, and answers `hook_response` as JSON.

Orders (the same `orders` list in every shape): `GET /api/orders/{number}` (JSON, x-api-key,
404 when unknown), Magento `GET /rest/V1/orders?searchCriteria[filter_groups][0][filters]...`
on `increment_id`, Odoo `sale.order` search_read by name ("S0" + number), `res.partner` read
and `sale.order.line` search_read.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

MAGENTO_TOKEN = "magento-integration-token"
ODOO_DB, ODOO_LOGIN, ODOO_PASSWORD, ODOO_KEY = "shop", "api@shop.test", "odoo-pass", "odoo-key"
ITEMS_KEY = "items-api-key"


def catalogue(n: int) -> list[dict[str, Any]]:
    """n products with a stable shape; every 7th is a backpack, prices vary."""
    kinds = ["Backpack", "Water bottle", "Jacket", "Notebook", "Mug", "Cap", "Sneakers"]
    return [
        {
            "id": i,
            "title": f"{kinds[i % 7]} model {i}",
            "price": round(20 + (i * 13) % 180 + 0.95, 2),
            "description": f"<p>The <b>{kinds[i % 7].lower()}</b> number {i}.</p>",
            "category": ["bags", "outdoor", "clothing", "office"][i % 4],
            "qty": (i * 3) % 5,
        }
        for i in range(1, n + 1)
    ]


def orders() -> list[dict[str, Any]]:
    return [
        {
            "number": "1234",
            "email": "Me@Example.com",
            "status": "processing",
            "created_at": "2026-12-01 10:00:00",
            "total": 129.9,
            "currency": "USD",
            "items": [{"name": "Backpack model 7", "qty": 1}, {"name": "Mug model 5", "qty": 2}],
            "tracking": [],
        },
        {
            "number": "1235",
            "email": "other@example.com",
            "status": "complete",
            "created_at": "2026-11-20 09:30:00",
            "total": 45.0,
            "currency": "USD",
            "items": [{"name": "Cap model 6", "qty": 1}],
            "tracking": ["1Z999AA10123456784"],
        },
    ]


@dataclass
class FakeShops:
    products: list[dict[str, Any]] = field(default_factory=lambda: catalogue(30))
    malformed: list[dict[str, Any]] = field(default_factory=list)  # served after products
    delay_s: float = 0.0  # every catalogue endpoint waits this long (timeouts)
    status: int | None = None  # force an HTTP status on catalogue endpoints
    orders: list[dict[str, Any]] = field(default_factory=orders)
    requests: list[str] = field(default_factory=list)
    carts: list[dict[str, Any]] = field(default_factory=list)
    hook_calls: list[dict[str, Any]] = field(default_factory=list)
    hook_delay_s: float = 0.0
    hook_response: Any = field(default_factory=lambda: {"status": "shipped", "eta": "2 days"})
    odoo_sessions: set[str] = field(default_factory=set)
    odoo_fields: tuple[str, ...] = (
        "id", "name", "list_price", "description_sale", "categ_id", "currency_id",
        "default_code", "website_url", "is_published", "qty_available", "type", "sale_ok",
    )  # fmt: skip

    def rows(self) -> list[dict[str, Any]]:
        return [*self.products, *self.malformed]

    async def _gate(self, request: Request) -> Response | None:
        self.requests.append(f"{request.method} {request.url.path}?{request.url.query}")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.status:
            return JSONResponse({"message": "forced"}, status_code=self.status)
        return None

    # ---- Fake Store + a paged JSON API ----------------------------------------------------

    async def fakestore(self, request: Request) -> Response:
        if (gate := await self._gate(request)) is not None:
            return gate
        return JSONResponse(
            [
                {k: v for k, v in p.items() if k != "qty"}
                | ({"image": f"{request.base_url}img/{p['id']}.jpg"} if "id" in p else {})
                for p in self.rows()
            ]
        )

    async def cart(self, request: Request) -> Response:
        body = await request.json()
        self.carts.append({"body": body, "headers": dict(request.headers)})
        return JSONResponse({"id": len(self.carts), **body})

    async def hook(self, request: Request) -> Response:
        raw = await request.body()
        self.hook_calls.append(
            {
                "method": request.method,
                "path": request.url.path,
                "raw_path": request.scope.get("raw_path", b"").decode(),
                "query": request.url.query,
                "headers": dict(request.headers),
                "body": json.loads(raw) if raw else None,
            }
        )
        if self.hook_delay_s:
            await asyncio.sleep(self.hook_delay_s)
        return JSONResponse(self.hook_response)

    async def image(self, request: Request) -> Response:
        """A product picture (the Fake Store's /img/<id>.jpg links), drawn as SVG."""
        hue = sum(map(ord, request.path_params["name"])) * 37 % 360
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="90">'
            f'<rect width="120" height="90" rx="10" fill="hsl({hue},60%,55%)"/>'
            '<path d="M40 30h40l6 45H34z" fill="white" opacity=".85"/></svg>'
        )
        return Response(svg, media_type="image/svg+xml")

    async def items(self, request: Request) -> Response:
        if (gate := await self._gate(request)) is not None:
            return gate
        if request.headers.get("x-api-key") != ITEMS_KEY:
            return JSONResponse({"error": "bad key"}, status_code=401)
        page, limit = int(request.query_params["page"]), int(request.query_params["limit"])
        rows = self.rows()[(page - 1) * limit : page * limit]
        return JSONResponse(
            {
                "data": {
                    "products": [
                        {
                            "sku": f"SKU-{p.get('id')}",
                            "name": p.get("title"),
                            "pricing": {"amount": str(p.get("price"))},
                            "stock": {"available": p.get("qty")},
                            "media": [{"src": f"{request.base_url}m/{p.get('id')}.png"}],
                        }
                        for p in rows
                    ]
                },
                "page": page,
            }
        )

    async def json_order(self, request: Request) -> Response:
        if (gate := await self._gate(request)) is not None:
            return gate
        if request.headers.get("x-api-key") != ITEMS_KEY:
            return JSONResponse({"error": "bad key"}, status_code=401)
        number = request.path_params["number"]
        order = next((o for o in self.orders if o["number"] == number), None)
        if order is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return JSONResponse({"order": order})

    # ---- Magento 2 ------------------------------------------------------------------------

    async def magento_orders(self, request: Request) -> Response:
        if (gate := await self._gate(request)) is not None:
            return gate
        if request.headers.get("authorization") != f"Bearer {MAGENTO_TOKEN}":
            return JSONResponse(
                {"message": "The consumer isn't authorized to access %resources."},
                status_code=401,
            )
        q = request.query_params
        f = "searchCriteria[filter_groups][0][filters][0]"
        rows = [_magento_order(o, i) for i, o in enumerate(self.orders)]
        if f"{f}[field]" in q:
            field_name, value = q[f"{f}[field]"], q[f"{f}[value]"]
            assert q.get(f"{f}[condition_type]", "eq") == "eq"
            rows = [r for r in rows if str(r.get(field_name)) == value]
        return JSONResponse({"items": rows, "search_criteria": {}, "total_count": len(rows)})

    async def magento_products(self, request: Request) -> Response:
        if (gate := await self._gate(request)) is not None:
            return gate
        if request.headers.get("authorization") != f"Bearer {MAGENTO_TOKEN}":
            return JSONResponse(
                {"message": "The consumer isn't authorized to access %resources."},
                status_code=401,
            )
        q = request.query_params
        size = int(q.get("searchCriteria[pageSize]", 20))
        page = int(q.get("searchCriteria[currentPage]", 1))
        rows = [_magento_item(p, i) for i, p in enumerate(self.rows())]
        last = max(1, math.ceil(len(rows) / size))
        page = min(page, last)  # Magento repeats the last page past the end
        return JSONResponse(
            {
                "items": rows[(page - 1) * size : page * size],
                "search_criteria": {"page_size": size, "current_page": page},
                "total_count": len(rows),
            }
        )

    async def magento_categories(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {MAGENTO_TOKEN}":
            return JSONResponse({"message": "unauthorized"}, status_code=401)
        return JSONResponse(
            {
                "id": 1,
                "name": "Root",
                "children_data": [
                    {"id": 10 + i, "name": name.title(), "children_data": []}
                    for i, name in enumerate(["bags", "outdoor", "clothing", "office"])
                ],
            }
        )

    # ---- Odoo JSON-RPC --------------------------------------------------------------------

    @staticmethod
    def _rpc_result(body: dict[str, Any], result: Any) -> Response:
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

    @staticmethod
    def _rpc_error(body: dict[str, Any], name: str, message: str) -> Response:
        error = {
            "code": 200,
            "message": "Odoo Server Error",
            "data": {"name": name, "message": message, "arguments": [message]},
        }
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "error": error})

    async def odoo_authenticate(self, request: Request) -> Response:
        body = await request.json()
        p = body["params"]
        if (p.get("db"), p.get("login"), p.get("password")) != (
            ODOO_DB,
            ODOO_LOGIN,
            ODOO_PASSWORD,
        ):
            return self._rpc_error(body, "odoo.exceptions.AccessDenied", "Access Denied")
        sid = secrets.token_hex(16)
        self.odoo_sessions.add(sid)
        response = self._rpc_result(body, {"uid": 2, "db": ODOO_DB, "username": ODOO_LOGIN})
        response.set_cookie("session_id", sid, httponly=True)
        return response

    async def odoo_call_kw(self, request: Request) -> Response:
        body = await request.json()
        if (gate := await self._gate(request)) is not None:
            return gate
        if request.cookies.get("session_id") not in self.odoo_sessions:
            return self._rpc_error(body, "odoo.http.SessionExpiredException", "Session expired")
        p = body["params"]
        return self._odoo_model(body, p["model"], p["method"], p["args"], p["kwargs"])

    async def odoo_jsonrpc(self, request: Request) -> Response:
        body = await request.json()
        p = body["params"]
        if p["service"] == "common" and p["method"] == "authenticate":
            db, login, key, _ = p["args"]
            return self._rpc_result(
                body, 2 if (db, login, key) == (ODOO_DB, ODOO_LOGIN, ODOO_KEY) else False
            )
        if (gate := await self._gate(request)) is not None:
            return gate
        db, uid, key, model, method, args, kwargs = p["args"]
        if (db, uid, key) != (ODOO_DB, 2, ODOO_KEY):
            return self._rpc_error(body, "odoo.exceptions.AccessDenied", "Access Denied")
        return self._odoo_model(body, model, method, args, kwargs)

    def _odoo_model(
        self, body: dict[str, Any], model: str, method: str, args: list, kwargs: dict
    ) -> Response:
        self.requests.append(f"odoo {method}")
        if model in ("sale.order", "res.partner", "sale.order.line"):
            return self._odoo_orders(body, model, method, args, kwargs)
        if model != "product.template":
            return self._rpc_error(body, "builtins.KeyError", model)
        if method == "fields_get":
            return self._rpc_result(body, {f: {"type": "char"} for f in self.odoo_fields})
        if method != "search_read":
            return self._rpc_error(body, "builtins.AttributeError", method)
        unknown = [f for f in kwargs.get("fields", []) if f not in self.odoo_fields]
        if unknown:
            return self._rpc_error(body, "builtins.ValueError", f"Invalid field {unknown[0]!r}")
        rows = [_odoo_row(p) for p in self.rows()]
        for name, op, value in args[0] if args else []:
            assert op == "="
            rows = [r for r in rows if r.get(name) == value]
        offset, limit = kwargs.get("offset", 0), kwargs.get("limit") or len(rows)
        fields = kwargs.get("fields") or list(self.odoo_fields)
        page = [{f: r.get(f, False) for f in fields} for r in rows[offset : offset + limit]]
        return self._rpc_result(body, page)

    def _odoo_orders(
        self, body: dict[str, Any], model: str, method: str, args: list, kwargs: dict
    ) -> Response:
        partners = {100 + i: o["email"] for i, o in enumerate(self.orders)}
        if model == "res.partner" and method == "read":
            fields = kwargs.get("fields") or ["email"]
            return self._rpc_result(
                body,
                [{"id": p, **{f: partners[p] for f in fields}} for p in args[0] if p in partners],
            )
        if method != "search_read":
            return self._rpc_error(body, "builtins.AttributeError", method)
        if model == "sale.order":
            rows = [
                {
                    "id": 500 + i,
                    "name": f"S0{o['number']}",
                    "state": {"processing": "sale", "complete": "done"}.get(o["status"], "draft"),
                    "date_order": o["created_at"],
                    "amount_total": o["total"],
                    "currency_id": [2, o["currency"]],
                    "partner_id": [100 + i, "Customer"],
                }
                for i, o in enumerate(self.orders)
            ]
        else:
            rows = [
                {"id": 900 + 10 * i + j, "order_id": [500 + i, f"S0{o['number']}"],
                 "name": item["name"], "product_uom_qty": float(item["qty"]),
                 "display_type": False}
                for i, o in enumerate(self.orders)
                for j, item in enumerate(o["items"])
            ]  # fmt: skip
        for name, op, value in args[0] if args else []:
            assert op == "="
            rows = [
                r for r in rows
                if (r[name][0] if isinstance(r.get(name), list) else r.get(name)) == value
            ]  # fmt: skip
        fields = kwargs.get("fields") or []
        limit = kwargs.get("limit") or len(rows)
        unknown = [f for f in fields if rows and f not in rows[0]]
        if unknown:
            return self._rpc_error(body, "builtins.ValueError", f"Invalid field {unknown[0]!r}")
        return self._rpc_result(
            body, [{f: r[f] for f in fields} if fields else r for r in rows[:limit]]
        )

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/fakestore/products", self.fakestore),
                Route("/fakestore/carts", self.cart, methods=["POST"]),
                Route(
                    "/hooks/{rest:path}",
                    self.hook,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                ),
                Route("/img/{name}", self.image),
                Route("/api/items", self.items),
                Route("/rest/V1/products", self.magento_products),
                Route("/rest/{store}/V1/products", self.magento_products),
                Route("/rest/V1/categories", self.magento_categories),
                Route("/rest/V1/orders", self.magento_orders),
                Route("/api/orders/{number}", self.json_order),
                Route("/web/session/authenticate", self.odoo_authenticate, methods=["POST"]),
                Route("/web/dataset/call_kw/{model}/{method}", self.odoo_call_kw, methods=["POST"]),
                Route("/jsonrpc", self.odoo_jsonrpc, methods=["POST"]),
            ]
        )


def _magento_item(p: dict[str, Any], i: int) -> dict[str, Any]:
    if "id" not in p or "title" not in p:
        return {"id": 9000 + i, "name": p.get("title"), "price": p.get("price"), "status": 1}
    return {
        "id": p["id"],
        "sku": f"MB-{p['id']:03d}",
        "name": p["title"],
        "price": p["price"],
        "status": 2 if p["id"] % 10 == 0 else 1,  # every 10th disabled
        "visibility": 1 if p["id"] % 15 == 0 else 4,  # every 15th a hidden variant
        "type_id": "simple",
        "extension_attributes": {
            "stock_item": {"qty": p.get("qty", 0), "is_in_stock": p.get("qty", 0) > 0}
        },
        "media_gallery_entries": [
            {
                "id": 1,
                "media_type": "image",
                "position": 2,
                "disabled": False,
                "types": ["thumbnail"],
                "file": f"/t/h/thumb-{p['id']}.jpg",
            },
            {
                "id": 2,
                "media_type": "image",
                "position": 1,
                "disabled": False,
                "types": ["image", "small_image"],
                "file": f"/m/b/main-{p['id']}.jpg",
            },
        ],
        "custom_attributes": [
            {"attribute_code": "url_key", "value": f"item-{p['id']}"},
            {"attribute_code": "description", "value": p.get("description", "")},
            {"attribute_code": "category_ids", "value": [str(10 + p["id"] % 4)]},
        ],
    }


def _magento_order(o: dict[str, Any], i: int) -> dict[str, Any]:
    items = []
    for j, item in enumerate(o["items"]):
        line = {"name": item["name"], "qty_ordered": item["qty"]}
        items.append(
            {
                **line,
                "item_id": 1 + 10 * i + j,
                "product_type": "configurable",
                "parent_item_id": None,
            }
        )
        # A configurable's child line repeats the parent (Magento's shape).
        items.append(
            {
                **line,
                "item_id": 1000 + i + j,
                "product_type": "simple",
                "parent_item_id": 1 + 10 * i + j,
            }
        )
    return {
        "entity_id": 7000 + i,
        "increment_id": o["number"],
        "customer_email": o["email"],
        "status": o["status"],
        "state": o["status"],
        "created_at": o["created_at"],
        "grand_total": o["total"],
        "order_currency_code": o["currency"],
        "items": items,
    }


def _odoo_row(p: dict[str, Any]) -> dict[str, Any]:
    pid = p.get("id")
    return {
        "id": pid if isinstance(pid, int) else False,
        "name": p.get("title") or False,
        "list_price": p.get("price", False),
        "description_sale": p.get("description") or False,
        "categ_id": [4, f"All / Saleable / {str(p.get('category', '')).title()}"],
        "currency_id": [2, "EUR"],
        "default_code": f"OD-{pid}",
        "website_url": f"/shop/item-{pid}",
        "is_published": not (isinstance(pid, int) and pid % 6 == 0),
        "qty_available": float(p.get("qty", 0)),
        "type": "product" if isinstance(pid, int) and pid % 2 else "consu",
        "sale_ok": True,
    }
