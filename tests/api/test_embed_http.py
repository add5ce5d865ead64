"""/embed/* over HTTP: the loader and demo are served with caching and gzip; embed pages
get their widget's frame-ancestors (and no X-Frame-Options); the websocket endpoint
refuses foreign origins. The middleware decides by path, so it is exercised here with a
stub inner app standing in for the compiled frontend."""

from __future__ import annotations

import gzip

import httpx
import pytest
from sqlalchemy import Engine

from app.db import session_scope
from app.middleware import SecurityHeadersMiddleware, embed_widget_id, frame_policies
from app.services import accounts, widgets

BASE = "http://127.0.0.1:3000"


async def test_widget_js_is_served_gzipped_with_an_etag(client: httpx.AsyncClient) -> None:
    r = await client.get("/embed/widget.js", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-encoding"] == "gzip"
    assert "max-age=300" in r.headers["cache-control"]
    assert "ChatConnect embed loader" in r.text  # httpx decodes gzip
    assert len(r.content) > 0
    etag = r.headers["etag"]
    again = await client.get("/embed/widget.js", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    plain = await client.get("/embed/widget.js", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert (
        "frame-ancestors 'self' http://127.0.0.1:3000" in plain.headers["content-security-policy"]
    )


async def test_loader_is_small_and_demo_is_html(client: httpx.AsyncClient) -> None:
    from app.api.embed_assets import load_asset

    assert len(load_asset("widget.js", "text/javascript", 300).gzipped) <= 10 * 1024
    r = await client.get("/embed/demo.html")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "data-widget-id" in r.text


def test_embed_widget_id() -> None:
    assert embed_widget_id("/embed/abc") == "abc"
    assert embed_widget_id("/embed/abc/") == "abc"
    assert embed_widget_id("/embed/") is None
    assert embed_widget_id("/embed/a/b") is None
    assert embed_widget_id("/overview") is None


async def _page(path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async def frontend(scope, receive, send):  # type: ignore[no-untyped-def]
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html"), (b"x-frame-options", b"DENY")],
            }
        )
        await send({"type": "http.response.body", "body": b"<html></html>"})

    transport = httpx.ASGITransport(app=SecurityHeadersMiddleware(frontend))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        return await http.get(path, headers=headers or {})


@pytest.fixture
def seeded(engine: Engine) -> dict[str, str]:
    frame_policies.clear()
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "o@o.io", "a-long-password", "Owner")
        shop = widgets.create_widget(
            s, tenant.id, "Shop", allowed_domains=["shop.com", "*.docs.io", "127.0.0.1:8765"]
        )
        empty = widgets.create_widget(s, tenant.id, "Empty")
        off = widgets.create_widget(s, tenant.id, "Off", allowed_domains=["shop.com"])
        off.enabled = False
        ids = {"shop": shop.id, "empty": empty.id, "off": off.id}
    yield ids
    frame_policies.clear()


async def test_embed_pages_get_their_widget_policy(seeded: dict[str, str]) -> None:
    r = await _page(f"/embed/{seeded['shop']}?host=x")
    assert r.headers["content-security-policy"] == (
        "frame-ancestors 'self' http://127.0.0.1:3000 shop.com www.shop.com "
        "*.docs.io docs.io 127.0.0.1:8765"
    )
    assert "x-frame-options" not in r.headers
    only_us = "frame-ancestors 'self' http://127.0.0.1:3000"
    for key in ("empty", "off"):
        r = await _page(f"/embed/{seeded[key]}")
        assert r.headers["content-security-policy"] == only_us
    r = await _page("/embed/no-such-widget")
    assert r.headers["content-security-policy"] == only_us


async def test_every_other_page_cannot_be_framed(seeded: dict[str, str]) -> None:
    r = await _page("/overview")
    assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert r.headers["x-frame-options"] == "DENY"


async def _handshake(origin: str | None) -> list[dict]:
    sent: list[dict] = []
    reached: list[bool] = []

    async def inner(scope, receive, send):  # type: ignore[no-untyped-def]
        reached.append(True)
        await send({"type": "websocket.accept"})

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    headers = [(b"host", b"127.0.0.1:3000")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    scope = {"type": "websocket", "path": "/_event/", "headers": headers}
    await SecurityHeadersMiddleware(inner)(scope, receive, send)
    return [*sent, *({"reached": True} for _ in reached)]


async def test_websocket_accepts_only_our_origin() -> None:
    assert await _handshake(BASE) == [{"type": "websocket.accept"}, {"reached": True}]
    for origin in ("http://evil.example", "http://127.0.0.1:8765", None):
        assert await _handshake(origin) == [{"type": "websocket.close", "code": 1008}]


async def test_polling_fallback_is_refused_for_foreign_origins() -> None:
    r = await _page("/_event/?EIO=4&transport=polling", {"origin": "http://evil.example"})
    assert r.status_code == 403


def test_gzip_roundtrip_of_loader() -> None:
    from app.api.embed_assets import load_asset

    asset = load_asset("widget.js", "text/javascript", 300)
    assert gzip.decompress(asset.gzipped) == asset.body


async def _config(client: httpx.AsyncClient, widget_id: str, **headers: str) -> httpx.Response:
    return await client.get(f"/embed/{widget_id}/config.json", headers=headers)


async def test_loader_config_for_an_allowed_origin(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    r = await _config(client, seeded["shop"], origin="https://www.shop.com")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["access-control-allow-origin"] == "*"
    assert "max-age=60" in r.headers["cache-control"]
    assert r.headers["vary"] == "Origin"
    body = r.json()
    assert body["allowed"] is True
    assert set(body) == {"allowed", "title", "color", "position", "avatar_url"}
    assert body["color"].startswith("#") and body["position"] in ("left", "right")
    # Nothing secret: no tenant, no domains list, no prompt.
    assert "tenant" not in r.text and "shop.com" not in r.text
    etag = r.headers["etag"]
    again = await _config(
        client, seeded["shop"], origin="https://www.shop.com", **{"if-none-match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""


async def test_loader_config_refuses_other_origins_with_the_frame_ancestors_rule(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    cases = {
        "https://shop.com": True,
        "https://a.docs.io": True,
        "http://127.0.0.1:8765": True,
        "http://127.0.0.1:3000": True,  # our own origin (demo page, dashboard)
        "https://evil.com": False,
        "http://127.0.0.1:8766": False,
        "https://shop.com:8443": False,
    }
    for origin, allowed in cases.items():
        r = await _config(client, seeded["shop"], origin=origin)
        assert r.status_code == 200, origin
        assert r.json()["allowed"] is allowed, origin
        if not allowed:
            assert r.json() == {"allowed": False}
    # A same-origin fetch sends no Origin header: the loader names its origin in the query.
    r = await client.get(f"/embed/{seeded['shop']}/config.json?origin=https%3A%2F%2Fevil.com")
    assert r.json() == {"allowed": False}
    r = await client.get(f"/embed/{seeded['shop']}/config.json")
    assert r.json()["allowed"] is True
    r = await _config(client, seeded["empty"], origin="https://shop.com")
    assert r.json() == {"allowed": False}


async def test_loader_config_of_a_missing_or_disabled_widget_is_404(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    for widget_id in (seeded["off"], "no-such-widget", "bad%20id", "x" * 65):
        r = await _config(client, widget_id, origin="https://shop.com")
        assert r.status_code == 404, widget_id
        assert r.json() == {"error": "not_found"}
        # Readable cross-origin, so the loader can tell "gone" from "network down".
        assert r.headers["access-control-allow-origin"] == "*"
