"""What every catalogue connector shares: the product record, errors, limits, JSON over HTTP.

A connector reads one shop's catalogue and returns plain `Product` records. It is handed an
`httpx.Client` (the services layer passes one that enforces the outbound rules: no private
addresses, time and size limits), so connectors know protocols, not policy.
"""

from __future__ import annotations

import html
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

MAX_RESPONSE_BYTES = 20 * 1024 * 1024  # one page of a catalogue API; bigger is an error
MAX_PRODUCTS = 10_000  # per catalogue and sync: a bound on memory and on embedding work
MAX_PAGES = 1_000
MAX_TEXT_CHARS = 4_000  # per description: enough to answer from, small enough to embed


class ConnectorError(Exception):
    """Base of what a sync reports to the owner (the message is safe to show)."""


class ConnectorConfigError(ConnectorError):
    """The settings cannot work (missing URL, bad mapping...)."""


class ConnectorAuthError(ConnectorError):
    """The shop refused the credentials."""


class ConnectorUnavailable(ConnectorError):
    """Timeout, connection refused or a 5xx: worth retrying later."""


class ConnectorResponseError(ConnectorError):
    """The shop answered something that is not the documented shape."""


@dataclass(frozen=True)
class Product:
    external_id: str
    title: str
    price: Decimal
    currency: str
    description: str = ""
    category: str = ""
    image_url: str | None = None
    product_url: str | None = None
    in_stock: bool | None = None  # None: the shop does not track stock for it
    stock_qty: float | None = None
    sku: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def embed_text(self) -> str:
        """What goes into the index (the payload keeps price, stock and links)."""
        parts = [self.title]
        if self.category:
            parts.append(f"Category: {self.category}")
        parts.extend(f"{k}: {v}" for k, v in sorted(self.attributes.items()))
        if self.description:
            parts.append(self.description)
        return "\n".join(parts)


@dataclass(frozen=True)
class SkippedRecord:
    external_id: str | None
    reason: str


@dataclass
class Catalogue:
    products: list[Product] = field(default_factory=list)
    skipped: list[SkippedRecord] = field(default_factory=list)
    truncated: bool = False  # stopped at MAX_PRODUCTS

    def add(self, parsed: Product | SkippedRecord, max_products: int) -> bool:
        """Keep a product or note a skip; False once the cap is reached (stop reading)."""
        if isinstance(parsed, SkippedRecord):
            self.skipped.append(parsed)
            return True
        if len(self.products) >= max_products:
            self.truncated = True
            return False
        self.products.append(parsed)
        return True


@dataclass(frozen=True)
class CartResult:
    """What adding to a shop's cart did; `message` is fit for the visitor."""

    added: bool
    message: str
    cart_id: str | None = None


@dataclass(frozen=True)
class Order:
    """One order as the shop reports it. `email` is the customer's address as the shop
    stores it: the services layer compares it with what the visitor typed and never shows
    it; nothing here is shown unless both the number and the email matched."""

    number: str
    email: str
    status: str
    placed_at: str | None = None  # ISO date/time as the shop gave it
    total: Decimal | None = None
    currency: str = ""
    items: tuple[str, ...] = ()  # "2 x Backpack"
    tracking: tuple[str, ...] = ()  # carrier tracking numbers, when the shop has them


class CatalogueConnector(ABC):
    """One shop protocol. `config` holds the owner's settings with secrets already decrypted."""

    kind: ClassVar[str]
    label: ClassVar[str]
    secret_fields: ClassVar[tuple[str, ...]] = ()  # stored encrypted, never shown back
    supports_cart: ClassVar[bool] = False

    def __init__(self, config: Mapping[str, Any], http: httpx.Client) -> None:
        self.config = self.validate_config(config)
        self.http = http

    @classmethod
    @abstractmethod
    def validate_config(cls, config: Mapping[str, Any]) -> dict[str, Any]:
        """Normalized settings, or ConnectorConfigError naming the field."""

    @abstractmethod
    def fetch(self, max_products: int = MAX_PRODUCTS) -> Catalogue:
        """Every product (all pages), malformed records skipped with their reason."""

    @classmethod
    def cart_enabled(cls, config: Mapping[str, Any]) -> bool:
        """Whether this shop's settings let us put products in a cart (else: a deep link)."""
        return cls.supports_cart

    def add_to_cart(self, external_id: str, quantity: int, cart_ref: str) -> CartResult:
        """Put a product in the cart named by `cart_ref` (one per conversation)."""
        raise ConnectorConfigError("this shop has no cart API; link to the product instead")

    # ---- optional: orders ------------------------------------------------------------------

    def supports_orders(self) -> bool:
        """Whether `find_order` works with these settings (a connector may need extra ones)."""
        return False

    def find_order(self, number: str) -> Order | None:
        """The order with exactly this number, or None when the shop has none. The caller
        checks the email; a connector never filters by it (one code path for both cases)."""
        raise NotImplementedError(f"{self.label} cannot look up orders")


# ---- helpers shared by the connectors ---------------------------------------------------


def require_http_url(config: Mapping[str, Any], key: str) -> str:
    value = str(config.get(key) or "").strip()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConnectorConfigError(f"{key}: an http(s) URL is required")
    if parts.username or parts.password:
        raise ConnectorConfigError(f"{key}: put credentials in their own fields, not the URL")
    return value.rstrip("/")


def order_items(lines: Any, name_key: str, qty_key: str, limit: int = 20) -> tuple[str, ...]:
    """ "2 x Backpack" lines from an order's item records (malformed ones skipped)."""
    out: list[str] = []
    for line in lines if isinstance(lines, list) else []:
        if not isinstance(line, Mapping):
            continue
        name = clean_text(line.get(name_key), limit=200)
        qty = line.get(qty_key)
        if not name:
            continue
        if isinstance(qty, int | float) and not isinstance(qty, bool) and qty > 0:
            out.append(f"{qty:g} x {name}")
        else:
            out.append(name)
        if len(out) >= limit:
            break
    return tuple(out)


def price_or_none(value: Any) -> Decimal | None:
    try:
        return to_price(value)
    except ValueError:
        return None


def require_text(config: Mapping[str, Any], key: str) -> str:
    value = str(config.get(key) or "").strip()
    if not value:
        raise ConnectorConfigError(f"{key} is required")
    return value


def page_size(config: Mapping[str, Any], default: int = 100) -> int:
    raw = config.get("page_size")
    try:
        size = default if raw in (None, "") else int(raw)
    except (TypeError, ValueError) as exc:
        raise ConnectorConfigError("page_size must be a whole number") from exc
    if not 1 <= size <= 1000:
        raise ConnectorConfigError("page_size must be between 1 and 1000")
    return size


def request_json(
    http: httpx.Client, method: str, url: str, *, none_on_404: bool = False, **kwargs: Any
) -> Any:
    """One request, its JSON body; errors mapped to what an owner can act on (a 404 is
    None with `none_on_404`: an API that answers "no such record" that way)."""
    try:
        with http.stream(method, url, **kwargs) as response:
            status = response.status_code
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_RESPONSE_BYTES:
                    raise ConnectorResponseError(
                        f"the shop's response is larger than {MAX_RESPONSE_BYTES // 2**20} MB"
                    )
    except httpx.TimeoutException as exc:
        raise ConnectorUnavailable("the shop did not answer in time") from exc
    except httpx.TransportError as exc:
        raise ConnectorUnavailable(f"cannot reach the shop ({type(exc).__name__})") from exc
    if status in (401, 403):
        raise ConnectorAuthError(f"the shop refused the credentials (HTTP {status})")
    if status == 404 and none_on_404:
        return None
    if status == 429 or status >= 500:
        raise ConnectorUnavailable(f"the shop answered HTTP {status}")
    if status >= 400:
        raise ConnectorResponseError(f"the shop answered HTTP {status} for {urlsplit(url).path}")
    try:
        return json.loads(bytes(body))
    except ValueError as exc:
        raise ConnectorResponseError("the shop's answer is not JSON") from exc


def to_price(value: Any) -> Decimal:
    """A non-negative finite price from a number or a numeric string, else ValueError."""
    if isinstance(value, bool) or value is None:
        raise ValueError("no price")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("price is not a number")
    try:
        price = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"price {str(value)[:20]!r} is not a number") from exc
    if not price.is_finite() or price < 0:
        raise ValueError("price must be a non-negative number")
    return price.quantize(Decimal("0.01"))


def clean_text(value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    """Plain text from a shop field that may hold HTML (Magento/Odoo descriptions)."""
    if value is None or value is False:
        return ""
    text = str(value)
    if "<" in text:
        text = _strip_html(text)
    text = re.sub(r"[ \t\r\f\v]+", " ", html.unescape(text))
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    return text[:limit]


def dig(record: Any, path: str) -> Any:
    """`record["a"]["b"][0]` for the path "a.b.0"; None when any step is missing."""
    current = record
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def http_url_or_none(value: Any) -> str | None:
    """Links and images must be absolute http(s); anything else is dropped, not trusted."""
    if not isinstance(value, str):
        return None
    parts = urlsplit(value.strip())
    if parts.scheme in ("http", "https") and parts.hostname:
        return value.strip()
    return None


class _TextOnly(HTMLParser):
    _BLOCKS = frozenset({"p", "br", "li", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
    _SKIP = frozenset({"script", "style"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.out.append(data)


def _strip_html(text: str) -> str:
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    return "".join(parser.out)
