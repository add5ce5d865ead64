"""frame-ancestors for embed pages and the websocket origin rule."""

from __future__ import annotations

import pytest

from app.services.framing import (
    FramePolicyCache,
    frame_ancestors,
    origin_may_frame,
    origin_of,
    websocket_origin_allowed,
)
from app.services.widgets import normalize_domain

OWN = "https://chat.example.net"


def sources(policy: str) -> list[str]:
    name, *rest = policy.split()
    assert name == "frame-ancestors"
    return rest


def test_empty_list_allows_only_the_dashboard() -> None:
    assert frame_ancestors([], OWN) == f"frame-ancestors 'self' {OWN}"
    assert frame_ancestors(None, OWN) == f"frame-ancestors 'self' {OWN}"


def test_plain_domain_also_admits_www() -> None:
    assert sources(frame_ancestors(["shop.com"], OWN)) == [
        "'self'",
        OWN,
        "shop.com",
        "www.shop.com",
    ]
    assert "www.www.shop.com" not in frame_ancestors(["www.shop.com"], OWN)


def test_wildcard_admits_subdomains_and_apex() -> None:
    got = sources(frame_ancestors([normalize_domain("*.Example.com")], OWN))
    assert got[2:] == ["*.example.com", "example.com"]


def test_ports_ips_and_localhost_are_kept_exact() -> None:
    domains = [normalize_domain(d) for d in ("http://127.0.0.1:8765/page", "localhost:3000")]
    assert sources(frame_ancestors(domains, OWN))[2:] == ["127.0.0.1:8765", "localhost:3000"]
    assert sources(frame_ancestors(["shop.com:8443"], OWN))[2:] == [
        "shop.com:8443",
        "www.shop.com:8443",
    ]


@pytest.mark.parametrize(
    "stored",
    ["evil.com; script-src *", "a.com 'unsafe-inline'", "https://x.com", "*", "a.com,b.com"],
)
def test_a_malformed_stored_value_cannot_inject_sources_or_directives(stored: str) -> None:
    policy = frame_ancestors([stored], OWN)
    assert policy == f"frame-ancestors 'self' {OWN}"


def test_duplicates_are_dropped() -> None:
    policy = frame_ancestors(["a.com", "a.com", "www.a.com"], OWN)
    assert sources(policy) == ["'self'", OWN, "a.com", "www.a.com"]


def test_cache_looks_up_once_and_unknown_widgets_get_only_our_origin() -> None:
    calls: list[str] = []

    def lookup(widget_id: str) -> list[str] | None:
        calls.append(widget_id)
        return {"w1": ["shop.com"]}.get(widget_id)

    cache = FramePolicyCache(lookup, ttl_s=60)
    assert "shop.com" in cache.policy("w1", OWN)
    assert "shop.com" in cache.policy("w1", OWN)
    assert cache.policy("unknown", OWN) == f"frame-ancestors 'self' {OWN}"
    assert calls == ["w1", "unknown"]
    # Ids that cannot be widget ids never reach the database.
    assert cache.policy("widget.js", OWN) == f"frame-ancestors 'self' {OWN}"
    assert cache.policy("x" * 65, OWN) == f"frame-ancestors 'self' {OWN}"
    assert calls == ["w1", "unknown"]


def test_cache_expires_and_fails_closed() -> None:
    domains = {"w": ["a.com"]}
    cache = FramePolicyCache(lambda w: domains[w], ttl_s=0)
    assert "a.com" in cache.policy("w", OWN)
    domains["w"] = ["b.com"]
    assert "b.com" in cache.policy("w", OWN)

    def broken(widget_id: str) -> list[str] | None:
        raise RuntimeError("database down")

    assert FramePolicyCache(broken).policy("w", OWN) == f"frame-ancestors 'self' {OWN}"


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        (OWN, True),
        ("HTTPS://Chat.Example.net", True),
        ("https://chat.example.net:8443", False),
        ("http://chat.example.net", False),
        ("https://evil.example.net", False),
        ("null", False),
        ("", False),
        (None, False),
    ],
)
def test_websocket_origin(origin: str | None, ok: bool) -> None:
    assert websocket_origin_allowed(origin, OWN) is ok


def test_origin_of() -> None:
    assert origin_of("https://a.com/x?y#z") == "https://a.com"
    assert origin_of("javascript:alert(1)") == ""
    assert origin_of("") == ""


# origin_may_frame must agree with what browsers do with frame_ancestors(domains, OWN):
# CSP3 host-source matching for the chat page served from OWN (https).
DOMAINS = ["shop.com", "*.docs.io", "127.0.0.1:8765", "localhost:3000", "www.cafe.org"]


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("https://shop.com", True),
        ("https://www.shop.com", True),  # "shop.com" also admits www
        ("https://SHOP.com", True),
        ("https://shop.com:443", True),
        ("https://shop.com:8443", False),  # no port in the source: default port only
        ("http://shop.com", False),  # an https chat page: http ancestors do not match
        ("https://blog.shop.com", False),
        ("https://evil-shop.com", False),
        ("https://shop.com.evil.io", False),
        ("https://docs.io", True),  # "*.docs.io" also admits the apex
        ("https://a.docs.io", True),
        ("https://a.b.docs.io", True),
        ("https://xdocs.io", False),
        ("https://127.0.0.1:8765", True),
        ("https://127.0.0.1:8766", False),
        ("https://127.0.0.1", False),
        ("https://localhost:3000", True),
        ("https://www.cafe.org", True),
        ("https://cafe.org", False),  # "www.x" admits only itself
        (OWN, True),  # the dashboard's preview
        ("https://chat.example.net:8443", False),
        ("null", False),
        ("", False),
        ("javascript:alert(1)", False),
    ],
)
def test_origin_may_frame_follows_the_frame_ancestors_sources(origin: str, ok: bool) -> None:
    assert origin_may_frame(origin, DOMAINS, OWN) is ok


def test_origin_may_frame_on_an_http_app_admits_http_and_https_ancestors() -> None:
    own = "http://127.0.0.1:3000"
    assert origin_may_frame("http://127.0.0.1:8765", ["127.0.0.1:8765"], own)
    assert origin_may_frame("https://127.0.0.1:8765", ["127.0.0.1:8765"], own)
    assert origin_may_frame("http://shop.com", ["shop.com"], own)
    assert not origin_may_frame("http://127.0.0.1:8766", ["127.0.0.1:8765"], own)
    assert origin_may_frame(own, [], own)


def test_origin_may_frame_with_no_domains_or_a_malformed_one() -> None:
    assert not origin_may_frame("https://shop.com", [], OWN)
    assert not origin_may_frame("https://shop.com", None, OWN)
    assert not origin_may_frame("https://evil.com", ["evil.com; script-src *"], OWN)
    assert origin_may_frame(OWN, None, OWN)
