"""The scale-out path against the machine's real Redis."""

from __future__ import annotations

import uuid

import pytest
import redis

from app.services.throttle import (
    LoginThrottle,
    RedisFailureStore,
    ThrottleUnavailableError,
)


def test_redis_round_trip(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    key = f"cc:test:{uuid.uuid4().hex}"
    client.set(key, "hello", ex=30)
    assert client.get(key) == b"hello"
    client.delete(key)


def test_login_throttle_shared_through_redis(redis_url: str) -> None:
    email = f"{uuid.uuid4().hex}@x.io"
    # Two "processes" (two stores) see the same counters.
    first, second = (
        LoginThrottle(RedisFailureStore(redis_url)),
        LoginThrottle(RedisFailureStore(redis_url)),
    )
    for _ in range(5):
        first.failed(email, "10.1.1.1")
    assert second.retry_after(email, "10.2.2.2") >= 1
    second.succeeded(email)
    assert first.retry_after(email, "10.3.3.3") == 0


def test_login_throttle_fails_closed_when_redis_is_down() -> None:
    throttle = LoginThrottle(RedisFailureStore("redis://127.0.0.1:1/0"))
    with pytest.raises(ThrottleUnavailableError):
        throttle.retry_after("a@x.io", "1.1.1.1")


def test_live_events_reach_the_other_process(redis_url: str) -> None:
    """Two relays = two app processes: an event published by one is dispatched by the
    other's listener, and never echoed back to its own process."""
    import threading

    from app.services.live_relay import RedisRelay

    channel = f"cc:test:live:{uuid.uuid4().hex}"
    got: dict[str, list[tuple[str, str, dict]]] = {"a": [], "b": []}
    arrived = threading.Event()

    def on_b(topic: str, kind: str, data: dict) -> None:
        got["b"].append((topic, kind, data))
        arrived.set()

    a = RedisRelay(redis_url, lambda *e: got["a"].append(e), channel=channel)
    b = RedisRelay(redis_url, on_b, channel=channel)
    a.start()
    b.start()
    try:
        a.send("conv:t1:c1", "message", {"conversation_id": "c1", "role": "staff"})
        assert arrived.wait(5)
        assert got["b"] == [("conv:t1:c1", "message", {"conversation_id": "c1", "role": "staff"})]
        assert got["a"] == []
    finally:
        a.stop()
        b.stop()
