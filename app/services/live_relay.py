"""Live events across app processes: Redis pub/sub when REDIS_URL is set.

Each process keeps its own subscribers (the websockets it serves, app/state/live.py).
`live.publish` dispatches locally and hands the event to the relay, which publishes it
on one Redis channel; every other process's listener thread dispatches it to its own
subscribers. Events are hints ("look again"): one lost while Redis is down costs a client
nothing but the wait until its next event or reload, since the truth is in the database.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

import redis

log = logging.getLogger("chatconnect.live")

CHANNEL = "chatconnect:live"
# Reflex's Redis state manager turns these keyspace notifications on at start (CONFIG SET)
# and waits for lock releases through them. A Redis restarted without them in its own config
# comes back with none: every state lock wait then lasts its full expiry. Restored here after
# a reconnect, only when Redis has none (an operator's own setting is left alone).
KEYSPACE_EVENTS = "K$sgxe"


class RedisRelay:
    def __init__(
        self,
        redis_url: str,
        dispatch: Callable[[str, str, dict[str, Any]], None],
        channel: str = CHANNEL,
    ) -> None:
        self.origin = uuid.uuid4().hex  # this process: its own events are not re-dispatched
        self.channel = channel
        self._dispatch = dispatch
        self._client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2)
        self._listen_client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
        self._pubsub = self._listen_client.pubsub(ignore_subscribe_messages=True)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="live-relay", daemon=True)

    def start(self, timeout: float = 5.0) -> None:
        self._thread.start()
        self._ready.wait(timeout)

    def send(self, topic: str, kind: str, data: dict[str, Any]) -> None:
        payload = json.dumps({"o": self.origin, "t": topic, "k": kind, "d": data}, default=str)
        try:
            self._client.publish(self.channel, payload)
        except redis.RedisError as exc:
            log.warning("live relay publish failed: %s", type(exc).__name__)

    def _restore_keyspace_events(self) -> None:
        try:
            if not self._client.config_get("notify-keyspace-events").get("notify-keyspace-events"):
                self._client.config_set("notify-keyspace-events", KEYSPACE_EVENTS)
                log.warning("Redis came back without keyspace notifications; restored them")
        except redis.RedisError as exc:  # CONFIG refused (managed Redis): set it there
            log.warning("cannot restore Redis keyspace notifications: %s", type(exc).__name__)

    def _listen(self) -> None:
        failed = False
        while not self._stop.is_set():
            try:
                self._pubsub.subscribe(self.channel)
                if failed:
                    self._restore_keyspace_events()
                    failed = False
                self._ready.set()
                while not self._stop.is_set():
                    message = self._pubsub.get_message(timeout=0.5)
                    if message is not None:
                        self._handle(message.get("data"))
            except redis.RedisError as exc:
                log.warning("live relay listener: %s; retrying", type(exc).__name__)
                failed = True
                self._stop.wait(2.0)

    def _handle(self, raw: Any) -> None:
        try:
            event = json.loads(raw)
        except (TypeError, ValueError):
            return
        if not isinstance(event, dict) or event.get("o") == self.origin:
            return
        self._dispatch(str(event.get("t")), str(event.get("k")), dict(event.get("d") or {}))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)
        for closer in (self._pubsub.close, self._client.close, self._listen_client.close):
            with contextlib.suppress(redis.RedisError):
                closer()
