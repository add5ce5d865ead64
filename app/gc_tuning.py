"""Garbage collection for a long-running server process.

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

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("chatconnect.gc")

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
