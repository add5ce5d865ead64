"""A body-size cap for Reflex's upload endpoint, which has none of its own.

Reflex (0.10) parses `/_upload` with Starlette's `request.form()`, which spools every file
to temporary disk without any limit. The documents service refuses oversized files, but
only after the whole body has arrived; this pure-ASGI guard refuses an oversized request
up front (Content-Length) and cuts off a body that grows past the cap while streaming.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.services.documents import MAX_FILES_PER_UPLOAD
from app.settings import get_settings

UPLOAD_PATH = "/_upload"
FORM_OVERHEAD_BYTES = 1024 * 1024  # multipart boundaries, headers, the event-args field


def upload_request_limit() -> int:
    return MAX_FILES_PER_UPLOAD * get_settings().max_upload_bytes + FORM_OVERHEAD_BYTES


class UploadLimitMiddleware:
    def __init__(self, app: Callable[..., Any], limit: int | None = None) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(UPLOAD_PATH):
            await self.app(scope, receive, send)
            return
        limit = self.limit or upload_request_limit()
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        seen = 0

        async def capped_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:  # no Content-Length (chunked): stop reading here
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, capped_receive, send)


async def _too_large(send: Callable, limit: int) -> None:
    body = f"Upload too large: at most {limit // (1024 * 1024)} MB per request.".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
