"""Process-level settings for a long-running server: the thread pool and garbage collection.

Thread pool. Every blocking step of a chat turn (database, Redis, embedding, vector search)
runs in the event loop's default executor via `asyncio.to_thread`. asyncio sizes it at
cpu_count + 4: 6 threads on a 2-core machine, so under 40 concurrent turns the turns
queued for a thread while the CPU sat partly idle (threads wait on I/O, locks and the
embedder with the GIL released). `BACKEND_THREADS` (default 32) sizes it instead:
measured 22 -> 34 turns/s at 40 closed-loop users (bench/load.py's visitors, one process).

Garbage collection.

A warm ChatConnect process holds close to a million long-lived objects (the embedding model,
LlamaIndex, Reflex's compiled app, SQLAlchemy's mappers) that CPython's cyclic collector
walks in every full (generation 2) collection: measured at 300-700 ms per collection on this
2-core machine, each one a pause of every request in the process. After start-up the
process warms what a first turn would load, collects once and freezes the survivors
(`gc.freeze()`: later collections skip them), so a full collection only walks what was made
since. A larger generation-0 threshold makes the frequent young collections rarer too: a
chat turn allocates tens of thousands of short-lived objects.

`chatconnect_gc_pause_seconds` (by generation) shows the pauses that remain.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger("chatconnect.process")

# (700, 10, 10) is CPython's default. 10,000 young objects per collection: a turn's
# garbage is mostly freed by reference counting; the collector only finds cycles.
THRESHOLDS = (10_000, 20, 20)

_installed = False
_started: dict[int, float] = {}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[info["generation"]] = time.perf_counter()
        return
    began = _started.pop(info["generation"], None)
    if began is not None:
        from app.services.metrics import GC_PAUSE

        GC_PAUSE.labels(str(info["generation"])).observe(time.perf_counter() - began)


def size_thread_pool(loop: asyncio.AbstractEventLoop, threads: int) -> ThreadPoolExecutor:
    """The loop's default executor (asyncio.to_thread) with `threads` workers."""
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="blocking")
    loop.set_default_executor(executor)
    return executor


def install() -> None:
    """Thresholds and the pause metric (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    gc.set_threshold(*THRESHOLDS)
    gc.callbacks.append(_on_gc)


def freeze_after(warm: Callable[[], None]) -> threading.Thread:
    """Run `warm` in a background thread (start-up is not delayed), then collect once and
    freeze what survived. A failed warm-up is logged; the freeze still happens."""

    def run() -> None:
        started = time.perf_counter()
        try:
            warm()
        except Exception:
            log.exception("warm-up failed (the first turn will load what it needs)")
        gc.collect()
        gc.freeze()
        log.info(
            "warm in %.1f s; %d objects frozen out of garbage collection",
            time.perf_counter() - started,
            gc.get_freeze_count(),
        )

    thread = threading.Thread(target=run, name="warm-up", daemon=True)
    thread.start()
    return thread
