"""In-process moving-window rate limiter: the counters a single process (or a process whose
Redis is down) keeps for itself.

It has the two methods `ChatRateLimiter` uses of a `limits` strategy (`hit`,
`get_window_stats`), with the same moving-window meaning: a hit passes when fewer than
`item.amount` hits passed in the last `item.get_expiry()` seconds. It replaces `limits`'
`MemoryStorage`, which starts a timer thread after every hit that finds none running
(about one new OS thread per 10 ms under load) and has that thread walk every key: near
saturation that was a few percent of the process's GIL time (py-spy). Here expired hits are
dropped when their key is touched, and keys nobody touched for a window are swept at most
once per `SWEEP_EVERY_S`, on the calling thread.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from limits import RateLimitItem
from limits.util import WindowStats

SWEEP_EVERY_S = 30.0


class LocalMovingWindow:
    def __init__(self, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        # The longest window each key was used with: what the sweep may forget after.
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_sweep = clock() + SWEEP_EVERY_S

    def _window(self, item: RateLimitItem, ids: tuple[str, ...], now: float) -> deque[float]:
        key = item.key_for(*ids)
        expiry = item.get_expiry()
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        self._expiry[key] = max(expiry, self._expiry.get(key, 0.0))
        while hits and hits[0] <= now - expiry:
            hits.popleft()
        return hits

    def hit(self, item: RateLimitItem, *ids: str, cost: int = 1) -> bool:
        now = self._clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            hits = self._window(item, ids, now)
            if len(hits) + cost > item.amount:
                return False
            hits.extend([now] * cost)
            return True

    def get_window_stats(self, item: RateLimitItem, *ids: str) -> WindowStats:
        """When the oldest hit in the window leaves it, and how many hits are left."""
        now = self._clock()
        with self._lock:
            hits = self._window(item, ids, now)
            reset = (hits[0] if hits else now) + item.get_expiry()
            return WindowStats(reset, max(0, item.amount - len(hits)))

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + SWEEP_EVERY_S
        stale = [
            key
            for key, hits in self._hits.items()
            if not hits or hits[-1] <= now - self._expiry[key]
        ]
        for key in stale:
            del self._hits[key]
            del self._expiry[key]

    def __len__(self) -> int:
        """Keys held (tests: the sweep forgets idle ones)."""
        return len(self._hits)
