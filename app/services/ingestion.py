"""The process's ingestion workers: built from settings, started by the app's lifespan."""

from __future__ import annotations

import logging
import os
import threading

from sqlalchemy import Engine, or_
from sqlmodel import col, select

from app.db import get_engine, session_scope
from app.models import (
    CatalogueProduct,
    Document,
    DocumentStatus,
    IngestJob,
    JobStatus,
    Tenant,
)
from app.rag.embedding import get_embedder
from app.rag.ingest import IngestConfig, JobRunner, WorkerPool, requeue_orphans
from app.rag.store import LEGACY_SPACE, VectorStore, space_key
from app.services.vectors import current_space_key, get_store
from app.settings import Settings, get_settings

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "embedding-model switch: re-index and purge across workspaces"

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


def requeue_other_models(engine: Engine, current: str) -> int:
    """Queue a re-index of every ready document indexed under another embedding model.

    The current model's collection holds only vectors of that model, so until its job has
    run such a document is simply not found (never found with a foreign vector). Documents
    with a job already queued or running are left to it. Returns how many were queued.
    """
    legacy = current == space_key(*LEGACY_SPACE)
    queued = 0
    with session_scope(engine, system=_CROSS_TENANT) as s:
        other = col(Document.index_model) != current
        stale = or_(other, col(Document.index_model).is_(None)) if not legacy else other
        busy = select(IngestJob.document_id).where(
            col(IngestJob.status).in_([JobStatus.queued, JobStatus.running])
        )
        docs = s.exec(
            select(Document).where(
                Document.status == DocumentStatus.ready,
                stale,
                col(Document.id).not_in(busy),
            )
        ).all()
        for doc in docs:
            doc.status, doc.progress, doc.error = DocumentStatus.queued, 0, None
            doc.step = "Re-indexing for the new embedding model"
            s.add(doc)
            s.add(IngestJob(tenant_id=doc.tenant_id, document_id=doc.id))
            queued += 1
    return queued


def purge_stale_points(engine: Engine, store: VectorStore, *, page: int = 1000) -> int:
    """Drop points of documents that no longer exist from the current model's collection.

    A collection sits unused while another model is configured; documents deleted in that
    time were deleted from the other collection only. Run when a switch is detected (it
    reads every point id of every workspace once, which is cheap next to the re-index the
    switch causes anyway). Returns how many documents' points were dropped.
    """
    with session_scope(engine, system=_CROSS_TENANT) as s:
        tenants = list(s.exec(select(Tenant.id)))
    dropped = 0
    for tenant_id in tenants:
        with session_scope(engine, system=_CROSS_TENANT) as s:
            known = set(s.exec(select(Document.id).where(Document.tenant_id == tenant_id)))
            # Catalogue products' points are named by their row ids (app.services.catalogue_sync).
            known |= set(
                s.exec(select(CatalogueProduct.id).where(CatalogueProduct.tenant_id == tenant_id))
            )
        stored: set[str] = set()
        offset: str | None = None
        while True:
            hits, offset = store.scroll(tenant_id, limit=page, offset=offset)
            stored.update(h.document_id for h in hits)
            if offset is None:
                break
        for document_id in stored - known:
            store.delete_document(tenant_id, document_id)
            dropped += 1
    return dropped


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
        switched = requeue_other_models(get_engine(), current_space_key(settings))
        if switched:
            log.info("re-indexing %d document(s) for the current embedding model", switched)
            purge_stale_points(get_engine(), get_store())
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
