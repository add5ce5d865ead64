from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from app.db import session_scope
from app.services import accounts


async def test_health_reports_each_component(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["components"]["database"]["status"] == "up"
    assert body["components"]["vector_store"]["status"] == "up"
    assert "redis" not in body["components"]  # not configured
    assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_health_is_degraded_but_ready_when_redis_is_down(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chat over the API still answers without Redis: a proxy must keep the replica."""
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("SECRET_KEY", "s" * 10 + "0123456789abcdefghijklmnopqrstuvwxyz")
    from app.settings import reset_settings_cache

    reset_settings_cache()
    response = await client.get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["components"]["redis"]["status"] == "down"
    assert body["components"]["database"]["status"] == "up"
    live = await client.get("/api/health/live")
    assert live.status_code == 200 and live.json() == {"status": "alive"}


async def test_health_with_real_redis(
    client: httpx.AsyncClient, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    from app.settings import reset_settings_cache

    reset_settings_cache()
    response = await client.get("/api/health")
    assert response.status_code == 200, response.text
    assert response.json()["components"]["redis"]["status"] == "up"


def _code(engine: Engine) -> str:
    with session_scope(engine) as s:
        user, _ = accounts.sign_up(s, "api@x.io", "a-long-password", "API")
        return accounts.start_login(s, user)


async def test_complete_sets_a_hardened_cookie_once(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    code = _code(engine)
    origin = {"origin": str(client.base_url)}
    response = await client.post("/api/auth/complete", data={"code": code}, headers=origin)
    assert response.status_code == 303 and response.headers["location"] == "/overview"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("cc_session=")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/" in lowered
    assert "secure" not in lowered  # PUBLIC_URL is http here
    token = cookie.split(";")[0].split("=", 1)[1]
    with session_scope(engine) as s:
        assert accounts.identity_for_token(s, token) is not None
    replay = await client.post("/api/auth/complete", data={"code": code}, headers=origin)
    assert replay.status_code == 303 and replay.headers["location"] == "/login"
    assert "set-cookie" not in replay.headers


async def test_cross_site_post_cannot_log_anyone_in(
    client: httpx.AsyncClient, engine: Engine
) -> None:
    code = _code(engine)
    for headers in ({"origin": "https://evil.example"}, {}):
        response = await client.post("/api/auth/complete", data={"code": code}, headers=headers)
        assert response.headers["location"] == "/login"
        assert "set-cookie" not in response.headers


async def test_logout_revokes_and_clears(client: httpx.AsyncClient, engine: Engine) -> None:
    origin = {"origin": str(client.base_url)}
    done = await client.post("/api/auth/complete", data={"code": _code(engine)}, headers=origin)
    token = done.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    client.cookies.set("cc_session", token)
    response = await client.post("/api/auth/logout", headers=origin)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (
        'cc_session=""' in response.headers["set-cookie"]
        or "Max-Age=0" in response.headers["set-cookie"]
    )
    with session_scope(engine) as s:
        assert accounts.identity_for_token(s, token) is None


async def test_health_reports_the_email_backlog_but_stays_up_when_smtp_is_down(
    client: httpx.AsyncClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.settings import reset_settings_cache

    assert "email" not in (await client.get("/api/health")).json()  # email off by default
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:1")  # nothing listens there
    reset_settings_cache()
    with session_scope(engine) as s:
        accounts.sign_up(s, "ann@acme.io", "a-long-password", "Acme")  # queues a verify email
    response = await client.get("/api/health")
    assert response.status_code == 200
    email = response.json()["email"]
    assert email["waiting"] == 1 and email["retrying"] == 0 and email["oldest_waiting_s"] >= 0
