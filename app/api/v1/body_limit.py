"""Refuse a declared Content-Length over the route's limit at once, as a problem document.

Bodies without a Content-Length (chunked) are counted while they stream in by FastAPI's
per-router `max_body_size`, whose 413 our handlers turn into problem details too; only the
declared-length case needs this guard, because there Starlette answers in plain text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from app.api.v1.errors import PROBLEM_JSON, problem_body
from app.middleware import ASGIApp, Scope

LimitFor = Callable[[str, str], int]


class DeclaredLengthGuard:
    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            declared = _content_length(scope)
            limit = self.limit_for(scope.get("method", "GET"), scope.get("path", ""))
            if declared is not None and declared > limit:
                await _refuse(send, limit)
                return
        await self.app(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Any, limit: int) -> None:
    body = json.dumps(
        problem_body(413, f"The request body is larger than this endpoint accepts ({limit} bytes).")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
