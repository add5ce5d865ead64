"""The in-process moving window: same answers as `limits`' moving window, no threads."""

from __future__ import annotations

import threading

import pytest
from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.services import local_window
from app.services.local_window import LocalMovingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_allows_the_limit_then_refuses_until_the_oldest_hit_leaves_the_window() -> None:
    clock = Clock()
    window = LocalMovingWindow(clock)
    item = RateLimitItemPerMinute(3)
    for _ in range(3):
        assert window.hit(item, "t", "v")
        clock.now += 10
    assert not window.hit(item, "t", "v")
    stats = window.get_window_stats(item, "t", "v")
    assert stats.remaining == 0
    assert stats.reset_time == pytest.approx(1_000_000.0 + 60)  # first hit + a minute
    clock.now = 1_000_000.0 + 60  # the first hit leaves: one more passes, not two
    assert window.hit(item, "t", "v")
    assert not window.hit(item, "t", "v")


def test_keys_and_items_are_separate_counters() -> None:
    window = LocalMovingWindow(Clock())
    minute, hour = RateLimitItemPerMinute(1), RateLimitItemPerHour(1)
    assert window.hit(minute, "t", "a")
    assert window.hit(minute, "t", "b")  # another visitor
    assert window.hit(hour, "t", "a")  # another limit on the same ids
    assert not window.hit(minute, "t", "a")


def test_cost_counts_several_hits_and_is_refused_whole() -> None:
    window = LocalMovingWindow(Clock())
    item = RateLimitItemPerMinute(5)
    assert window.hit(item, "k", cost=4)
    assert not window.hit(item, "k", cost=2)
    assert window.get_window_stats(item, "k").remaining == 1


def test_agrees_with_the_limits_library_on_a_random_schedule(monkeypatch) -> None:
    import random
    import types

    import limits.storage.memory

    clock = Clock()
    # Only the reference's module sees the fake clock (it calls nothing but time.time).
    monkeypatch.setattr(limits.storage.memory, "time", types.SimpleNamespace(time=clock))
    reference = MovingWindowRateLimiter(MemoryStorage())
    ours = LocalMovingWindow(clock)
    item = RateLimitItemPerMinute(7)
    rng = random.Random(3)
    answers = []
    for _ in range(400):
        clock.now += rng.uniform(0, 12)
        key = rng.choice("ab")
        answers.append((ours.hit(item, key), reference.hit(item, key)))
    assert all(a == b for a, b in answers)
    assert sum(a for a, _ in answers) not in (0, len(answers))  # both outcomes happened


def test_idle_keys_are_swept_and_busy_ones_kept() -> None:
    clock = Clock()
    window = LocalMovingWindow(clock)
    minute, hour = RateLimitItemPerMinute(100), RateLimitItemPerHour(100)
    for visitor in range(50):
        window.hit(minute, "t", str(visitor))
    window.hit(hour, "t")
    assert len(window) == 51
    clock.now += local_window.SWEEP_EVERY_S + 61  # past the minute, inside the hour
    window.hit(minute, "t", "new")
    assert len(window) == 2  # the hourly key and the new visitor


def test_no_thread_is_started_per_hit() -> None:
    before = threading.active_count()
    window = LocalMovingWindow()
    item = RateLimitItemPerMinute(1000)
    for i in range(200):
        window.hit(item, "t", str(i % 7))
    assert threading.active_count() == before


def test_concurrent_hits_never_pass_more_than_the_limit() -> None:
    window = LocalMovingWindow()
    item = RateLimitItemPerMinute(500)
    passed: list[bool] = []
    lock = threading.Lock()

    def burst() -> None:
        got = [window.hit(item, "shared") for _ in range(200)]
        with lock:
            passed.extend(got)

    threads = [threading.Thread(target=burst) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(passed) == 500
