"""Request rate limits for chat: per tenant per hour (by tier) and per visitor per minute.

Counters use a moving window: in Redis through the maintained `limits` library (atomic
Lua scripts), in process through `app.services.local_window` (one lock). When Redis fails,
chat falls back to in-process counters and logs it, rather than refusing every visitor; login
throttling (app.services.throttle) deliberately does the opposite and fails closed.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.models import Tier
from app.services.local_window import LocalMovingWindow
from app.settings import Settings, get_settings

log = logging.getLogger("chatconnect.limits")
# After a Redis failure, counters stay in process this long before Redis is tried again.
REDIS_RETRY_S = 30.0


class RateLimitedError(Exception):
    """Too many requests; `retry_after` seconds until the next one may pass."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(
            f"Too many requests for this {scope}. Please try again in {retry_after} seconds."
        )
        self.scope = scope
        self.retry_after = max(1, retry_after)


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    tenant_per_hour: dict[str, int]
    visitor_per_minute: int
    # Anonymous visitors can mint new visitor ids; this caps one widget's burst so a single
    # abused site cannot drain the whole workspace's hourly allowance in a minute.
    widget_per_minute: int = 120
    # Order lookups (app.services.orders): few per visitor, so order numbers and emails
    # cannot be enumerated through the chat; a workspace-wide cap bounds many visitors.
    order_lookups_per_10_min: int = 5
    order_lookups_per_hour: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> LimitPolicy:
        return cls(
            tenant_per_hour={
                Tier.free: settings.rate_free_per_hour,
                Tier.paid: settings.rate_paid_per_hour,
            },
            visitor_per_minute=settings.rate_visitor_per_minute,
            widget_per_minute=settings.rate_widget_per_minute,
        )


class ChatRateLimiter:
    def __init__(self, policy: LimitPolicy, redis_url: str | None = None) -> None:
        self.policy = policy
        self._memory = LocalMovingWindow()
        self._redis: MovingWindowRateLimiter | None = None
        self._redis_down_until = 0.0
        if redis_url:
            storage: Storage = storage_from_string(
                redis_url, socket_timeout=1, socket_connect_timeout=1
            )
            self._redis = MovingWindowRateLimiter(storage)

    def _limiter(self) -> MovingWindowRateLimiter | LocalMovingWindow:
        if self._redis is not None and time.monotonic() >= self._redis_down_until:
            return self._redis
        return self._memory

    def _hit(self, item: RateLimitItem, *ids: str) -> tuple[bool, int]:
        limiter = self._limiter()
        try:
            allowed = limiter.hit(item, *ids)
            stats = None if allowed else limiter.get_window_stats(item, *ids)
        except Exception as exc:  # any storage failure: degrade to in-process counters
            if limiter is self._memory:
                raise
            log.warning(
                "rate-limit store unavailable, using in-process limits: %s", type(exc).__name__
            )
            self._redis_down_until = time.monotonic() + REDIS_RETRY_S
            return self._hit(item, *ids)
        if allowed:
            return True, 0
        return False, max(1, math.ceil(stats.reset_time - time.time())) if stats else 60

    def check(
        self, tenant_id: str, tier: str, visitor_id: str | None, widget_id: str | None = None
    ) -> None:
        """Count one chat request; raise RateLimitedError when a limit is exceeded."""
        if visitor_id:
            ok, wait = self._hit(
                RateLimitItemPerMinute(self.policy.visitor_per_minute),
                "visitor",
                tenant_id,
                visitor_id,
            )
            if not ok:
                raise RateLimitedError("visitor", wait)
        if widget_id:
            ok, wait = self._hit(
                RateLimitItemPerMinute(self.policy.widget_per_minute),
                "widget",
                tenant_id,
                widget_id,
            )
            if not ok:
                raise RateLimitedError("widget", wait)
        per_hour = self.policy.tenant_per_hour.get(tier, self.policy.tenant_per_hour[Tier.free])
        ok, wait = self._hit(RateLimitItemPerHour(per_hour), "tenant", tenant_id)
        if not ok:
            raise RateLimitedError("workspace", wait)

    def check_order_lookup(self, tenant_id: str, requester: str) -> None:
        """Count one order lookup by `requester` (a conversation or visitor id)."""
        ok, wait = self._hit(
            RateLimitItemPerMinute(self.policy.order_lookups_per_10_min, 10),
            "order-lookup",
            tenant_id,
            requester or "anonymous",
        )
        if not ok:
            raise RateLimitedError("conversation", wait)
        ok, wait = self._hit(
            RateLimitItemPerHour(self.policy.order_lookups_per_hour), "order-lookup", tenant_id
        )
        if not ok:
            raise RateLimitedError("workspace", wait)


_limiter: ChatRateLimiter | None = None
_lock = threading.Lock()


def get_rate_limiter() -> ChatRateLimiter:
    global _limiter
    if _limiter is None:
        with _lock:
            if _limiter is None:
                settings = get_settings()
                _limiter = ChatRateLimiter(LimitPolicy.from_settings(settings), settings.redis_url)
    return _limiter


def reset_rate_limiter() -> None:
    global _limiter
    _limiter = None
