"""REST /api/v1/chat for a widget in intent mode, over HTTP (ASGI through the app's
middleware), on SQLite and PostgreSQL: canned answers, the unknown answer instead of
retrieval, and the order dialogue across requests (the conversation id carries it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import Engine

from app.db import session_scope
from app.services import catalogues, intents, widgets
from app.services.cache import reset_cache
from app.services.limits import reset_rate_limiter
from tests.api.v1_world import World, auth, client_for, make_world
from tests.support.fake_shops import ITEMS_KEY, FakeShops
from tests.support.loopback_server import LoopbackServer

V1 = "/api/v1"
UNKNOWN = "Only orders, products and hours here."


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    with LoopbackServer(FakeShops().app()) as srv:
        yield srv.url


@pytest.fixture
def world(engine: Engine, shop: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.delenv("REDIS_URL", raising=False)
    reset_cache()
    reset_rate_limiter()
    intents.reset_cache()
    w = make_world(engine)
    with session_scope(engine) as s:
        widgets.update_widget(s, w.tenant, w.widget, mode="intent", unknown_answer=UNKNOWN)
        catalogues.create(
            s, w.tenant, "json", "Shop",
            {"url": f"{shop}/fakestore/products", "orders_url": f"{shop}/api/orders/{{number}}",
             "orders_path": "order", "auth_header": "X-Api-Key", "auth_value": ITEMS_KEY},
        )  # fmt: skip
    yield w
    reset_cache()
    reset_rate_limiter()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


async def test_intent_mode_over_rest(http: httpx.AsyncClient, world: World) -> None:
    h = auth(world.chat_key)

    async def chat(message: str, cid: str | None = None) -> dict:
        body = {"message": message, "widget_id": world.widget}
        if cid:
            body["conversation_id"] = cid
        r = await http.post(f"{V1}/chat", json=body, headers=h)
        assert r.status_code == 200, r.text
        return r.json()

    hello = await chat("good morning!")
    assert hello["answer"] == "Hello! How can I help you today?"
    assert hello["usage"]["total_tokens"] == 0
    # The manual knows this, but intent mode does not retrieve.
    other = await chat("How often should I descale?")
    assert other["answer"] == UNKNOWN and not other["sources"]
    first = await chat("where is my order 1234?")
    assert "email address you used for order 1234" in first["answer"]
    wrong = await chat("other@example.com", first["conversation_id"])
    assert "couldn't find order 1234" in wrong["answer"] and "Backpack" not in wrong["answer"]
    right = await chat("me@example.com", first["conversation_id"])
    assert "Order 1234 is being prepared" in right["answer"]
    detail = (await http.get(f"{V1}/conversations/{first['conversation_id']}", headers=h)).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"] * 3
