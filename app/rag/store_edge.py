"""Qdrant Edge: the in-process engine (embedded default), one shard directory per collection."""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import qdrant_edge as qe

from app.rag.store_base import (
    DEFAULT_DIM,
    DENSE,
    FULL_SCAN_THRESHOLD_KB,
    HNSW_EF_CONSTRUCT,
    HNSW_M,
    HNSW_PAYLOAD_M,
    RRF_K,
    SPARSE,
    PointData,
    SparsePair,
    VectorStore,
    _hits,
)
from app.rag.types import SearchHit

if TYPE_CHECKING:
    pass


log = logging.getLogger("app.rag.store")  # one logger name for the whole store

_T = TypeVar("_T")


class EdgeStore(VectorStore):
    """A Qdrant Edge shard in this process.

    Threading: the shard is internally synchronised (its WAL mutex serialises updates,
    segments sit behind read/write locks), so searches run concurrently with each other
    and only wait on the short segment lock of an update being applied. `_write_lock`
    additionally serialises our own writes and `close()` so a close can't race an upsert.
    Only one `EdgeStore` (one process) may open a given path: the shard's WAL is single-writer
    and a second opener used to fail with a bare `WouldBlock`. An advisory lock file beside the
    shard (`<dir>.lock`, released by the kernel when the process dies, even on SIGKILL) makes
    the second opener fail at once with `ShardInUseError`, which says what to do instead.

    Durability: `update` appends to the shard's WAL before applying, so once `upsert`
    returns the data survives a killed process (the WAL is replayed on load; tested with
    SIGKILL). A flush persists segments and lets the WAL be truncated; it costs 50-250 ms,
    so instead of flushing every write we flush at most every `flush_interval_s` seconds
    (like the server's `flush_interval_sec`), on `flush()` and on `close()`.
    `flush_interval_s=0` flushes after every write.
    """

    def __init__(
        self, path: Path | str, dim: int = DEFAULT_DIM, *, flush_interval_s: float = 5.0
    ) -> None:
        self.dim = dim
        self.path = Path(path)
        self._flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()
        self._write_lock = threading.Lock()
        self._lock_fd: int | None = _lock_shard(self.path)
        config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=qe.HnswIndexConfig(
                m=HNSW_M,
                ef_construct=HNSW_EF_CONSTRUCT,
                full_scan_threshold=FULL_SCAN_THRESHOLD_KB,
                payload_m=HNSW_PAYLOAD_M,
            ),
        )
        # Whether this open made a new, empty shard (a first start, or a new embedding model).
        self.created = not (self.path / "edge_config.json").exists()
        try:
            if not self.created:
                # Passing the config makes a dimension/metric mismatch fail loudly here.
                self._shard: qe.EdgeShard | None = qe.EdgeShard.load(str(self.path), config)
            else:
                self.path.mkdir(parents=True, exist_ok=True)
                self._shard = qe.EdgeShard.create(str(self.path), config)
        except BaseException:
            _unlock_shard(self._lock_fd)
            self._lock_fd = None
            raise
        schema = self._shard.info().payload_schema
        if "tenant_id" not in schema:
            self._shard.update(
                qe.UpdateOperation.create_field_index(
                    "tenant_id", qe.KeywordIndexParams(is_tenant=True)
                )
            )
        if "document_id" not in schema:
            self._shard.update(
                qe.UpdateOperation.create_field_index("document_id", qe.PayloadSchemaType.Keyword)
            )

    # ---- helpers --------------------------------------------------------------------

    def _get(self) -> qe.EdgeShard:
        shard = self._shard
        if shard is None:
            raise RuntimeError("EdgeStore is closed")
        return shard

    def _write(self, op: qe.UpdateOperation) -> None:
        with self._write_lock:
            shard = self._get()
            shard.update(op)
            if time.monotonic() - self._last_flush >= self._flush_interval_s:
                shard.flush()
                self._last_flush = time.monotonic()

    def _read(self, fn: Callable[[qe.EdgeShard], _T]) -> _T:
        return fn(self._get())

    @staticmethod
    def _filter(tenant_id: str, document_ids: Sequence[str] | None = None) -> qe.Filter:
        must: list[Any] = [qe.FieldCondition("tenant_id", match=qe.MatchValue(tenant_id))]
        if document_ids is not None:
            must.append(qe.FieldCondition("document_id", match=qe.MatchAny(list(document_ids))))
        return qe.Filter(must=must)

    @staticmethod
    def _idf(tenant_id: str) -> qe.SearchParams:
        # IDF statistics from this tenant's chunks only (see module docstring).
        return qe.SearchParams(idf=qe.IdfParams(corpus=EdgeStore._filter(tenant_id)))

    # ---- backend hooks --------------------------------------------------------------

    def _upsert(self, points: list[PointData]) -> None:
        self._write(
            qe.UpdateOperation.upsert_points(
                [
                    qe.Point(pid, {DENSE: dense, SPARSE: qe.SparseVector(*sparse)}, payload)
                    for pid, dense, sparse, payload in points
                ]
            )
        )

    def _delete(self, tenant_id: str, document_id: str | None) -> None:
        flt = self._filter(tenant_id, None if document_id is None else [document_id])
        self._write(qe.UpdateOperation.delete_points_by_filter(flt))

    def _delete_points(self, tenant_id: str, point_ids: list[str]) -> None:
        flt = qe.Filter(
            must=[
                qe.FieldCondition("tenant_id", match=qe.MatchValue(tenant_id)),
                qe.HasIdCondition(set(point_ids)),
            ]
        )
        self._write(qe.UpdateOperation.delete_points_by_filter(flt))

    def _search_dense(
        self,
        tenant_id: str,
        vector: list[float],
        top_k: int,
        document_ids: list[str] | None,
        score_threshold: float | None,
    ) -> list[SearchHit]:
        req = qe.QueryRequest(
            limit=top_k,
            query=qe.Query.Nearest(vector, using=DENSE),
            filter=self._filter(tenant_id, document_ids),
            with_payload=True,
            score_threshold=score_threshold,
        )
        return _hits(
            tenant_id, ((p.id, p.score, p.payload) for p in self._read(lambda s: s.query(req)))
        )

    def _search_bm25(
        self,
        tenant_id: str,
        sparse: SparsePair,
        top_k: int,
        document_ids: list[str] | None,
        score_threshold: float | None,
    ) -> list[SearchHit]:
        req = qe.QueryRequest(
            limit=top_k,
            query=qe.Query.Nearest(qe.SparseVector(*sparse), using=SPARSE),
            filter=self._filter(tenant_id, document_ids),
            with_payload=True,
            score_threshold=score_threshold,
            params=self._idf(tenant_id),
        )
        return _hits(
            tenant_id, ((p.id, p.score, p.payload) for p in self._read(lambda s: s.query(req)))
        )

    def _search_hybrid(
        self,
        tenant_id: str,
        vector: list[float],
        sparse: SparsePair,
        top_k: int,
        pool: int,
        document_ids: list[str] | None,
    ) -> list[SearchHit]:
        flt = self._filter(tenant_id, document_ids)
        prefetches = [
            qe.Prefetch(limit=pool, query=qe.Query.Nearest(vector, using=DENSE), filter=flt)
        ]
        if sparse[0]:
            prefetches.append(
                qe.Prefetch(
                    limit=pool,
                    query=qe.Query.Nearest(qe.SparseVector(*sparse), using=SPARSE),
                    filter=flt,
                    params=self._idf(tenant_id),
                )
            )
        req = qe.QueryRequest(
            limit=top_k,
            prefetches=prefetches,
            query=qe.Fusion.Rrf(k=RRF_K),
            filter=flt,
            with_payload=True,
        )
        return _hits(
            tenant_id, ((p.id, p.score, p.payload) for p in self._read(lambda s: s.query(req)))
        )

    def _scroll(
        self, tenant_id: str, document_id: str | None, limit: int, offset: str | None
    ) -> tuple[list[SearchHit], str | None]:
        req = qe.ScrollRequest(
            offset=offset,
            limit=limit,
            with_payload=True,
            with_vector=False,
            filter=self._filter(tenant_id, None if document_id is None else [document_id]),
        )
        records, next_offset = self._read(lambda s: s.scroll(req))
        hits = _hits(tenant_id, ((r.id, 0.0, r.payload) for r in records))
        return hits, None if next_offset is None else str(next_offset)

    def _count(self, tenant_id: str, document_id: str | None) -> int:
        flt = self._filter(tenant_id, None if document_id is None else [document_id])
        return self._read(lambda s: s.count(qe.CountRequest(exact=True, filter=flt)))

    # ---- lifecycle ------------------------------------------------------------------

    def flush(self) -> None:
        with self._write_lock:
            self._get().flush()
            self._last_flush = time.monotonic()

    def optimize(self) -> bool:
        """Build indexes / merge segments now (otherwise nothing optimizes an Edge shard)."""
        with self._write_lock:
            return self._get().optimize()

    def close(self) -> None:
        with self._write_lock:
            shard, self._shard = self._shard, None
            if shard is not None:
                shard.flush()
                shard.close()
            _unlock_shard(self._lock_fd)
            self._lock_fd = None


class ShardInUseError(RuntimeError):
    """Another process has this Qdrant Edge shard open."""


def _lock_shard(path: Path) -> int:
    """Take the shard's exclusive lock (non-blocking); ShardInUseError if another process has it."""
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise ShardInUseError(
            f"The Qdrant Edge shard {path} is already open in another process (pid {holder}). "
            "The embedded vector store belongs to one process: run ingestion inside the app "
            "(INGEST_WORKERS >= 1, no `python -m app.worker`), or set QDRANT_URL to a Qdrant "
            "server so that several app and worker processes share it."
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _unlock_shard(fd: int | None) -> None:
    if fd is not None:
        os.close(fd)  # closing the descriptor drops the flock
