"""`app.rag.domains`: the allowed-domains rule shared by frame-ancestors and answer links."""

from __future__ import annotations

import pytest

from app.rag.domains import DomainPattern, parse_domain


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("Example.COM", "example.com"),
        ("https://Shop.Example.com:8443/path?q=1", "shop.example.com:8443"),
        ("example.com.", "example.com"),
        ("*.docs.example.com", "*.docs.example.com"),
        ("münchen.de", "xn--mnchen-3ya.de"),
        ("127.0.0.1:8765", "127.0.0.1:8765"),
        ("localhost", "localhost"),
    ],
)
def test_parse_canonical_forms(value: str, text: str) -> None:
    pattern = parse_domain(value)
    assert pattern is not None and pattern.text == text


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "*",
        "*.com",
        "*.localhost",
        "*.1.2.3.4",
        "a.com@evil.io",
        "a.com:0",
        "a.com:99999",
        "a.com:x",
        "-a.com",
        "a..com",
        "1.2.3",
        "evil.com; script-src *",
        "a.com b.com",
        "[::1]",
    ],
)
def test_unusable_patterns(value: str) -> None:
    assert parse_domain(value) is None


def test_default_ports_only_without_a_port() -> None:
    p = DomainPattern("example.com", None, False)
    assert p.admits("https", "example.com") and p.admits("https", "example.com", 443)
    assert p.admits("http", "www.example.com", 80)
    assert not p.admits("https", "example.com", 8443)
    assert not p.admits("http", "example.com", 443)
    assert not p.admits("ftp", "example.com")
    assert not p.admits("https", "api.example.com")


def test_explicit_port_and_wildcards() -> None:
    p = parse_domain("*.example.com:8443")
    assert p is not None
    assert p.admits("https", "example.com", 8443) and p.admits("https", "a.b.example.com", 8443)
    assert not p.admits("https", "a.example.com") and not p.admits("https", "evilexample.com", 8443)
    assert p.csp_sources() == ["*.example.com:8443", "example.com:8443"]
    assert parse_domain("www.example.com").csp_sources() == ["www.example.com"]  # type: ignore[union-attr]
