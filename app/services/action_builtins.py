"""Built-in actions: a registry where adding one is one `register(Builtin(...))`.

A built-in is switched on per widget (app.services.actions.set_builtin) and then offered
to the model like an owner's action. `run(ctx, args)` is blocking (it runs in a worker
thread) and returns the text the model reads (as DATA, inside a tool-result block);
`ctx.cards` collects product cards the widget should show.

Shipped here: `search_products`, `add_to_cart` and `get_order_status` (over
app.services.orders, which shows an order only when its number AND email match).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from app.db import TenantScope, session_scope
from app.models import Catalogue, CatalogueProduct


@dataclass(slots=True)
class ActionContext:
    tenant_id: str
    widget_id: str
    conversation_id: str
    cards: list[Any] = field(default_factory=list)  # product_search.ProductCard


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[ActionContext, dict[str, Any]], str]
    changes_something: bool = False
    # The confirm card's line for a change-action ("Add 1 x Backpack to the cart").
    summary: Callable[[ActionContext, dict[str, Any]], str] | None = None


BUILTINS: dict[str, Builtin] = {}


def register(builtin: Builtin) -> Builtin:
    BUILTINS[builtin.name] = builtin
    return builtin


# ---- search_products ----------------------------------------------------------------------


def _search(ctx: ActionContext, args: dict[str, Any]) -> str:
    from app.services.product_search import cards_for

    query = str(args.get("query") or "").strip()
    if args.get("max_price") is not None:
        query = f"{query} under {args['max_price']}"
    cards = cards_for(ctx.tenant_id, query)
    ctx.cards.extend(c for c in cards if c.id not in {x.id for x in ctx.cards})
    if not cards:
        return "No products match."
    rows = [
        {"product_id": c.id, "title": c.title, "price": c.price, "stock": c.stock} for c in cards
    ]
    return json.dumps(rows, ensure_ascii=False) + "\n(The visitor sees these as product cards.)"


register(
    Builtin(
        name="search_products",
        description=(
            "Search the shop's product catalogue. Returns matching products with their "
            "product_id, title, price and stock; the visitor sees them as cards."
        ),
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 200},
                "max_price": {"type": "number", "minimum": 0},
            },
            "required": ["query"],
        },
        run=_search,
    )
)


# ---- add_to_cart --------------------------------------------------------------------------


def cart_ref(tenant_id: str, conversation_id: str) -> str:
    """The shop-side cart reference for a conversation: stable, not our ids in clear."""
    return "cc-" + hashlib.sha256(f"{tenant_id}:{conversation_id}".encode()).hexdigest()[:20]


def product_of(session: Session, tenant_id: str, product_id: str) -> CatalogueProduct | None:
    return TenantScope(session, tenant_id).find(CatalogueProduct, str(product_id or ""))


def cart_supported(session: Session, tenant_id: str, product: CatalogueProduct) -> bool:
    from app.connectors import connector_class

    catalogue = TenantScope(session, tenant_id).find(Catalogue, product.catalogue_id)
    if catalogue is None:
        return False
    try:
        return connector_class(catalogue.kind).cart_enabled(catalogue.config)
    except Exception:
        return False


def _quantity(args: dict[str, Any]) -> int:
    return int(args.get("quantity") or 1)


def _cart_summary(ctx: ActionContext, args: dict[str, Any]) -> str:
    with session_scope() as session:
        product = product_of(session, ctx.tenant_id, args.get("product_id", ""))
        title = product.title if product else "this product"
    return f"Add {_quantity(args)} x {title} to the cart"


def _add_to_cart(ctx: ActionContext, args: dict[str, Any]) -> str:
    """The connector's cart when the shop has one (JSON catalogue with `cart_url`);
    otherwise (Magento, Odoo, JSON without a cart URL) a deep link to the product page:
    a cart made server-side could not be tied to the visitor's own shop session."""
    from app.connectors import ConnectorError, connector_class
    from app.services.catalogues import _shop_client, full_config

    with session_scope() as session:
        product = product_of(session, ctx.tenant_id, args.get("product_id", ""))
        if product is None:
            return "Error: no such product (use a product_id from search_products)."
        catalogue = TenantScope(session, ctx.tenant_id).get(Catalogue, product.catalogue_id)
        kind, config = catalogue.kind, full_config(catalogue)
        external_id, title, link = product.external_id, product.title, product.product_url
    cls = connector_class(kind)
    if not cls.cart_enabled(config):
        if not link:
            return f"Error: the shop has no cart here and no page for {title}."
        return (
            f"Not added: this shop's cart is on its own site. Open {link} and use the "
            "shop's add-to-cart button there."
        )
    settings = cls.validate_config(config)
    try:
        with _shop_client(settings.get("cart_url") or settings.get("url", "")) as client:
            result = cls(settings, client).add_to_cart(
                external_id, _quantity(args), cart_ref(ctx.tenant_id, ctx.conversation_id)
            )
    except ConnectorError as exc:
        return f"Error: the shop refused ({exc})."
    except Exception as exc:  # the outbound guard refusing the address, etc.
        return f"Error: the shop could not be reached ({type(exc).__name__})."
    if not result.added:
        return f"Error: {result.message}"
    return f"Done: {_quantity(args)} x {title} added to the visitor's cart."


register(
    Builtin(
        name="add_to_cart",
        description=(
            "Add a product (a product_id from search_products) to the visitor's cart. "
            "The visitor confirms in the chat before anything is added."
        ),
        parameters={
            "type": "object",
            "properties": {
                "product_id": {"type": "string", "minLength": 1, "maxLength": 32},
                "quantity": {"type": "integer", "minimum": 1, "maximum": 20},
            },
            "required": ["product_id"],
        },
        run=_add_to_cart,
        changes_something=True,
        summary=_cart_summary,
    )
)


def with_cart_buttons(tenant_id: str, widget_id: str | None, cards: list[Any]) -> list[Any]:
    """Cards marked `can_cart` where the widget has add_to_cart on and the product's shop
    has a cart API (elsewhere the card's "View" link is the way to buy)."""
    from dataclasses import replace

    from sqlmodel import col

    from app.models import WidgetAction

    if not cards or not widget_id:
        return cards
    with session_scope() as session:
        scope = TenantScope(session, tenant_id)
        on = scope.all(
            WidgetAction,
            WidgetAction.widget_id == widget_id,
            WidgetAction.name == "add_to_cart",
            col(WidgetAction.enabled).is_(True),
            limit=1,
        )
        if not on:
            return cards
        out = []
        for card in cards:
            product = product_of(session, tenant_id, card.id)
            ok = product is not None and cart_supported(session, tenant_id, product)
            out.append(replace(card, can_cart=ok))
        return out


# ---- get_order_status ---------------------------------------------------------------------


def _order_status(ctx: ActionContext, args: dict[str, Any]) -> str:
    from app.services.limits import RateLimitedError
    from app.services.orders import OrderLookupUnavailable, lookup_order

    try:
        found = lookup_order(
            ctx.tenant_id,
            str(args.get("order_number") or ""),
            str(args.get("email") or ""),
            requester=ctx.conversation_id,
        )
    except (RateLimitedError, OrderLookupUnavailable) as exc:
        return f"Error: {exc}"
    # A wrong email and an unknown number read the same: nothing tells which one was wrong.
    return found.summary() if found else "No order matches that order number and email."


register(
    Builtin(
        name="get_order_status",
        description=(
            "Look up the status of the visitor's order. Needs BOTH the order number and the "
            "email address used for the order; ask the visitor for whichever is missing."
        ),
        parameters={
            "type": "object",
            "properties": {
                "order_number": {"type": "string", "minLength": 1, "maxLength": 40},
                "email": {"type": "string", "minLength": 3, "maxLength": 254},
            },
            "required": ["order_number", "email"],
        },
        run=_order_status,
    )
)
