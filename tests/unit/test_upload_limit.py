"""The body-size guard in front of Reflex's upload endpoint."""

from __future__ import annotations

import asyncio

from app.upload_limit import UploadLimitMiddleware


def run(path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes], limit: int = 100):  # type: ignore[no-untyped-def]
    received: list[dict] = []
    sent: list[dict] = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        while True:
            message = await receive()
            received.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive():  # type: ignore[no-untyped-def]
        return queue.pop(0)

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": headers}
    asyncio.run(UploadLimitMiddleware(app, limit=limit)(scope, receive, send))
    return sent[0]["status"], received


def test_declared_oversize_upload_is_refused_before_reading() -> None:
    status, received = run("/_upload", [(b"content-length", b"101")], [b"x" * 101])
    assert status == 413 and received == []


def test_upload_within_the_limit_passes() -> None:
    status, received = run("/_upload", [(b"content-length", b"100")], [b"x" * 100])
    assert status == 200 and received[-1]["body"] == b"x" * 100


def test_streamed_body_past_the_limit_is_cut_off() -> None:
    _status, received = run("/_upload", [], [b"x" * 60, b"x" * 60])
    assert received[-1]["type"] == "http.disconnect"


def test_other_paths_are_untouched() -> None:
    status, _ = run("/api/v1/documents", [(b"content-length", b"1000")], [b"x" * 1000])
    assert status == 200
