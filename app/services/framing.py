"""Who may frame the chat page, and who may open the Reflex websocket.

`frame_ancestors` turns a widget's allowed domains (already normalised by
`app.services.widgets.normalize_domain`) into a CSP `frame-ancestors` directive. The app's
own origin (PUBLIC_URL) is always allowed, so the dashboard's live preview works; an empty
list therefore means "only the dashboard". `FramePolicyCache` looks the domains up by
widget id for the ASGI middleware, which sees page requests before any Reflex code runs.
`origin_may_frame` answers, for the loader's config, whether a browser will let a given
origin frame the chat page under that directive (CSP3 host-source matching).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from app.rag.domains import parse_domain

WIDGET_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _sources_for(domain: str) -> list[str]:
    """CSP host-sources for one allowed domain, by the rule in `app.rag.domains` (the
    same one that decides which links in answers stay clickable).

    Only a stored value in its canonical form counts: anything else is ignored rather
    than reinterpreted, so a stored value can never inject another source or directive.
    """
    pattern = parse_domain(domain)
    if pattern is None or pattern.text != domain.strip().lower():
        return []
    return pattern.csp_sources()


def frame_sources(domains: list[str] | None, public_origin: str) -> list[str]:
    """The source list of `frame_ancestors`, in order, without duplicates."""
    sources = ["'self'", public_origin]
    for domain in domains or []:
        sources.extend(_sources_for(domain))
    return list(dict.fromkeys(sources))


def frame_ancestors(domains: list[str] | None, public_origin: str) -> str:
    """The CSP value for an embed page: the allowed domains plus our own origin."""
    return "frame-ancestors " + " ".join(frame_sources(domains, public_origin))


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _split_origin(origin: str) -> tuple[str, str, int] | None:
    """'https://Shop.com:8443' -> ('https', 'shop.com', 8443); None if not an http(s) origin."""
    parts = urlsplit(origin or "")
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower().rstrip("."), port


def _host_source_matches(source: str, ancestor: tuple[str, str, int], own_scheme: str) -> bool:
    """CSP3 "does url match expression" for a scheme-less `host[:port]` source.

    Scheme: the protected page's own (an http page also admits https ancestors). Host:
    exact, or "*.x" for strict subdomains of x. Port: exact; none means the scheme's default.
    """
    scheme, host, port = ancestor
    if scheme != own_scheme and not (own_scheme == "http" and scheme == "https"):
        return False
    source_host, _, source_port = source.partition(":")
    if source_host.startswith("*."):
        if not host.endswith(source_host[1:]):
            return False
    elif host != source_host:
        return False
    if source_port:
        return source_port.isdigit() and int(source_port) == port
    return port == _DEFAULT_PORTS[scheme]


def origin_may_frame(origin: str, domains: list[str] | None, public_origin: str) -> bool:
    """Would a browser let a page of `origin` frame the chat page?

    The same decision the browser makes with `frame_ancestors(domains, public_origin)`
    for the page's parent; the loader uses it to stay invisible where the frame would be
    refused. Our own origin (the dashboard, the demo page) is always allowed.
    """
    ancestor = _split_origin(origin)
    own = _split_origin(public_origin)
    if ancestor is None or own is None:
        return False
    if ancestor == own:
        return True  # 'self' and the PUBLIC_URL origin
    return any(
        _host_source_matches(source, ancestor, own[0])
        for source in frame_sources(domains, public_origin)[2:]
    )


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
