"""A client that hangs up mid-answer does not cancel the turn: the answer and its usage are
still recorded. Over real HTTP (uvicorn in a thread), because the ASGI transport buffers
whole responses and cannot hang up; the LLM is a slow OpenAI-protocol server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import Message, Tenant, UsageDaily
from app.services import credentials
from app.services.cache import reset_cache
from app.services.chat import reset_chat_service
from app.services.limits import reset_rate_limiter
from tests.api.live_server import LiveServer
from tests.api.v1_world import World, auth, client_for, make_world
from tests.support.fake_llm import FakeLLM, Script

CHUNKS = ["Descale", " every", " two", " months", " with", " citric", " acid", " tablets", "."]
ANSWER = "".join(CHUNKS)
DELAY_S = 0.25  # between chunks: the whole answer takes ~2 s after the first token
TOKENS_IN, TOKENS_OUT = 321, 17


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    reset_cache()
    reset_rate_limiter()
    reset_chat_service()
    yield make_world(engine)
    reset_cache()
    reset_rate_limiter()


@pytest.fixture
def llm(world: World, engine: Engine) -> Iterator[FakeLLM]:
    script = Script(chunks=CHUNKS, delay_chunks=DELAY_S, tokens_in=TOKENS_IN, tokens_out=TOKENS_OUT)
    with FakeLLM(script=script) as fake:
        with session_scope(engine) as s:
            credentials.set_credentials(
                s,
                s.get(Tenant, world.tenant),
                {"openai_key": "sk-fake-1234567890", "openai_base_url": fake.openai_url},
            )
        yield fake


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    with LiveServer() as live:
        yield live


def _answers(engine: Engine, tenant: str) -> list[Message]:
    with session_scope(engine) as s:
        return list(
            s.exec(select(Message).where(Message.tenant_id == tenant, Message.role == "assistant"))
        )


def _usage(engine: Engine, tenant: str) -> list[UsageDaily]:
    with session_scope(engine) as s:
        return list(s.exec(select(UsageDaily).where(UsageDaily.tenant_id == tenant)))


def _hang_up_after(url: str, key: str, body: dict, is_token: Callable[[str], bool]) -> str:
    """POST, read until the first token line, then close the connection."""
    with httpx.stream("POST", url, headers=auth(key), json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if is_token(line):
                return line
    raise AssertionError("the stream ended before any token")


def _assert_recorded_soon(
    engine: Engine, world: World, llm: FakeLLM, *, hung_up: bool = True
) -> None:
    if hung_up:  # right after the first token: the rest of the answer is still on its way
        assert _answers(engine, world.tenant) == []
    deadline = time.monotonic() + len(CHUNKS) * DELAY_S + 8
    while not (answers := _answers(engine, world.tenant)):
        assert time.monotonic() < deadline, "the turn was not recorded after the hang-up"
        time.sleep(0.1)
    assert llm.count == 1
    [answer] = answers
    assert answer.text == ANSWER
    assert (answer.provider, answer.tokens_in, answer.tokens_out) == (
        "openai",
        TOKENS_IN,
        TOKENS_OUT,
    )
    assert answer.cost_usd > 0
    [usage] = _usage(engine, world.tenant)
    # messages counts the question and the answer
    assert (usage.messages, usage.tokens_in, usage.tokens_out) == (2, TOKENS_IN, TOKENS_OUT)
    assert usage.cost_usd == pytest.approx(answer.cost_usd)


def test_chat_stream_hang_up_still_records_the_turn(
    engine: Engine, world: World, llm: FakeLLM, server: LiveServer
) -> None:
    _hang_up_after(
        f"{server.base_url}/api/v1/chat/stream",
        world.chat_key,
        {"widget_id": world.widget, "message": "How often should I descale?"},
        lambda line: line == "event: token",
    )
    _assert_recorded_soon(engine, world, llm)


def _is_openai_token(line: str) -> bool:
    if not line.startswith("data: {"):
        return False
    choices = json.loads(line[6:]).get("choices") or [{}]
    return bool(choices[0].get("delta", {}).get("content"))


def test_openai_stream_hang_up_still_records_the_turn(
    engine: Engine, world: World, llm: FakeLLM, server: LiveServer
) -> None:
    _hang_up_after(
        f"{server.base_url}/api/v1/openai/chat/completions",
        world.chat_key,
        {
            "model": world.widget,
            "messages": [{"role": "user", "content": "How often should I descale?"}],
            "stream": True,
        },
        _is_openai_token,
    )
    _assert_recorded_soon(engine, world, llm)


async def test_chat_cancelled_handler_still_records_the_turn(
    engine: Engine, world: World, llm: FakeLLM
) -> None:
    """uvicorn lets a non-streaming handler finish after a hang-up, but other servers and
    middleware cancel it: over the ASGI transport the app runs in the client's own task,
    so timing the request out cancels the handler mid-turn."""
    async with client_for() as http:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(
                http.post(
                    "/api/v1/chat",
                    headers=auth(world.chat_key),
                    json={"widget_id": world.widget, "message": "How often should I descale?"},
                ),
                timeout=DELAY_S * 3,
            )
        assert _answers(engine, world.tenant) == []
        deadline = time.monotonic() + len(CHUNKS) * DELAY_S + 8
        while not _answers(engine, world.tenant):
            assert time.monotonic() < deadline, "the turn was not recorded after the cancel"
            await asyncio.sleep(0.1)
    _assert_recorded_soon(engine, world, llm, hung_up=False)
