"""In-process publish/subscribe for real-time handoff events (no Reflex, no HTTP here).

Services publish what changed *after* their transaction commits (`publish_after_commit`),
so a subscriber that re-reads the database always sees the change: the database stays
the truth and an event only says "look again". Subscribers (the Reflex states in
app/state/live.py) turn an event into a websocket state push. One process only: across
processes a client catches up from the database on its next event or reload.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

log = logging.getLogger("chatconnect.live")


@dataclass(frozen=True, slots=True)
class LiveEvent:
    topic: str
    kind: str  # message | status | typing | inbox | note | presence
    data: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[LiveEvent], None]

_subscribers: dict[str, dict[str, Subscriber]] = {}
_lock = threading.Lock()


def conversation_topic(tenant_id: str, conversation_id: str) -> str:
    return f"conv:{tenant_id}:{conversation_id}"


def inbox_topic(tenant_id: str) -> str:
    return f"inbox:{tenant_id}"


def subscribe(topic: str, key: str, callback: Subscriber) -> None:
    """Register `callback` under `key` (one per client: re-subscribing replaces it)."""
    with _lock:
        _subscribers.setdefault(topic, {})[key] = callback


def unsubscribe(topic: str, key: str) -> None:
    with _lock:
        subs = _subscribers.get(topic)
        if subs is not None:
            subs.pop(key, None)
            if not subs:
                _subscribers.pop(topic, None)


def unsubscribe_key(key: str, keep: str | None = None) -> None:
    """Drop `key` from every topic except `keep` (a client moved to another conversation)."""
    with _lock:
        for topic in list(_subscribers):
            if topic != keep and key in _subscribers[topic]:
                _subscribers[topic].pop(key, None)
                if not _subscribers[topic]:
                    _subscribers.pop(topic, None)


def subscriber_count(topic: str) -> int:
    with _lock:
        return len(_subscribers.get(topic, {}))


_relay: Any = None  # a RedisRelay when several processes share Redis


def start_relay(redis_url: str) -> None:
    global _relay
    from app.services.live_relay import RedisRelay

    if _relay is None:
        _relay = RedisRelay(redis_url, dispatch)
        _relay.start()


def stop_relay() -> None:
    global _relay
    if _relay is not None:
        _relay.stop()
        _relay = None


def publish(topic: str, kind: str, **data: Any) -> int:
    """Call every local subscriber of `topic` and tell the other processes."""
    if _relay is not None:
        _relay.send(topic, kind, data)
    return dispatch(topic, kind, data)


def dispatch(topic: str, kind: str, data: dict[str, Any]) -> int:
    """Call this process's subscribers of `topic`; a failing one is logged, never raised."""
    with _lock:
        callbacks = list(_subscribers.get(topic, {}).values())
    item = LiveEvent(topic, kind, dict(data))
    for callback in callbacks:
        try:
            callback(item)
        except Exception:
            log.exception("live subscriber failed on %s", topic)
    return len(callbacks)


def publish_after_commit(session: Session, topic: str, kind: str, **data: Any) -> None:
    """Publish once `session` commits (never for a rolled-back change)."""

    def _fire(_session: Any) -> None:
        publish(topic, kind, **data)

    event.listen(session, "after_commit", _fire, once=True)
