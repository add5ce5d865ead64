from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine

from app.api.main import create_api
from app.api.request_context import RequestContextMiddleware
from app.middleware import SecurityHeadersMiddleware

BASE = "http://127.0.0.1:3000"  # the default PUBLIC_URL origin


@pytest.fixture
async def client(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    """The mounted API with the app's middleware, over HTTP semantics (ASGI transport)."""
    transport = httpx.ASGITransport(
        app=SecurityHeadersMiddleware(RequestContextMiddleware(create_api()))
    )
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
        yield http
