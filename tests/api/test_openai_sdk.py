"""The official `openai` SDK against the OpenAI-compatible endpoint (ASGI transport)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest
from sqlalchemy import Engine

from app.services.cache import reset_cache
from app.services.limits import reset_rate_limiter
from tests.api.v1_world import BASE, World, asgi_app, make_world


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    reset_cache()
    reset_rate_limiter()
    yield make_world(engine)
    reset_cache()
    reset_rate_limiter()


def sdk(secret: str) -> openai.AsyncOpenAI:
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi_app()), timeout=60)
    return openai.AsyncOpenAI(
        api_key=secret, base_url=f"{BASE}/api/v1/openai", http_client=http, max_retries=0
    )


async def test_models_are_the_keys_widgets(world: World) -> None:
    models = await sdk(world.chat_key).models.list()
    assert sorted(m.id for m in models.data) == sorted([world.widget, world.widget2])
    bound = await sdk(world.bound_key).models.list()
    assert [m.id for m in bound.data] == [world.widget]


async def test_completion_non_streaming_with_usage(world: World) -> None:
    client = sdk(world.chat_key)
    done = await client.chat.completions.create(
        model=world.widget,
        messages=[
            {"role": "system", "content": "ignored: the widget's prompt applies"},
            {"role": "user", "content": "How often should I descale the machine?"},
        ],
    )
    assert done.object == "chat.completion" and done.model == world.widget
    assert "two months" in done.choices[0].message.content
    assert done.choices[0].finish_reason == "stop"
    assert done.usage is not None
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens


async def test_completion_streaming_with_usage(world: World) -> None:
    client = sdk(world.chat_key)
    stream = await client.chat.completions.create(
        model=world.widget,
        messages=[{"role": "user", "content": "How hot does the water get?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage is not None:
            usage = chunk.usage
    assert "93 degrees" in text and finish == "stop"
    assert usage is not None and usage.total_tokens >= usage.completion_tokens


async def test_sdk_errors_are_typed(world: World) -> None:
    with pytest.raises(openai.AuthenticationError):
        await sdk("sk_bad").models.list()
    with pytest.raises(openai.PermissionDeniedError) as denied:
        await sdk(world.chat_key).chat.completions.create(
            model=world.other_widget, messages=[{"role": "user", "content": "hi"}]
        )
    assert "widget" in str(denied.value)
    with pytest.raises(openai.PermissionDeniedError):
        await sdk(world.docs_key).models.list()
    with pytest.raises(openai.UnprocessableEntityError):
        await sdk(world.chat_key).chat.completions.create(
            model=world.widget, messages=[{"role": "system", "content": "no question"}]
        )
