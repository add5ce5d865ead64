"""Catalogue syncs as durable jobs: claimed with compare-and-set, heartbeated, resumable.

A sync reads the whole catalogue through its connector, then reconciles: a product whose
content hash is unchanged embeds nothing; new or changed products are embedded and
upserted (point id `point_id(tenant, product row id, 0)`, so a retried sync overwrites);
products the shop no longer lists leave the index and the table. Unavailable shops are
retried with backoff; other errors fail the job with a message the owner can act on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import TextNode
from sqlalchemy import Engine, or_, update
from sqlmodel import col, select

from app.connectors import ConnectorError, ConnectorUnavailable, Product
from app.db import session_scope
from app.models import Catalogue, CatalogueJob, CatalogueProduct, JobStatus, utcnow
from app.rag.ingest import worker_identity
from app.rag.store import TenantVectorStore, VectorStore, space_key
from app.rag.types import point_id
from app.services import catalogues
from app.services.outbound import OutboundError

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "catalogue worker: claims and runs every workspace's syncs"

log = logging.getLogger("chatconnect.catalogue")

STALE_AFTER_S = 120.0
EMBED_BATCH = 64
RETRY_BASE_S = 60.0
MAX_SKIPPED_SHOWN = 20


def content_hash(p: Product) -> str:
    """Everything that is indexed or shown on a card: any change re-embeds the product."""
    data = [
        p.embed_text(), p.title, str(p.price), p.currency, p.category, p.image_url,
        p.product_url, p.in_stock, p.stock_qty, p.sku,
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()


def card_payload(p: Product) -> dict[str, object]:
    return {
        "price": str(p.price),
        "currency": p.currency,
        "image_url": p.image_url,
        "product_url": p.product_url,
        "in_stock": p.in_stock,
        "category": p.category,
    }


@dataclass
class SyncOutcome:
    products: int
    embedded: int
    removed: int
    skipped: int


class CatalogueSyncRunner:
    """Claims and runs catalogue jobs; one per worker thread or process."""

    def __init__(
        self,
        engine: Engine,
        store: VectorStore,
        embedder: BaseEmbedding,
        *,
        worker_id: str | None = None,
        stale_after_s: float = STALE_AFTER_S,
    ) -> None:
        self.engine, self.store, self.embedder = engine, store, embedder
        self.worker_id = worker_id or worker_identity()
        self.stale_after_s = stale_after_s
        space = getattr(embedder, "vector_space", getattr(embedder, "model_name", ""))
        self.index_model = space_key(space, store.dim)

    # ---- claiming ---------------------------------------------------------------------

    def _claimable(self):  # type: ignore[no-untyped-def]
        now = utcnow()
        stale = now - timedelta(seconds=self.stale_after_s)
        return or_(
            (col(CatalogueJob.status) == JobStatus.queued.value)
            & (col(CatalogueJob.next_attempt_at) <= now),
            (col(CatalogueJob.status) == JobStatus.running.value)
            & (col(CatalogueJob.heartbeat_at) < stale),
        )

    def claim(self) -> str | None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            catalogues.enqueue_due(s, index_model=self.index_model)
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            candidates = s.exec(
                select(CatalogueJob.id)
                .where(self._claimable())
                .order_by(col(CatalogueJob.created_at))
                .limit(5)
            ).all()
            for job_id in candidates:
                result = s.execute(
                    update(CatalogueJob)
                    .where(col(CatalogueJob.id) == job_id, self._claimable())
                    .values(
                        status=JobStatus.running.value,
                        worker_id=self.worker_id,
                        heartbeat_at=utcnow(),
                        attempts=CatalogueJob.attempts + 1,
                        updated_at=utcnow(),
                    )
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    return job_id
        return None

    def run_once(self) -> bool:
        job_id = self.claim()
        if job_id is None:
            return False
        self.run(job_id)
        return True

    def drain(self, max_jobs: int = 100) -> int:
        done = 0
        while done < max_jobs and self.run_once():
            done += 1
        return done

    def release(self) -> int:
        """Hand this worker's running jobs back to the queue, uncounted."""
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            result = s.execute(
                update(CatalogueJob)
                .where(
                    col(CatalogueJob.worker_id) == self.worker_id,
                    col(CatalogueJob.status) == JobStatus.running.value,
                )
                .values(
                    status=JobStatus.queued.value,
                    worker_id=None,
                    next_attempt_at=utcnow(),
                    attempts=CatalogueJob.attempts - 1,
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _beat(self, job_id: str) -> None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            s.execute(
                update(CatalogueJob)
                .where(
                    col(CatalogueJob.id) == job_id,
                    col(CatalogueJob.worker_id) == self.worker_id,
                )
                .values(heartbeat_at=utcnow())
            )

    # ---- running ----------------------------------------------------------------------

    def run(self, job_id: str) -> SyncOutcome | None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = s.get(CatalogueJob, job_id)
            catalogue = s.get(Catalogue, job.catalogue_id) if job else None
            if job is None or catalogue is None:
                return None
            tenant_id, catalogue_id, kind = catalogue.tenant_id, catalogue.id, catalogue.kind
            config = catalogues.full_config(catalogue)
            catalogue.status, catalogue.last_error = "syncing", None
            s.add(catalogue)
        stop = threading.Event()
        beat = threading.Thread(target=self._beat_loop, args=(job_id, stop), daemon=True)
        beat.start()
        try:
            outcome = self._sync(job_id, tenant_id, catalogue_id, kind, config)
        except ConnectorUnavailable as exc:
            self._retry_or_fail(job_id, catalogue_id, str(exc))
            return None
        except (ConnectorError, OutboundError, catalogues.CatalogueError) as exc:
            self._fail(job_id, catalogue_id, str(exc))
            return None
        except Exception as exc:
            log.exception("catalogue sync failed", extra={"tenant_id": tenant_id})
            self._retry_or_fail(job_id, catalogue_id, f"internal error ({type(exc).__name__})")
            return None
        finally:
            stop.set()
            beat.join(5)
        return outcome

    def _beat_loop(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(max(0.2, self.stale_after_s / 4)):
            try:
                self._beat(job_id)
            except Exception:  # the database is briefly away: the next beat tries again
                log.warning("catalogue heartbeat failed", exc_info=True)

    def _sync(
        self, job_id: str, tenant_id: str, catalogue_id: str, kind: str, config: dict
    ) -> SyncOutcome:
        fetched = catalogues.fetch(kind, config)
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            rows = s.exec(
                select(CatalogueProduct).where(
                    CatalogueProduct.tenant_id == tenant_id,
                    CatalogueProduct.catalogue_id == catalogue_id,
                )
            ).all()
            catalogue = s.get(Catalogue, catalogue_id)
            same_space = catalogue is not None and catalogue.index_model == self.index_model
            # Another model's points are not in this collection: then every product is new.
            known = {r.external_id: (r.id, r.content_hash if same_space else "") for r in rows}
        seen: dict[str, Product] = {}
        for p in fetched.products:
            seen.setdefault(p.external_id, p)  # a shop listing an id twice: the first wins
        changed = [p for eid, p in seen.items() if known.get(eid, ("", ""))[1] != content_hash(p)]
        removed = [(eid, rid) for eid, (rid, _) in known.items() if eid not in seen]
        ids = {eid: known[eid][0] if eid in known else None for eid in seen}
        store = TenantVectorStore(self.store, tenant_id)
        embedded = 0
        for start in range(0, len(changed), EMBED_BATCH):
            batch = changed[start : start + EMBED_BATCH]
            embedded += self._write_batch(store, tenant_id, catalogue_id, batch, ids)
            self._beat(job_id)
        for _, row_id in removed:
            store.delete(row_id)
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            for _, row_id in removed:
                row = s.get(CatalogueProduct, row_id)
                if row is not None and row.tenant_id == tenant_id:
                    s.delete(row)
            catalogue = s.get(Catalogue, catalogue_id)
            job = s.get(CatalogueJob, job_id)
            if catalogue is not None:
                catalogue.status = "ready"
                catalogue.product_count = len(seen)
                catalogue.skipped_count = len(fetched.skipped)
                catalogue.skipped = [
                    {"id": k.external_id, "reason": k.reason}
                    for k in fetched.skipped[:MAX_SKIPPED_SHOWN]
                ]
                catalogue.truncated = fetched.truncated
                catalogue.last_synced_at = utcnow()
                catalogue.last_error = None
                catalogue.last_embedded, catalogue.last_removed = embedded, len(removed)
                catalogue.index_model = self.index_model
                catalogue.next_sync_at = catalogues.next_sync(catalogue.schedule, utcnow())
                s.add(catalogue)
            if job is not None:
                job.status, job.error, job.worker_id = JobStatus.done, None, None
                s.add(job)
            deleted_meanwhile = catalogue is None
        if deleted_meanwhile:  # its delete dropped the points it knew of; these came later
            for row_id in {i for i in ids.values() if i}:
                store.delete(row_id)
        return SyncOutcome(len(seen), embedded, len(removed), len(fetched.skipped))

    def _write_batch(
        self,
        store: TenantVectorStore,
        tenant_id: str,
        catalogue_id: str,
        batch: Sequence[Product],
        ids: dict[str, str | None],
    ) -> int:
        """Rows first (their ids name the points), then vectors; both are idempotent."""
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            for p in batch:
                row_id = ids.get(p.external_id)
                row = s.get(CatalogueProduct, row_id) if row_id else None
                if row is None:
                    row = CatalogueProduct(
                        tenant_id=tenant_id, catalogue_id=catalogue_id, external_id=p.external_id,
                        title="", price=p.price, content_hash="",
                    )  # fmt: skip
                row.title, row.price, row.currency = p.title[:300], p.price, p.currency
                row.category, row.description = p.category[:200], p.description
                row.image_url, row.product_url = p.image_url, p.product_url
                row.in_stock, row.stock_qty, row.sku = p.in_stock, p.stock_qty, p.sku
                row.attributes = dict(p.attributes)
                row.content_hash = content_hash(p)
                s.add(row)
                s.flush()
                ids[p.external_id] = row.id
        texts = [p.embed_text() for p in batch]
        vectors = self.embedder.get_text_embedding_batch(texts)
        nodes = []
        for p, text, vector in zip(batch, texts, vectors, strict=True):
            row_id = ids[p.external_id]
            assert row_id is not None
            nodes.append(
                TextNode(
                    id_=point_id(tenant_id, row_id, 0),
                    text=text,
                    embedding=list(vector),
                    metadata={
                        "tenant_id": tenant_id,
                        "document_id": row_id,
                        "chunk_index": 0,
                        "title": p.title,
                        "product": card_payload(p),
                    },
                )
            )
        store.add(nodes)
        return len(nodes)

    def _fail(self, job_id: str, catalogue_id: str, reason: str) -> None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job, catalogue = s.get(CatalogueJob, job_id), s.get(Catalogue, catalogue_id)
            if job is not None:
                job.status, job.error, job.worker_id = JobStatus.failed, reason[:1000], None
                s.add(job)
            if catalogue is not None:
                catalogue.status, catalogue.last_error = "failed", reason[:1000]
                s.add(catalogue)

    def _retry_or_fail(self, job_id: str, catalogue_id: str, reason: str) -> None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = s.get(CatalogueJob, job_id)
            if job is None or job.attempts >= job.max_attempts:
                retry = False
            else:
                retry = True
                job.status, job.error, job.worker_id = JobStatus.queued, reason[:1000], None
                job.next_attempt_at = utcnow() + timedelta(seconds=RETRY_BASE_S * job.attempts)
                s.add(job)
                catalogue = s.get(Catalogue, catalogue_id)
                if catalogue is not None:
                    catalogue.status = "queued"
                    catalogue.last_error = f"{reason} (retrying)"[:1000]
                    s.add(catalogue)
        if not retry:
            self._fail(job_id, catalogue_id, reason)


def drop_points(store: VectorStore, tenant_id: str, product_ids: Sequence[str]) -> None:
    """Remove deleted products' points (called after the deleting transaction commits)."""
    bound = TenantVectorStore(store, tenant_id)
    for product_id in product_ids:
        bound.delete(product_id)


class CataloguePool:
    """Threads that run catalogue jobs (in the app, or in `python -m app.worker`)."""

    def __init__(
        self, make_runner: Callable[[], CatalogueSyncRunner], threads: int = 1, poll_s: float = 5.0
    ) -> None:
        self._make_runner, self.poll_s = make_runner, poll_s
        self._stop, self._wake = threading.Event(), threading.Event()
        self._runners: list[CatalogueSyncRunner] = []
        self._threads = [
            threading.Thread(target=self._loop, name=f"catalogue-{i}", daemon=True)
            for i in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout)
        return not any(t.is_alive() for t in self._threads)

    def release(self) -> int:
        return sum(r.release() for r in self._runners)

    def _loop(self) -> None:
        runner = self._make_runner()
        self._runners.append(runner)
        while not self._stop.is_set():
            try:
                worked = runner.run_once()
            except Exception:  # the database being down must not kill the thread
                log.exception("catalogue worker loop error")
                worked = False
            if not worked:
                self._wake.wait(self.poll_s)
                self._wake.clear()


# ---- the process's catalogue workers ------------------------------------------------------

_pool: CataloguePool | None = None
_pool_lock = threading.Lock()


def make_runner() -> CatalogueSyncRunner:
    from app.db import get_engine
    from app.rag.embedding import get_embedder
    from app.services.ingestion import ingest_torch_threads
    from app.services.vectors import get_store

    return CatalogueSyncRunner(
        get_engine(), get_store(), get_embedder(torch_threads=ingest_torch_threads())
    )


def start_workers(threads: int = 1) -> CataloguePool:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = CataloguePool(make_runner, threads=threads)
            _pool.start()
        return _pool


def wake_workers() -> None:
    if _pool is not None:
        _pool.wake()


def stop_workers() -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.stop()
            _pool = None
