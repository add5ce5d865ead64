"""Redis stopped for 20 s and restarted under chat traffic (its own throwaway server).

The scale-out shape: PostgreSQL (a schema of its own) + Redis for rate limits, caches and
login throttling. While Redis is down, chat keeps answering (rate limits fall back to
in-process counters, caches miss, as documented) and login fails closed with a clear
message; after the restart the limits go back to Redis by themselves and login works.
Every turn that answered 200 is in the database, whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import Engine

from app.services import limits
from app.services.cache import reset_cache
from app.services.limits import get_rate_limiter, reset_rate_limiter
from app.services.throttle import reset_login_throttle
from app.settings import reset_settings_cache
from app.state.account_forms import LoginState
from tests.api.v1_world import client_for, make_world
from tests.support.own_services import OwnRedis
from tests.support.traffic import Traffic, check_database

OUTAGE_S = 20.0
RETRY_S = 1.0  # REDIS_RETRY_S for the test (30 s in production)


@pytest.fixture
def own_redis(monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnRedis]:
    with OwnRedis() as server:
        monkeypatch.setenv("REDIS_URL", server.url)
        # High enough that the traffic itself is never limited; the counters still count.
        monkeypatch.setenv("RATE_FREE_PER_HOUR", "1000000")
        monkeypatch.setenv("RATE_WIDGET_PER_MINUTE", "1000000")
        monkeypatch.setattr(limits, "REDIS_RETRY_S", RETRY_S)
        reset_settings_cache()
        for reset in (reset_rate_limiter, reset_login_throttle, reset_cache):
            reset()
        try:
            yield server
        finally:
            for reset in (reset_rate_limiter, reset_login_throttle, reset_cache):
                reset()


def login(monkeypatch: pytest.MonkeyPatch) -> tuple[str, object]:
    """The login form's handler, as the websocket event runs it: (error shown, result)."""
    monkeypatch.setattr(LoginState, "_client", lambda self: ("10.9.8.7", "fault-test"))
    state = LoginState()
    result = state.submit({"email": "api-a@x.io", "password": "a-long-password"})
    return state.form_error, result


def limiter_keys(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return len(client.keys("LIMITS*"))
    finally:
        client.close()


@pytest.mark.slow
async def test_redis_outage_under_traffic(
    pg: Engine,
    own_redis: OwnRedis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = make_world(pg)
    error, _ = login(monkeypatch)
    assert error == ""  # Redis up: login goes through (and counts nothing)
    async with client_for(raise_app_exceptions=False) as http:
        traffic = Traffic(http, world.chat_key, world.widget)
        traffic.start()
        await traffic.until(5, "before")
        assert limiter_keys(own_redis.url) > 0  # the limits really live in Redis
        caplog.set_level(logging.WARNING, "chatconnect.limits")

        traffic.phase = "outage"
        await asyncio.to_thread(own_redis.stop)
        error, result = await asyncio.to_thread(login, monkeypatch)
        assert error == "Login is briefly unavailable. Please try again in a minute."
        assert result is None  # fails closed: no login code, no session
        await asyncio.sleep(OUTAGE_S)
        assert len(traffic.ok("outage")) >= 5  # chat kept answering the whole time
        # Counted in process meanwhile (Redis retried every RETRY_S, refused at once).
        assert "rate-limit store unavailable, using in-process limits" in caplog.text

        await asyncio.to_thread(own_redis.start)  # empty: no persistence
        traffic.phase = "after"
        await asyncio.sleep(RETRY_S + 0.5)
        await traffic.until(5, "after")
        error, _ = await asyncio.to_thread(login, monkeypatch)
        assert error == ""
        outcomes = await traffic.stop()

    assert [o for o in outcomes if o.status != 200] == []
    assert max(o.elapsed_s for o in outcomes) < 5
    limiter = get_rate_limiter()
    assert limiter._limiter() is limiter._redis and limiter_keys(own_redis.url) > 0
    check_database(pg, traffic.ok())
