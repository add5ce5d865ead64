"""Pure-ASGI security headers and the websocket origin check. Being pure ASGI, it also sees
the page requests that the compiled frontend mount answers in prod mode, and it never
buffers streamed bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from app.services.framing import FramePolicyCache, websocket_origin_allowed
from app.settings import get_settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]

BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
]

# Nothing may frame the dashboard (clickjacking). Embed pages get a per-widget policy.
DEFAULT_FRAME_POLICY = b"frame-ancestors 'none'"
EMBED_PREFIX = "/embed/"
# Reflex's socket.io endpoint (websocket upgrades and any polling fallback).
EVENT_PREFIX = "/_event"


def _lookup_domains(widget_id: str) -> list[str] | None:
    from app.db import session_scope
    from app.services.visitors import framing_domains

    with session_scope() as session:
        return framing_domains(session, widget_id)


frame_policies = FramePolicyCache(_lookup_domains)


def embed_widget_id(path: str) -> str | None:
    """'/embed/abc' or '/embed/abc/' -> 'abc'; other paths -> None."""
    if not path.startswith(EMBED_PREFIX):
        return None
    rest = path[len(EMBED_PREFIX) :].strip("/")
    return rest if rest and "/" not in rest else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and path.startswith(EVENT_PREFIX):
            public_origin = get_settings().public_origin
            if not websocket_origin_allowed(_header(scope, b"origin"), public_origin):
                await _refuse(scope, receive, send)
                return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        widget_id = embed_widget_id(path)
        frame_policy = DEFAULT_FRAME_POLICY
        if widget_id is not None:
            public_origin = get_settings().public_origin
            frame_policy = (
                await run_in_threadpool(frame_policies.policy, widget_id, public_origin)
            ).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in BASE_HEADERS:
                    if name not in present:
                        headers.append((name, value))
                if widget_id is not None:
                    # The embed policy replaces whatever the inner app set; no XFO DENY.
                    headers = [
                        (k, v)
                        for k, v in headers
                        if k.lower() not in (b"content-security-policy", b"x-frame-options")
                    ]
                    headers.append((b"content-security-policy", frame_policy))
                else:
                    if b"content-security-policy" not in present:
                        headers.append((b"content-security-policy", frame_policy))
                    if b"x-frame-options" not in present:
                        headers.append((b"x-frame-options", b"DENY"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _refuse(scope: Scope, receive: Any, send: Any) -> None:
    """403 before the handshake completes (a websocket.close before accept is a 403)."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"Origin not allowed"})
