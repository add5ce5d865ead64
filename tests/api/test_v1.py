"""REST API v1 over HTTP semantics (ASGI transport through the app's middleware), on
SQLite and PostgreSQL, with the real retrieval stack and the offline answerer."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine

from app.db import session_scope
from app.logging_setup import JsonFormatter
from app.models import ApiKey
from app.services.api_keys import revoke_key
from app.services.cache import reset_cache
from app.services.limits import reset_rate_limiter
from tests.api.v1_world import World, auth, client_for, drain, make_world

V1 = "/api/v1"


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    reset_cache()
    reset_rate_limiter()
    yield make_world(engine)
    reset_cache()
    reset_rate_limiter()


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["x-request-id"]
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"].startswith("urn:chatconnect:problem:")
    assert body["request_id"] == response.headers["x-request-id"]
    return body


# ---- auth -----------------------------------------------------------------------------


async def test_missing_malformed_unknown_and_revoked_keys_are_401(
    http: httpx.AsyncClient, world: World, engine: Engine
) -> None:
    url = f"{V1}/conversations"
    assert_problem(await http.get(url), 401)
    assert (await http.get(url)).headers["www-authenticate"].startswith("Bearer")
    assert_problem(await http.get(url, headers={"Authorization": "Basic abc"}), 401)
    assert_problem(await http.get(url, headers=auth("sk_nope")), 401)
    unknown = "sk_AAAAAAAAAAAA_" + "x" * 43
    assert_problem(await http.get(url, headers=auth(unknown)), 401)
    forged = world.chat_key[:-4] + "AAAA"  # right prefix, wrong secret
    assert_problem(await http.get(url, headers=auth(forged)), 401)
    assert (await http.get(url, headers=auth(world.chat_key))).status_code == 200
    with session_scope(engine) as s:
        key = s.query(ApiKey).filter(ApiKey.name == "chat").one()
        revoke_key(s, world.tenant, key.id)
    assert_problem(await http.get(url, headers=auth(world.chat_key)), 401)


async def test_scopes_and_widget_binding_are_403(http: httpx.AsyncClient, world: World) -> None:
    body = {"message": "How hot is the water?", "widget_id": world.widget}
    body403 = assert_problem(
        await http.post(f"{V1}/chat", json=body, headers=auth(world.docs_key)), 403
    )
    assert "chat" in body403["detail"]
    assert_problem(await http.get(f"{V1}/documents", headers=auth(world.chat_key)), 403)
    # another workspace's widget, and a widget outside the key's binding
    foreign = {"message": "hi", "widget_id": world.other_widget}
    assert_problem(await http.post(f"{V1}/chat", json=foreign, headers=auth(world.chat_key)), 403)
    other = {"message": "hi", "widget_id": world.widget2}
    assert_problem(await http.post(f"{V1}/chat", json=other, headers=auth(world.bound_key)), 403)
    # admin implies every scope
    assert (await http.get(f"{V1}/documents", headers=auth(world.admin_key))).status_code == 200


async def test_last_used_is_written_at_most_once_a_minute(
    http: httpx.AsyncClient, world: World, engine: Engine
) -> None:
    await http.get(f"{V1}/conversations", headers=auth(world.chat_key))
    with session_scope(engine) as s:
        first = s.query(ApiKey).filter(ApiKey.name == "chat").one().last_used_at
    assert first is not None
    await http.get(f"{V1}/conversations", headers=auth(world.chat_key))
    with session_scope(engine) as s:
        key = s.query(ApiKey).filter(ApiKey.name == "chat").one()
        assert key.last_used_at == first
        key.last_used_at = first - timedelta(minutes=2)
        s.add(key)
    await http.get(f"{V1}/conversations", headers=auth(world.chat_key))
    with session_scope(engine) as s:
        assert s.query(ApiKey).filter(ApiKey.name == "chat").one().last_used_at > first


# ---- chat -----------------------------------------------------------------------------


async def test_chat_answers_with_sources_usage_and_a_conversation(
    http: httpx.AsyncClient, world: World
) -> None:
    h = auth(world.chat_key)
    r = await http.post(
        f"{V1}/chat",
        json={"message": "How often should I descale?", "widget_id": world.widget},
        headers=h,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "two months" in body["answer"]
    assert body["sources"] and body["sources"][0]["title"]
    assert set(body["usage"]) == {"prompt_tokens", "completion_tokens", "total_tokens", "cost_usd"}
    cid = body["conversation_id"]
    r2 = await http.post(
        f"{V1}/chat",
        json={"message": "And the drip tray?", "widget_id": world.widget, "conversation_id": cid},
        headers=h,
    )
    assert r2.status_code == 200 and r2.json()["conversation_id"] == cid
    detail = (await http.get(f"{V1}/conversations/{cid}", headers=h)).json()
    assert [m["role"] for m in detail["messages"]] == ["user", "assistant"] * 2
    assert detail["channel"] == "api"
    page = (await http.get(f"{V1}/conversations", headers=h)).json()
    assert page["total"] == 1 and page["items"][0]["id"] == cid
    # feedback on the answer, then cleared
    mid = r2.json()["message_id"]
    fb = await http.post(f"{V1}/messages/{mid}/feedback", json={"value": -1}, headers=h)
    assert fb.status_code == 200 and fb.json() == {"message_id": mid, "feedback": -1}
    fb = await http.post(f"{V1}/messages/{mid}/feedback", json={"value": None}, headers=h)
    assert fb.json()["feedback"] is None
    # another workspace sees none of it
    o = auth(world.other_key)
    assert_problem(await http.get(f"{V1}/conversations/{cid}", headers=o), 404)
    assert_problem(
        await http.post(f"{V1}/messages/{mid}/feedback", json={"value": 1}, headers=o), 404
    )
    assert (await http.get(f"{V1}/conversations", headers=o)).json()["total"] == 0


async def test_widget_bound_key_sees_only_its_widget(http: httpx.AsyncClient, world: World) -> None:
    r = await http.post(
        f"{V1}/chat",
        json={"message": "Water temperature?", "widget_id": world.widget2},
        headers=auth(world.chat_key),
    )
    cid = r.json()["conversation_id"]
    b = auth(world.bound_key)
    assert_problem(await http.get(f"{V1}/conversations/{cid}", headers=b), 404)
    assert (await http.get(f"{V1}/conversations", headers=b)).json()["total"] == 0


def parse_sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_chat_stream_sends_sources_tokens_and_done(
    http: httpx.AsyncClient, world: World
) -> None:
    async with http.stream(
        "POST",
        f"{V1}/chat/stream",
        json={"message": "How often should I descale?", "widget_id": world.widget},
        headers=auth(world.chat_key),
    ) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        assert r.headers["x-accel-buffering"] == "no"
        assert r.headers["x-request-id"]
        text = (await r.aread()).decode()
    events = parse_sse(text)
    names = [e for e, _ in events]
    assert names[0] == "conversation" and names[-1] == "done"
    # The sources come once the answer is complete (it is known to answer), just before done.
    assert names.count("token") >= 1 and names.count("sources") == 1
    assert names.index("sources") == len(names) - 2
    answer = "".join(d["text"] for e, d in events if e == "token")
    assert "two months" in answer
    done = events[-1][1]
    assert done["usage"]["total_tokens"] >= 0 and done["message_id"]
    # Only the cited passages, exactly those the non-streaming answer reports.
    streamed = events[names.index("sources")][1]["sources"]
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    assert streamed and {s["n"] for s in streamed} == cited
    plain = await http.post(
        f"{V1}/chat",
        json={"message": "How often should I descale?", "widget_id": world.widget},
        headers=auth(world.chat_key),
    )
    assert [s["document_id"] for s in plain.json()["sources"]] == [
        s["document_id"] for s in streamed
    ]


async def test_i_dont_know_streams_no_sources_like_chat_returns_none(
    http: httpx.AsyncClient, world: World
) -> None:
    question = {"message": "What is the capital of Mongolia?", "widget_id": world.widget}
    async with http.stream(
        "POST", f"{V1}/chat/stream", json=question, headers=auth(world.chat_key)
    ) as r:
        events = parse_sse((await r.aread()).decode())
    names = [e for e, _ in events]
    assert names[0] == "conversation" and names[-1] == "done" and "token" in names
    assert "sources" not in names
    answer = "".join(d["text"] for e, d in events if e == "token")
    assert "couldn't find" in answer
    plain = await http.post(f"{V1}/chat", json=question, headers=auth(world.chat_key))
    assert plain.json()["sources"] == [] and "couldn't find" in plain.json()["answer"]


async def test_chat_errors_are_problems_before_the_stream_starts(
    http: httpx.AsyncClient, world: World
) -> None:
    h = auth(world.chat_key)
    for path in ("/chat", "/chat/stream"):
        bad_conv = {"message": "hi", "widget_id": world.widget, "conversation_id": "f" * 32}
        assert_problem(await http.post(f"{V1}{path}", json=bad_conv, headers=h), 404)
        body = assert_problem(
            await http.post(f"{V1}{path}", json={"message": "hi"}, headers=h), 422
        )
        assert body["errors"][0]["loc"] == ["body", "widget_id"]
        spaces = {"message": "   ", "widget_id": world.widget}
        assert_problem(await http.post(f"{V1}{path}", json=spaces, headers=h), 422)
        extra = {"message": "hi", "widget_id": world.widget, "admin": True}
        assert_problem(await http.post(f"{V1}{path}", json=extra, headers=h), 422)
        r = await http.post(
            f"{V1}{path}", content=b"message=hi", headers={**h, "Content-Type": "text/plain"}
        )
        assert_problem(r, 415)
        r = await http.post(
            f"{V1}{path}", content=b"{not json", headers={**h, "Content-Type": "application/json"}
        )
        assert_problem(r, 422)


async def test_unstorable_characters_are_replaced_not_500(
    http: httpx.AsyncClient, world: World
) -> None:
    # Raw JSON escapes (httpx would refuse to encode a lone surrogate itself).
    raw = '{"message": "descale a\\u0000b", "widget_id": "WIDGET"}'.replace("WIDGET", world.widget)
    h = {**auth(world.chat_key), "Content-Type": "application/json"}
    r = await http.post(f"{V1}/chat", content=raw.encode(), headers=h)
    assert r.status_code == 200, r.text
    cid = r.json()["conversation_id"]
    detail = (await http.get(f"{V1}/conversations/{cid}", headers=auth(world.chat_key))).json()
    assert detail["messages"][0]["text"] == "descale a\ufffdb"
    lone = raw.replace("a\\u0000b", "\\ud800")
    r = await http.post(f"{V1}/chat", content=lone.encode(), headers=h)
    assert_problem(r, 422)  # refused by the JSON parser: a clear 422, never a 500


async def test_rate_limit_is_429_with_retry_after(
    http: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.settings import reset_settings_cache

    monkeypatch.setenv("RATE_FREE_PER_HOUR", "2")
    reset_settings_cache()
    reset_rate_limiter()
    h = auth(world.chat_key)
    body = {"message": "Water temperature?", "widget_id": world.widget}
    for _ in range(2):
        assert (await http.post(f"{V1}/chat", json=body, headers=h)).status_code == 200
    for path in ("/chat", "/chat/stream"):
        r = await http.post(f"{V1}{path}", json=body, headers=h)
        assert_problem(r, 429)
        assert int(r.headers["retry-after"]) >= 1
    metrics = (await http.get("/metrics")).text
    assert 'chatconnect_rate_limit_rejections_total{scope="workspace"}' in metrics or (
        "chatconnect_rate_limit_rejections_total{" in metrics
    )


async def test_budget_exhaustion_is_429_with_retry_after(
    http: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.settings import reset_settings_cache

    monkeypatch.setenv("BUDGET_FREE_TOKENS_MONTH", "0")
    reset_settings_cache()
    r = await http.post(
        f"{V1}/chat",
        json={"message": "hi", "widget_id": world.widget},
        headers=auth(world.chat_key),
    )
    body = assert_problem(r, 429)
    assert body["type"].endswith("budget-exceeded") and int(r.headers["retry-after"]) > 0


async def test_bodies_over_the_limit_are_413_while_streaming(
    http: httpx.AsyncClient, world: World
) -> None:
    h = {**auth(world.chat_key), "Content-Type": "application/json"}
    big = b'{"message": "' + b"a" * 200_000 + b'"}'
    assert_problem(await http.post(f"{V1}/chat", content=big, headers=h), 413)

    received = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked upload
        nonlocal received
        for _ in range(1000):
            received += 1
            yield b"a" * 16_384

    r = await http.post(f"{V1}/chat", content=chunks(), headers=h)
    assert_problem(r, 413)
    assert received < 1000  # refused before the 16 MB were all produced


# ---- documents ------------------------------------------------------------------------


async def test_document_upload_status_list_and_delete(
    http: httpx.AsyncClient, world: World, engine: Engine
) -> None:
    h = auth(world.docs_key)
    files = {"file": ("faq.md", b"# FAQ\n\nThe grinder has 18 settings.\n", "text/markdown")}
    r = await http.post(f"{V1}/documents", files=files, data={"title": "FAQ"}, headers=h)
    assert r.status_code == 202, r.text
    accepted = r.json()
    assert accepted["status"] == "queued"
    assert accepted["status_url"] == f"{V1}/documents/{accepted['id']}"
    assert drain(engine) == 1
    doc = (await http.get(accepted["status_url"], headers=h)).json()
    assert doc["status"] == "ready" and doc["progress"] == 100 and doc["error"] is None
    assert doc["title"] == "FAQ" and doc["chunk_count"] >= 1
    listed = (await http.get(f"{V1}/documents", params={"status": "ready"}, headers=h)).json()
    assert listed["total"] == 2
    dup = assert_problem(await http.post(f"{V1}/documents", files=files, headers=h), 409)
    assert dup["existing_id"] == accepted["id"]
    # another workspace cannot see or delete it
    o = auth(world.other_key)
    assert_problem(await http.get(accepted["status_url"], headers=o), 404)
    assert_problem(await http.delete(accepted["status_url"], headers=o), 404)
    assert (await http.delete(accepted["status_url"], headers=h)).status_code == 204
    assert_problem(await http.get(accepted["status_url"], headers=h), 404)


async def test_document_upload_errors(
    http: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = auth(world.docs_key)
    exe = {
        "file": ("tool.exe", b"MZ\x90\x00\x03" + bytes(range(256)) * 4, "application/octet-stream")
    }
    assert_problem(await http.post(f"{V1}/documents", files=exe, headers=h), 415)
    empty = {"file": ("empty.txt", b"", "text/plain")}
    assert_problem(await http.post(f"{V1}/documents", files=empty, headers=h), 422)
    assert_problem(await http.post(f"{V1}/documents", json={"file": "x"}, headers=h), 415)
    assert_problem(await http.post(f"{V1}/documents", data={"title": "x"}, headers=h), 415)
    only_title = {"title": (None, "no file")}  # multipart without the file part
    assert_problem(await http.post(f"{V1}/documents", files=only_title, headers=h), 422)
    from app.settings import reset_settings_cache

    monkeypatch.setenv("MAX_UPLOAD_MB", "1")
    reset_settings_cache()
    async with client_for() as small:  # the limit is read when the API is built
        big = {"file": ("big.txt", b"word " * 400_000, "text/plain")}
        assert_problem(await small.post(f"{V1}/documents", files=big, headers=h), 413)


# ---- operations -----------------------------------------------------------------------


async def test_request_id_is_echoed_or_generated_and_logged_without_secrets(
    http: httpx.AsyncClient, world: World
) -> None:
    records: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(JsonFormatter().format(record))

    handler = Capture()
    logger = logging.getLogger("chatconnect.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        r = await http.get(
            f"{V1}/conversations?token=abc",
            headers={**auth(world.chat_key), "X-Request-ID": "trace-123"},
        )
        generated = await http.get(f"{V1}/conversations", headers=auth(world.chat_key))
        hostile = await http.get(f"{V1}/conversations", headers={"X-Request-ID": "x\ny" * 100})
    finally:
        logger.removeHandler(handler)
    assert r.headers["x-request-id"] == "trace-123"
    assert len(generated.headers["x-request-id"]) == 32
    assert hostile.headers["x-request-id"] != "x\ny" * 100
    line = json.loads(next(rec for rec in records if "trace-123" in rec))
    assert line["request_id"] == "trace-123" and line["tenant_id"] == world.tenant
    assert line["status"] == 200 and line["latency_ms"] >= 0
    assert line["path"] == "/api/v1/conversations"
    assert not any(world.chat_key in rec or "token=abc" in rec for rec in records)


async def test_openapi_document_and_offline_docs_page(http: httpx.AsyncClient) -> None:
    spec = (await http.get(f"{V1}/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert {"/chat", "/chat/stream", "/documents", "/openai/chat/completions"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["SecretKey"]["scheme"] == "bearer"
    page = await http.get(f"{V1}/docs")
    assert page.status_code == 200
    assert (
        "cdn" not in page.text.lower() and "/api/v1/docs/assets/swagger-ui-bundle.js" in page.text
    )
    js = await http.get(f"{V1}/docs/assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 500_000
    assert (await http.get(f"{V1}/docs/assets/swagger-ui.css")).status_code == 200


async def test_unknown_v1_route_is_a_problem(http: httpx.AsyncClient) -> None:
    assert_problem(await http.get(f"{V1}/nope"), 404)
    assert_problem(await http.delete(f"{V1}/chat"), 405)


async def test_metrics_are_local_or_token_only(
    http: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await http.post(
        f"{V1}/chat",
        json={"message": "Water temperature?", "widget_id": world.widget},
        headers=auth(world.chat_key),
    )
    r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert (
        'chatconnect_http_requests_total{method="POST",route="/api/v1/chat",status="200"}' in text
    )
    assert (
        'chatconnect_http_request_duration_seconds_bucket{le="0.005",method="POST",route="/api/v1/chat"}'
        in text
    )
    assert 'chatconnect_chat_turns_total{channel="api"' in text
    assert 'chatconnect_ingestion_jobs{status="done"} 1.0' in text
    assert (await http.get("/metrics", headers={"X-Forwarded-For": "1.2.3.4"})).status_code == 403
    async with client_for(client=("10.0.0.9", 5000)) as remote:
        assert (await remote.get("/metrics")).status_code == 403
        from app.settings import reset_settings_cache

        monkeypatch.setenv("METRICS_TOKEN", "m" * 40)
        reset_settings_cache()
        assert (
            await remote.get("/metrics", headers={"Authorization": "Bearer " + "m" * 40})
        ).status_code == 200
        assert (
            await remote.get("/metrics", headers={"Authorization": "Bearer wrong"})
        ).status_code == 403
