from __future__ import annotations

import time

import pytest

from app.services.throttle import BackoffPolicy, LoginThrottle, MemoryFailureStore


def test_backoff_grows_then_caps() -> None:
    policy = BackoffPolicy(free_failures=5, max_delay_s=300)
    assert [policy.delay(n) for n in range(5)] == [0, 0, 0, 0, 0]
    assert [policy.delay(n) for n in (5, 6, 7)] == [2, 4, 8]
    assert policy.delay(50) == 300


def test_account_backoff_and_reset_on_success() -> None:
    throttle = LoginThrottle(MemoryFailureStore())
    for _ in range(4):
        throttle.failed("a@x.io", "1.1.1.1")
    assert throttle.retry_after("a@x.io", "1.1.1.1") == 0
    throttle.failed("a@x.io", "1.1.1.1")
    assert throttle.retry_after("a@x.io", "1.1.1.1") >= 1
    # Another account from another IP is not affected.
    assert throttle.retry_after("b@x.io", "2.2.2.2") == 0
    throttle.succeeded("a@x.io")
    assert throttle.retry_after("a@x.io", "9.9.9.9") == 0


def test_ip_backoff_across_accounts() -> None:
    throttle = LoginThrottle(MemoryFailureStore())
    for i in range(20):
        throttle.failed(f"user{i}@x.io", "6.6.6.6")
    assert throttle.retry_after("fresh@x.io", "6.6.6.6") >= 1
    assert throttle.retry_after("fresh@x.io", "7.7.7.7") == 0


def test_failures_expire_with_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryFailureStore()
    store.record("acct:a", window_s=1)
    assert store.get("acct:a")[0] == 1
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 5)
    assert store.get("acct:a") == (0, 0.0)
