"""GET /metrics in Prometheus text format.

Served to loopback clients (a sidecar or node agent scraping 127.0.0.1), or to anyone
presenting `Authorization: Bearer <METRICS_TOKEN>` when that setting is configured. Behind
a reverse proxy, every request looks local: set METRICS_TOKEN there, or block /metrics.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response

from app.services.metrics import exposition
from app.settings import get_settings

router = APIRouter(include_in_schema=False)

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def allowed(request: Request) -> bool:
    token = get_settings().metrics_token
    header = request.headers.get("authorization", "")
    if token is not None:
        expected = f"Bearer {token.get_secret_value()}"
        if hmac.compare_digest(header.encode(), expected.encode()):
            return True
    client = request.client.host if request.client else ""
    return client in LOOPBACK and not request.headers.get("x-forwarded-for")


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    if not allowed(request):
        return PlainTextResponse("metrics: forbidden\n", status_code=403)
    body, content_type = await run_in_threadpool(exposition)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
