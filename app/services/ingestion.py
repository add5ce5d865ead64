"""The process's ingestion workers: built from settings, started by the app's lifespan."""

from __future__ import annotations

import logging
import os
import threading

from app.db import get_engine
from app.rag.embedding import get_embedder
from app.rag.ingest import IngestConfig, JobRunner, WorkerPool, requeue_orphans
from app.services.vectors import get_store
from app.settings import Settings, get_settings

log = logging.getLogger("chatconnect.ingest")

_pool: WorkerPool | None = None
_lock = threading.Lock()


def ingest_torch_threads() -> int:
    """Leave at least one core to chat: ingestion embeds on (cores - 1) threads, min 1."""
    return max(1, (os.cpu_count() or 2) - 1)


def make_runner(settings: Settings | None = None) -> JobRunner:
    settings = settings or get_settings()
    return JobRunner(
        get_engine(),
        get_store(),
        get_embedder(settings, torch_threads=ingest_torch_threads()),
        IngestConfig(files_dir=settings.files_dir, max_upload_bytes=settings.max_upload_bytes),
    )


def start_workers(settings: Settings | None = None) -> WorkerPool | None:
    global _pool
    settings = settings or get_settings()
    with _lock:
        if _pool is not None or settings.ingest_workers == 0:
            return _pool
        if settings.is_embedded:
            requeued = requeue_orphans(get_engine())
            if requeued:
                log.info("resuming %d interrupted ingestion job(s)", requeued)
        _pool = WorkerPool(lambda: make_runner(settings), threads=settings.ingest_workers)
        _pool.start()
        return _pool


def wake_workers() -> None:
    if _pool is not None:
        _pool.wake()


def stop_workers() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.stop()
            _pool = None
