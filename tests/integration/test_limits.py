"""Chat rate limits: exact under concurrency, in process and in Redis; Redis outage degrades."""

from __future__ import annotations

import logging
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.services.limits import ChatRateLimiter, LimitPolicy, RateLimitedError

LIMIT = 7


def _policy(per_hour: int = 1000, per_minute: int = LIMIT) -> LimitPolicy:
    return LimitPolicy(
        tenant_per_hour={"free": per_hour, "paid": per_hour * 10}, visitor_per_minute=per_minute
    )


def _burst(limiter: ChatRateLimiter, tenant: str, visitor: str | None, n: int = 50) -> int:
    def one(_: int) -> bool:
        try:
            limiter.check(tenant, "free", visitor)
            return True
        except RateLimitedError:
            return False

    with ThreadPoolExecutor(max_workers=50) as pool:
        return sum(pool.map(one, range(n)))


def test_exactly_n_of_50_concurrent_pass_in_process() -> None:
    limiter = ChatRateLimiter(_policy())
    assert _burst(limiter, "t1", "visitor") == LIMIT
    assert _burst(limiter, "t1", "other-visitor") == LIMIT


def test_exactly_n_of_50_concurrent_pass_in_redis(redis_url: str) -> None:
    tenant = uuid.uuid4().hex
    # Two limiters = two app processes sharing one Redis.
    a, b = ChatRateLimiter(_policy(), redis_url), ChatRateLimiter(_policy(), redis_url)
    passed_a = _burst(a, tenant, "visitor", 25)
    passed_b = _burst(b, tenant, "visitor", 25)
    assert passed_a + passed_b == LIMIT


def test_tenant_hourly_limit_by_tier() -> None:
    limiter = ChatRateLimiter(_policy(per_hour=5, per_minute=1000))
    assert _burst(limiter, "t2", None) == 5
    with pytest.raises(RateLimitedError) as info:
        limiter.check("t2", "free", None)
    assert info.value.scope == "workspace" and 1 <= info.value.retry_after <= 3600
    limiter.check("t2", "paid", None)  # the paid tier's limit is 50


def test_widget_limit_counts_every_visitor_of_one_widget() -> None:
    limiter = ChatRateLimiter(
        LimitPolicy(tenant_per_hour={"free": 1000}, visitor_per_minute=1000, widget_per_minute=3)
    )
    for visitor in ("v1", "v2", "v3"):  # fresh visitor ids do not reset the widget's window
        limiter.check("t4", "free", visitor, "w1")
    with pytest.raises(RateLimitedError) as info:
        limiter.check("t4", "free", "v4", "w1")
    assert info.value.scope == "widget" and 1 <= info.value.retry_after <= 60
    limiter.check("t4", "free", "v4", "w2")  # another widget has its own window


def test_redis_outage_falls_back_to_in_process_limits(caplog: pytest.LogCaptureFixture) -> None:
    limiter = ChatRateLimiter(_policy(), "redis://127.0.0.1:1/0")
    with caplog.at_level(logging.WARNING, logger="chatconnect.limits"):
        assert _burst(limiter, "t3", "visitor", 20) == LIMIT
    assert "in-process limits" in caplog.text
