"""Who may frame the chat page, and who may open the Reflex websocket.

`frame_ancestors` turns a widget's allowed domains (already normalised by
`app.services.widgets.normalize_domain`) into a CSP `frame-ancestors` directive. The app's
own origin (PUBLIC_URL) is always allowed, so the dashboard's live preview works; an empty
list therefore means "only the dashboard". `FramePolicyCache` looks the domains up by
widget id for the ASGI middleware, which sees page requests before any Reflex code runs.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

WIDGET_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SAFE_SOURCE = re.compile(r"^(\*\.)?[a-z0-9.-]+(:\d{1,5})?$")


def _sources_for(domain: str) -> list[str]:
    """CSP host-sources for one allowed domain.

    A scheme-less host-source matches the chat page's own scheme (and http -> https
    upgrades). Like the link rule in `app.rag.sanitize`, "example.com" also admits
    "www.example.com", and "*.example.com" also the apex (CSP's wildcard excludes it).
    """
    domain = domain.strip().lower()
    if not _SAFE_SOURCE.match(domain):
        return []  # never let a stored value inject another directive
    host, _, port = domain.partition(":")
    suffix = f":{port}" if port else ""
    if host.startswith("*."):
        return [domain, host[2:] + suffix]
    labels = host.split(".")
    is_ip = len(labels) == 4 and all(p.isdigit() for p in labels)
    if is_ip or host == "localhost" or host.startswith("www."):
        return [domain]
    return [domain, f"www.{host}{suffix}"]


def frame_ancestors(domains: list[str] | None, public_origin: str) -> str:
    """The CSP value for an embed page: the allowed domains plus our own origin."""
    sources = ["'self'", public_origin]
    for domain in domains or []:
        sources.extend(_sources_for(domain))
    return "frame-ancestors " + " ".join(dict.fromkeys(sources))


def origin_of(url: str) -> str:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}".lower()


def websocket_origin_allowed(origin: str | None, public_origin: str) -> bool:
    """Only pages served by this app may open the Reflex websocket (no Origin: refused)."""
    return bool(origin) and origin_of(origin or "") == public_origin.lower()


class FramePolicyCache:
    """Per-widget frame-ancestors, cached for `ttl_s` so page loads do not hit the database.

    `lookup(widget_id)` returns the allowed domains of an enabled widget, or None for an
    unknown or disabled one (which gets only our own origin). Lookup errors fail closed.
    """

    def __init__(
        self, lookup: Callable[[str], list[str] | None], ttl_s: float = 10.0, size: int = 4096
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl_s
        self._size = size
        self._items: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def policy(self, widget_id: str, public_origin: str) -> str:
        if not WIDGET_ID_RE.match(widget_id):
            return frame_ancestors(None, public_origin)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(widget_id)
        if hit and hit[0] > now:
            return hit[1]
        try:
            domains = self._lookup(widget_id)
        except Exception:  # database unavailable: the strictest policy, not an error page
            return frame_ancestors(None, public_origin)
        value = frame_ancestors(domains, public_origin)
        with self._lock:
            if len(self._items) >= self._size:
                self._items.clear()
            self._items[widget_id] = (now + self._ttl, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
