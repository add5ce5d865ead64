"""Pure-ASGI middleware for every HTTP request: an X-Request-ID on each response (the
caller's when it sends a sane one), one JSON access-log line per API request, and the
request metrics. Pure ASGI so streamed responses pass through unbuffered."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Route

from app.logging_setup import request_context
from app.middleware import ASGIApp, Message, Scope
from app.services import metrics

log = logging.getLogger("chatconnect.access")

REQUEST_ID_HEADER = b"x-request-id"
_SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
# Where the key lives in the ASGI scope; routers write tenant_id into the same dict.
CONTEXT_KEY = "chatconnect.context"


def _incoming_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER:
            text = value.decode("latin-1")
            return text if _SANE_ID.fullmatch(text) else None
    return None


def route_label(scope: Scope) -> str:
    """A bounded label: the matched route template, never the raw path."""
    route = scope.get("route")
    if isinstance(route, Route | APIRoute):
        return f"{scope.get('root_path', '')}{route.path}"
    # Mounts (the Reflex frontend, or v1 when nothing inside matched) and no match.
    return "unmatched" if scope.get("path", "").startswith("/api/") else "frontend"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope) or uuid.uuid4().hex
        context: dict[str, Any] = {"request_id": request_id, "tenant_id": None}
        scope[CONTEXT_KEY] = context
        token = request_context.set(context)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [(k, v) for k, v in message.get("headers", []) if k != REQUEST_ID_HEADER]
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            path = scope.get("path", "")
            route = route_label(scope)
            method = scope.get("method", "GET")
            metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
            metrics.HTTP_LATENCY.labels(route, method).observe(elapsed)
            if path.startswith("/api/") or path == "/metrics":
                # The path template, not the raw path: ids stay out of the logs' cardinality
                # and query strings (which could carry anything) never reach them.
                log.info(
                    "%s %s %d",
                    method,
                    route,
                    status,
                    extra={
                        "method": method,
                        "path": route,
                        "status": status,
                        "latency_ms": round(elapsed * 1000, 1),
                    },
                )
            request_context.reset(token)
