"""Order status for visitors: the shop is asked, details shown only when number AND email match.

    lookup_order(tenant_id, order_number, email, requester=conversation_or_visitor_id)
        -> OrderStatus | None

The one function the chat uses (intent mode's order dialogue, the LLM tool
`get_order_status`). It asks the workspace's first catalogue whose connector can look up
orders (Magento 2, Odoo, or a JSON catalogue with an `orders_url`) for the order with that
exact number, then compares the order's email with the one given (case-insensitive,
constant time). An unknown number and a wrong email both return None: a caller cannot
tell them apart, and neither can a visitor. Every call (even a malformed one) counts
against a per-requester rate limit (app.services.limits), so numbers and emails cannot be
enumerated: `RateLimitedError` when exceeded. `OrderLookupUnavailable` when the workspace
has no shop that can look up orders, or the shop cannot be reached (its message is safe
to show a visitor).
"""

from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass

from app.connectors import CatalogueConnector, ConnectorError, Order, connector_class
from app.db import session_scope
from app.services import catalogues, outbound
from app.services.limits import get_rate_limiter
from app.services.product_search import format_price

log = logging.getLogger("chatconnect.orders")

NUMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-/]{0,39}")
EMAIL_RE = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}")
# Shop status codes (Magento states/statuses, Odoo sale.order states) in visitor words.
STATUS_WORDS = {
    "pending": "received, awaiting payment or processing",
    "pending_payment": "awaiting payment",
    "processing": "being prepared",
    "complete": "shipped",
    "closed": "closed (refunded)",
    "canceled": "cancelled",
    "cancelled": "cancelled",
    "holded": "on hold",
    "draft": "not yet confirmed",
    "sent": "not yet confirmed",
    "sale": "confirmed",
    "done": "completed",
    "cancel": "cancelled",
}


class OrderLookupUnavailable(RuntimeError):
    """No shop that can look up orders, or the shop failed: the message is safe to show."""


@dataclass(frozen=True, slots=True)
class OrderStatus:
    number: str
    status: str  # in visitor words
    placed_at: str | None
    total: str | None  # formatted with its currency
    items: tuple[str, ...]
    tracking: tuple[str, ...]

    def summary(self) -> str:
        """One short plain-text paragraph for a chat answer."""
        parts = [f"Order {self.number} is {self.status}."]
        if self.placed_at:
            parts.append(f"Placed on {self.placed_at[:10]}.")
        if self.items:
            parts.append("Items: " + ", ".join(self.items[:5]) + ".")
        if self.total:
            parts.append(f"Total: {self.total}.")
        if self.tracking:
            parts.append("Tracking: " + ", ".join(self.tracking) + ".")
        return " ".join(parts)


def clean_number(value: str) -> str | None:
    """An order number as typed ("#1234", " S00042 ") or None when it cannot be one."""
    text = (value or "").strip().lstrip("#").strip()
    return text if NUMBER_RE.fullmatch(text) else None


def clean_email(value: str) -> str | None:
    text = (value or "").strip().strip("<>.,;").casefold()
    return text if len(text) <= 254 and EMAIL_RE.fullmatch(text) else None


def emails_match(given: str, stored: str) -> bool:
    """Case-insensitive, in constant time for equal lengths (hmac.compare_digest)."""
    a = (given or "").strip().casefold().encode()
    b = (stored or "").strip().casefold().encode()
    return bool(b) and hmac.compare_digest(a, b)


def _order_shops(tenant_id: str) -> list[tuple[str, dict]]:
    """(kind, decrypted settings) of the catalogues that can look up orders, oldest first."""
    with session_scope() as session:
        rows = catalogues.list_catalogues(session, tenant_id)
        out = []
        for row in rows:
            try:
                config = connector_class(row.kind).validate_config(catalogues.full_config(row))
            except ConnectorError:
                continue
            except ValueError:  # its secrets cannot be decrypted (SECRET_KEY changed)
                log.warning("catalogue %s: stored secrets cannot be decrypted", row.id)
                continue
            out.append((row.kind, config))
        return out


def _connector(kind: str, config: dict, http) -> CatalogueConnector:  # type: ignore[no-untyped-def]
    return connector_class(kind)(config, http)


def order_lookup_available(tenant_id: str) -> bool:
    """Whether this workspace has a shop that can look up orders (no network call)."""
    return any(_connector(k, c, None).supports_orders() for k, c in _order_shops(tenant_id))


def lookup_order(
    tenant_id: str, order_number: str, email: str, *, requester: str = ""
) -> OrderStatus | None:
    """The order's status when `order_number` exists in the workspace's shop AND its email
    equals `email` (case-insensitive); None otherwise (unknown number, wrong email, malformed
    input all look the same). `requester`: the conversation or visitor id the rate limit
    counts against. Raises RateLimitedError, OrderLookupUnavailable."""
    get_rate_limiter().check_order_lookup(tenant_id, requester)
    number, wanted = clean_number(order_number), clean_email(email)
    shops = [(k, c) for k, c in _order_shops(tenant_id) if _connector(k, c, None).supports_orders()]
    if not shops:
        raise OrderLookupUnavailable("Order lookup is not set up for this shop.")
    if number is None or wanted is None:
        return None
    kind, config = shops[0]
    url = str(config.get(catalogues.BASE_URL_FIELD.get(kind, "url")) or "")
    try:
        with catalogues._shop_client(url) as http:
            order = _connector(kind, config, http).find_order(number)
    except (ConnectorError, outbound.OutboundError) as exc:
        log.warning("order lookup failed for tenant %s: %s", tenant_id, exc)
        raise OrderLookupUnavailable("I can't reach the shop's order system right now.") from exc
    if order is None or not emails_match(wanted, order.email):
        return None
    return _status(order)


def _status(order: Order) -> OrderStatus:
    code = order.status.strip().lower()
    return OrderStatus(
        number=order.number,
        status=STATUS_WORDS.get(code, code.replace("_", " ") or "unknown"),
        placed_at=order.placed_at,
        total=format_price(order.total, order.currency or "USD")
        if order.total is not None
        else None,
        items=order.items,
        tracking=order.tracking,
    )
