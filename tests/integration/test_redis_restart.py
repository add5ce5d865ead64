"""A Redis restarted empty (its own throwaway server): the live relay reconnects and puts
back the keyspace notifications Reflex's state manager set at start and waits for (without
them every state lock wait lasts its full expiry), and leaves an operator's own setting."""

from __future__ import annotations

import time

import redis

from app.services.live_relay import KEYSPACE_EVENTS, RedisRelay
from tests.support.own_services import OwnRedis


def _events(url: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        return str(client.config_get("notify-keyspace-events")["notify-keyspace-events"])
    finally:
        client.close()


def _wait_for(check, timeout_s: float = 15) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_relay_restores_keyspace_notifications_after_a_restart() -> None:
    with OwnRedis() as server:
        client = redis.Redis.from_url(server.url)
        client.config_set("notify-keyspace-events", KEYSPACE_EVENTS)  # as Reflex does at start
        client.close()
        relay = RedisRelay(server.url, lambda *event: None)
        relay.start()
        try:
            server.stop()
            time.sleep(1.5)  # the listener notices and retries
            server.start()
            assert _events(server.url) == ""  # a fresh server: none
            assert _wait_for(lambda: set(_events(server.url)) == set(KEYSPACE_EVENTS))

            # An operator's own value is left alone: cut the relay's connection (it
            # reconnects, and looks) with another value set meanwhile.
            admin = redis.Redis.from_url(server.url)
            admin.config_set("notify-keyspace-events", "Kx")
            assert admin.client_kill_filter(_type="pubsub") >= 1
            admin.close()
            assert _wait_for(lambda: relay._ready.is_set())
            time.sleep(3)  # past the listener's 2 s retry pause
            assert set(_events(server.url)) == set("Kx")
        finally:
            relay.stop()
