"""app/process_tuning.py: thresholds, the pause metric, and the freeze after warm-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from app import process_tuning
from app.services.metrics import GC_PAUSE


@pytest.fixture(autouse=True)
def _restore_gc() -> Iterator[None]:
    thresholds, callbacks = gc.get_threshold(), list(gc.callbacks)
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.callbacks[:] = callbacks
    process_tuning._installed = False


def _pauses(generation: int) -> float:
    return GC_PAUSE.labels(str(generation))._sum.get()


def _count(generation: int) -> int:
    hist = GC_PAUSE.labels(str(generation))
    return sum(b.get() for b in hist._buckets)


def test_install_sets_thresholds_once_and_records_pauses() -> None:
    process_tuning.install()
    process_tuning.install()
    assert gc.get_threshold() == process_tuning.THRESHOLDS
    assert gc.callbacks.count(process_tuning._on_gc) == 1
    before = _count(2)
    gc.collect()
    assert _count(2) == before + 1
    assert _pauses(2) > 0


def test_freeze_after_warm_up_moves_survivors_out_of_collection() -> None:
    warmed = []
    kept = [object() for _ in range(1000)]  # alive while the freeze happens
    process_tuning.freeze_after(lambda: warmed.append(True)).join(timeout=30)
    assert warmed == [True]
    assert gc.get_freeze_count() >= len(kept)


def test_failed_warm_up_still_freezes(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("model missing")

    process_tuning.freeze_after(boom).join(timeout=30)
    assert gc.get_freeze_count() > 0
    assert "warm-up failed" in caplog.text


async def test_thread_pool_is_sized_for_blocking_work() -> None:
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    executor = process_tuning.size_thread_pool(loop, 12)
    try:
        started = threading.Barrier(12, timeout=10)
        # Twelve blocking calls at once all get a thread (asyncio's default on 2 cores: 6).
        await asyncio.gather(*(asyncio.to_thread(started.wait) for _ in range(12)))
        assert executor._max_workers == 12
    finally:
        executor.shutdown(wait=False)
