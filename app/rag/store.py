"""The only module that talks to Qdrant.

One collection holds every tenant's chunks. Each point carries a named dense vector
(`dense`, cosine) and a named sparse BM25 vector (`bm25`, IDF modifier). Two backends
implement the same `VectorStore` interface:

- `EdgeStore`: an in-process Qdrant Edge shard under `settings.qdrant_path` (embedded default).
- `ServerStore`: a Qdrant server through qdrant-client (`QDRANT_URL`); tests run it in
  qdrant-client's local mode.

Tenant isolation is enforced here, not by callers: every public method takes a
`tenant_id`, refuses an empty one, and builds the tenant filter itself. BM25 IDF is
computed over the tenant's own points only (`IdfParams(corpus=tenant filter)`), so one
tenant's documents cannot shift another tenant's scores (a statistical side channel,
and a relevance bug).

Sparse vectors are computed once, here, with Qdrant Edge's `Bm25` model and sent
explicitly to either backend, so both store identical vectors for the same text.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import threading
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import qdrant_edge as qe
from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from app.rag.types import Chunk, SearchHit

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from app.settings import Settings

log = logging.getLogger(__name__)

DENSE = "dense"
SPARSE = "bm25"
DEFAULT_DIM = 384
# Qdrant's multitenancy recipe: no global HNSW graph (every search is tenant-filtered),
# per-tenant graphs via payload_m once a tenant outgrows the full-scan threshold.
HNSW_M = 0
HNSW_PAYLOAD_M = 16
HNSW_EF_CONSTRUCT = 100
FULL_SCAN_THRESHOLD_KB = 10_000
# Candidates each branch contributes to in-engine fusion, relative to top_k.
HYBRID_CANDIDATES_FACTOR = 4
RRF_K = 60

SparsePair = tuple[list[int], list[float]]
# (point id, dense vector, sparse vector, payload), ready for either backend.
PointData = tuple[str, list[float], SparsePair, dict[str, Any]]

# ---------------------------------------------------------------------------------
# BM25: one tokenizer/weighting for both backends
# ---------------------------------------------------------------------------------

# Defaults: k=1.2, b=0.75, avg_len=256, English stopwords + Snowball stemmer. The model
# is stateless (no corpus statistics); IDF is applied by the engine at query time.
_bm25 = qe.Bm25()
_bm25_lock = threading.Lock()  # cheap insurance: the binding's thread-safety is undocumented


def bm25_sparse(text: str) -> SparsePair:
    """Sparse BM25 document vector (term-frequency weights) as (indices, values)."""
    with _bm25_lock:
        vec = _bm25.embed_document(text)
    return _sorted_pair(vec.indices, vec.values)


def bm25_query_sparse(text: str) -> SparsePair:
    """Sparse BM25 query vector: weight 1.0 per unique token; IDF comes from the engine."""
    with _bm25_lock:
        vec = _bm25.embed_query(text)
    return _sorted_pair(vec.indices, vec.values)


def _sorted_pair(indices: Sequence[int], values: Sequence[float]) -> SparsePair:
    # Sorted by index so both backends (and tests) see one canonical form.
    pairs = sorted(zip(indices, values, strict=True))
    return [int(i) for i, _ in pairs], [float(v) for _, v in pairs]


# ---------------------------------------------------------------------------------
# Shared validation and conversion
# ---------------------------------------------------------------------------------


def require_tenant(tenant_id: object) -> str:
    if not isinstance(tenant_id, str) or not tenant_id.strip():
        raise ValueError("tenant_id is required (non-empty string)")
    return tenant_id


def _require_id(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")
    return value


def _positive(value: int, name: str = "top_k") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer")
    return value


def _doc_ids(document_ids: Sequence[str] | None) -> list[str] | None:
    if document_ids is None:
        return None
    if isinstance(document_ids, str):
        raise ValueError("document_ids must be a list of ids, not a string")
    return [_require_id(d, "document_id") for d in document_ids]


def _payload(chunk: Chunk) -> dict[str, Any]:
    return {
        "text": chunk.text,
        "tenant_id": chunk.tenant_id,
        "document_id": chunk.document_id,
        "chunk_index": chunk.index,
        "title": chunk.title,
        "page": chunk.page,
        "section": chunk.section,
        "token_count": chunk.token_count,
        **({"url": chunk.url} if chunk.url else {}),
        # A catalogue product's point also carries what a card shows (price, links, stock).
        **(
            {"kind": "product", "product": chunk.extra["product"]}
            if "product" in chunk.extra
            else {}
        ),
    }


def _hits(tenant_id: str, rows: Iterable[tuple[object, float, Any]]) -> list[SearchHit]:
    """Engine rows -> SearchHits, re-checking the tenant of every row.

    The engine filter already did this; the second check means a filter bug (ours or the
    engine's) shows up as a logged error and a missing hit, never as another tenant's text.
    """
    hits: list[SearchHit] = []
    for point_id, score, payload in rows:
        p = payload or {}
        if p.get("tenant_id") != tenant_id:
            log.error("dropped point %s: tenant filter returned a foreign point", point_id)
            continue
        hits.append(
            SearchHit(
                id=str(point_id),
                score=float(score),
                text=p.get("text", ""),
                document_id=p.get("document_id", ""),
                title=p.get("title") or "",
                page=p.get("page"),
                section=p.get("section"),
                chunk_index=int(p.get("chunk_index", 0)),
                token_count=int(p.get("token_count") or 0),
                url=p.get("url") or None,
            )
        )
    return hits


class VectorStore(ABC):
    """Tenant-scoped vector storage. Public methods validate; backends implement `_…`."""

    dim: int

    # ---- writes ---------------------------------------------------------------------

    def upsert(self, tenant_id: str, chunks: Sequence[Chunk]) -> int:
        """Insert or overwrite `chunks` (ids are deterministic). Returns how many were written.

        Refuses the whole batch if any chunk lacks a vector of the right size or belongs
        to another tenant: a mixed batch is a caller bug, never something to half-apply.
        """
        tenant_id = require_tenant(tenant_id)
        points: list[PointData] = []
        for chunk in chunks:
            if chunk.tenant_id != tenant_id:
                raise ValueError(
                    f"chunk {chunk.document_id}#{chunk.index} belongs to another tenant"
                )
            _require_id(chunk.document_id, "document_id")
            if chunk.vector is None or len(chunk.vector) != self.dim:
                raise ValueError(
                    f"chunk {chunk.document_id}#{chunk.index} needs a {self.dim}-dim vector"
                )
            points.append((chunk.id, list(chunk.vector), bm25_sparse(chunk.text), _payload(chunk)))
        if points:
            self._upsert(points)
        return len(points)

    def delete_document(self, tenant_id: str, document_id: str) -> None:
        self._delete(require_tenant(tenant_id), _require_id(document_id, "document_id"))

    def delete_tenant(self, tenant_id: str) -> None:
        self._delete(require_tenant(tenant_id), None)

    def delete_points(self, tenant_id: str, point_ids: Sequence[str]) -> None:
        """Delete these points if (and only if) they belong to `tenant_id`."""
        tenant_id = require_tenant(tenant_id)
        ids = [_require_id(p, "point id") for p in point_ids]
        if ids:
            self._delete_points(tenant_id, ids)

    # ---- reads ----------------------------------------------------------------------

    def search_dense(
        self,
        tenant_id: str,
        vector: Sequence[float],
        top_k: int = 8,
        *,
        document_ids: Sequence[str] | None = None,
        score_threshold: float | None = None,
    ) -> list[SearchHit]:
        """Nearest chunks by cosine similarity (score in [-1, 1], higher is closer)."""
        tenant_id = require_tenant(tenant_id)
        if len(vector) != self.dim:
            raise ValueError(f"query vector must have {self.dim} dimensions")
        return self._search_dense(
            tenant_id, list(vector), _positive(top_k), _doc_ids(document_ids), score_threshold
        )

    def search_bm25(
        self,
        tenant_id: str,
        query_text: str,
        top_k: int = 8,
        *,
        document_ids: Sequence[str] | None = None,
        score_threshold: float | None = None,
    ) -> list[SearchHit]:
        """Keyword search: BM25 with IDF over the tenant's own chunks (unbounded score)."""
        tenant_id = require_tenant(tenant_id)
        indices, values = bm25_query_sparse(query_text)
        if not indices:  # only stopwords/punctuation: nothing can match
            return []
        return self._search_bm25(
            tenant_id,
            (indices, values),
            _positive(top_k),
            _doc_ids(document_ids),
            score_threshold,
        )

    def search_hybrid(
        self,
        tenant_id: str,
        vector: Sequence[float],
        query_text: str,
        top_k: int = 8,
        *,
        document_ids: Sequence[str] | None = None,
        candidates: int | None = None,
    ) -> list[SearchHit]:
        """In-engine hybrid: dense and BM25 prefetches fused with RRF (k=60) in one call.

        Score is the engine's RRF score (rank-based, not comparable to cosine). Both
        prefetches and the outer query carry the tenant filter.
        """
        tenant_id = require_tenant(tenant_id)
        if len(vector) != self.dim:
            raise ValueError(f"query vector must have {self.dim} dimensions")
        top_k = _positive(top_k)
        pool = max(candidates or top_k * HYBRID_CANDIDATES_FACTOR, top_k)
        sparse = bm25_query_sparse(query_text)
        return self._search_hybrid(
            tenant_id, list(vector), sparse, top_k, pool, _doc_ids(document_ids)
        )

    def scroll(
        self,
        tenant_id: str,
        document_id: str | None = None,
        *,
        limit: int = 100,
        offset: str | None = None,
    ) -> tuple[list[SearchHit], str | None]:
        """A page of the tenant's chunks (score 0.0), ordered by point id, and the next offset.

        Pass the returned offset back to continue; None means the end.
        """
        tenant_id = require_tenant(tenant_id)
        if document_id is not None:
            _require_id(document_id, "document_id")
        return self._scroll(tenant_id, document_id, _positive(limit, "limit"), offset)

    def count(self, tenant_id: str, document_id: str | None = None) -> int:
        tenant_id = require_tenant(tenant_id)
        if document_id is not None:
            _require_id(document_id, "document_id")
        return self._count(tenant_id, document_id)

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- backend hooks (arguments already validated) ----------------------------------

    @abstractmethod
    def _upsert(self, points: list[PointData]) -> None: ...

    @abstractmethod
    def _delete(self, tenant_id: str, document_id: str | None) -> None: ...

    @abstractmethod
    def _delete_points(self, tenant_id: str, point_ids: list[str]) -> None: ...

    @abstractmethod
    def _search_dense(
        self,
        tenant_id: str,
        vector: list[float],
        top_k: int,
        document_ids: list[str] | None,
        score_threshold: float | None,
    ) -> list[SearchHit]: ...

    @abstractmethod
    def _search_bm25(
        self,
        tenant_id: str,
        sparse: SparsePair,
        top_k: int,
        document_ids: list[str] | None,
        score_threshold: float | None,
    ) -> list[SearchHit]: ...

    @abstractmethod
    def _search_hybrid(
        self,
        tenant_id: str,
        vector: list[float],
        sparse: SparsePair,
        top_k: int,
        pool: int,
        document_ids: list[str] | None,
    ) -> list[SearchHit]: ...

    @abstractmethod
    def _scroll(
        self, tenant_id: str, document_id: str | None, limit: int, offset: str | None
    ) -> tuple[list[SearchHit], str | None]: ...

    @abstractmethod
    def _count(self, tenant_id: str, document_id: str | None) -> int: ...


# ---------------------------------------------------------------------------------
# Qdrant Edge (embedded)
# ---------------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------------
# Qdrant server (qdrant-client)
# ---------------------------------------------------------------------------------


class ServerStore(VectorStore):
    """A collection on a Qdrant server (or qdrant-client local mode, for tests).

    Writes use `wait=True`, so data is applied (and in the server's WAL) on return.
    The HTTP client is thread-safe; qdrant-client's local mode is plain Python and is
    not, so for it every call is serialised with a lock.
    """

    def __init__(self, client: QdrantClient, collection: str, dim: int = DEFAULT_DIM) -> None:
        from qdrant_client import models

        self._m = models
        self.client = client
        self.collection = collection
        self.dim = dim
        self._is_local = type(getattr(client, "_client", None)).__name__ == "QdrantLocal"
        self._lock: threading.Lock | None = threading.Lock() if self._is_local else None
        self._ensure_collection()

    def _ensure_collection(self) -> None:
        m = self._m
        self.created = not self.client.collection_exists(self.collection)
        if not self.created:
            vectors = self.client.get_collection(self.collection).config.params.vectors
            params = vectors.get(DENSE) if isinstance(vectors, dict) else None
            if params is None or params.size != self.dim:
                raise ValueError(
                    f"collection {self.collection!r} has no {self.dim}-dim {DENSE!r} vector; "
                    "was it created with another embedding model?"
                )
        else:
            self.client.create_collection(
                self.collection,
                vectors_config={DENSE: m.VectorParams(size=self.dim, distance=m.Distance.COSINE)},
                sparse_vectors_config={SPARSE: m.SparseVectorParams(modifier=m.Modifier.IDF)},
                hnsw_config=m.HnswConfigDiff(
                    m=HNSW_M,
                    payload_m=HNSW_PAYLOAD_M,
                    ef_construct=HNSW_EF_CONSTRUCT,
                    full_scan_threshold=FULL_SCAN_THRESHOLD_KB,
                ),
            )
        with warnings.catch_warnings():
            # Local mode warns that payload indexes are no-ops there; the server needs them.
            warnings.simplefilter("ignore", UserWarning)
            self.client.create_payload_index(
                self.collection,
                "tenant_id",
                field_schema=m.KeywordIndexParams(type=m.KeywordIndexType.KEYWORD, is_tenant=True),
                wait=True,
            )
            self.client.create_payload_index(
                self.collection, "document_id", field_schema=m.PayloadSchemaType.KEYWORD, wait=True
            )

    def _call(self, fn: Callable[[], _T]) -> _T:
        if self._lock is None:
            return fn()
        with self._lock:
            return fn()

    def _filter(self, tenant_id: str, document_ids: Sequence[str] | None = None) -> Any:
        m = self._m
        must: list[Any] = [m.FieldCondition(key="tenant_id", match=m.MatchValue(value=tenant_id))]
        if document_ids is not None:
            must.append(
                m.FieldCondition(key="document_id", match=m.MatchAny(any=list(document_ids)))
            )
        return m.Filter(must=must)

    def _idf(self, tenant_id: str) -> Any:
        return self._m.SearchParams(idf=self._m.IdfCorpusParams(corpus=self._filter(tenant_id)))

    # ---- backend hooks --------------------------------------------------------------

    def _upsert(self, points: list[PointData]) -> None:
        m = self._m
        structs = [
            m.PointStruct(
                id=pid,
                payload=payload,
                vector={DENSE: dense, SPARSE: m.SparseVector(indices=sparse[0], values=sparse[1])},
            )
            for pid, dense, sparse, payload in points
        ]
        self._call(lambda: self.client.upsert(self.collection, points=structs, wait=True))

    def _delete(self, tenant_id: str, document_id: str | None) -> None:
        flt = self._filter(tenant_id, None if document_id is None else [document_id])
        self._call(
            lambda: self.client.delete(
                self.collection, points_selector=self._m.FilterSelector(filter=flt), wait=True
            )
        )

    def _delete_points(self, tenant_id: str, point_ids: list[str]) -> None:
        flt = self._filter(tenant_id)
        flt.must.append(self._m.HasIdCondition(has_id=point_ids))
        self._call(
            lambda: self.client.delete(
                self.collection, points_selector=self._m.FilterSelector(filter=flt), wait=True
            )
        )

    def _query(self, tenant_id: str, **kwargs: Any) -> list[SearchHit]:
        res = self._call(
            lambda: self.client.query_points(self.collection, with_payload=True, **kwargs)
        )
        return _hits(tenant_id, ((p.id, p.score, p.payload) for p in res.points))

    def _search_dense(
        self,
        tenant_id: str,
        vector: list[float],
        top_k: int,
        document_ids: list[str] | None,
        score_threshold: float | None,
    ) -> list[SearchHit]:
        return self._query(
            tenant_id,
            query=vector,
            using=DENSE,
            limit=top_k,
            query_filter=self._filter(tenant_id, document_ids),
            score_threshold=score_threshold,
        )

    def _search_bm25(
        self,
        tenant_id: str,
        sparse: SparsePair,
        top_k: int,
        document_ids: list[str] | None,
        score_threshold: float | None,
    ) -> list[SearchHit]:
        return self._query(
            tenant_id,
            query=self._m.SparseVector(indices=sparse[0], values=sparse[1]),
            using=SPARSE,
            limit=top_k,
            query_filter=self._filter(tenant_id, document_ids),
            score_threshold=score_threshold,
            search_params=self._idf(tenant_id),
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
        m = self._m
        flt = self._filter(tenant_id, document_ids)
        prefetch = [m.Prefetch(query=vector, using=DENSE, limit=pool, filter=flt)]
        if sparse[0]:
            prefetch.append(
                m.Prefetch(
                    query=m.SparseVector(indices=sparse[0], values=sparse[1]),
                    using=SPARSE,
                    limit=pool,
                    filter=flt,
                    params=self._idf(tenant_id),
                )
            )
        return self._query(
            tenant_id,
            prefetch=prefetch,
            query=m.RrfQuery(rrf=m.Rrf(k=RRF_K)),
            query_filter=flt,
            limit=top_k,
        )

    def _scroll(
        self, tenant_id: str, document_id: str | None, limit: int, offset: str | None
    ) -> tuple[list[SearchHit], str | None]:
        flt = self._filter(tenant_id, None if document_id is None else [document_id])
        records, next_offset = self._call(
            lambda: self.client.scroll(
                self.collection,
                scroll_filter=flt,
                limit=limit,
                offset=offset,
                with_payload=True,
                with_vectors=False,
            )
        )
        hits = _hits(tenant_id, ((r.id, 0.0, r.payload) for r in records))
        return hits, None if next_offset is None else str(next_offset)

    def _count(self, tenant_id: str, document_id: str | None) -> int:
        flt = self._filter(tenant_id, None if document_id is None else [document_id])
        return self._call(
            lambda: self.client.count(self.collection, count_filter=flt, exact=True)
        ).count

    def close(self) -> None:
        self._call(self.client.close)


# The vector space the store started with: its collection keeps the configured name, so an
# existing deployment needs no migration. Any other (model, size) gets its own collection.
LEGACY_SPACE = ("sentence-transformers/all-MiniLM-L6-v2", DEFAULT_DIM)
_SLUG = re.compile(r"[^a-z0-9]+")


def space_key(vector_space: str, dim: int) -> str:
    """One string per (embedding model, vector size): what a document was indexed with."""
    return f"{vector_space}:{dim}"


def collection_name(base: str, vector_space: str, dim: int) -> str:
    """The collection (server) or shard directory name (Edge) for one (model, size).

    Vectors of two models never share a collection, so switching EMBEDDING_PROVIDER can
    never mix them, and switching back finds the old collection again.
    """
    if (vector_space, dim) == LEGACY_SPACE:
        return base
    slug = _SLUG.sub("-", vector_space.lower()).strip("-")[:60] or "model"
    digest = hashlib.sha256(vector_space.encode()).hexdigest()[:8]  # slugs may collide
    return f"{base}__{slug}-{digest}-{dim}"


def open_store(
    settings: Settings, dim: int = DEFAULT_DIM, vector_space: str = LEGACY_SPACE[0]
) -> VectorStore:
    """The engine the settings ask for (a Qdrant server if QDRANT_URL is set, else an Edge
    shard), holding the collection of this (embedding model, vector size)."""
    if settings.qdrant_url:
        from qdrant_client import QdrantClient

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        client = QdrantClient(url=settings.qdrant_url, api_key=api_key)
        name = collection_name(settings.qdrant_collection, vector_space, dim)
        return ServerStore(client, name, dim)
    # The Edge shard is one collection by construction; its directory is the "collection".
    base = Path(settings.qdrant_path)
    return EdgeStore(base.with_name(collection_name(base.name, vector_space, dim)), dim)


# ---------------------------------------------------------------------------------
# LlamaIndex: a vector store bound to one tenant
# ---------------------------------------------------------------------------------


class TenantVectorStore(BasePydanticVectorStore):
    """One tenant's part of a collection, as a LlamaIndex vector store.

    The tenant is fixed when the object is made and cannot be changed or passed per call:
    every add, query and delete runs through the engine methods above with that tenant,
    which add the tenant filter inside the engine query (and re-check each returned
    point). What callers may narrow further is the document: `MetadataFilters` on
    `document_id` (EQ, IN) and `doc_ids`. A filter on `tenant_id` is accepted only when
    it names this tenant; naming another one matches nothing (it is never an error that
    would tell a probe anything, and it is never widened). Other metadata filters are
    refused with ValueError rather than silently ignored.

    `ref_doc_id` is the ChatConnect document id (the reader makes it every node's source).

    Why not LlamaIndex's `QdrantVectorStore` for the server path: its filters, deletes
    (`delete(ref_doc_id)` filters on `doc_id` alone) and queries take whatever scope the
    caller passes, so the tenant rule would have to be re-added in an override of every
    method; it also has no Qdrant Edge backend, stores nodes in its own payload layout and
    computes sparse vectors with fastembed instead of the Bm25 model both our backends share
    (per-tenant IDF). Wrapping our two engines keeps one tenant-filtered code path for both.
    Query modes: DEFAULT = dense cosine, SPARSE / TEXT_SEARCH = BM25 (IDF over this tenant's
    chunks only), HYBRID = the engine's in-query RRF. The app's retriever fuses dense and
    BM25 itself (weighted, `app.rag.retriever`).
    """

    stores_text: bool = True
    flat_metadata: bool = True
    _engine: VectorStore = PrivateAttr()
    _tenant: str = PrivateAttr()

    def __init__(self, engine: VectorStore, tenant_id: str) -> None:
        super().__init__()
        self._engine = engine
        self._tenant = require_tenant(tenant_id)

    @classmethod
    def class_name(cls) -> str:
        return "ChatConnectTenantVectorStore"

    @property
    def tenant_id(self) -> str:
        return self._tenant

    @property
    def client(self) -> VectorStore:
        """The engine (shared by every tenant's store; its methods all take a tenant)."""
        return self._engine

    @property
    def dim(self) -> int:
        return self._engine.dim

    # ---- writes ---------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert embedded chunk nodes; the whole batch is refused if any node is another
        tenant's, lacks an embedding of the right size, or has no document/chunk index."""
        chunks = [self._chunk(node) for node in nodes]
        self._engine.upsert(self._tenant, chunks)
        return [c.id for c in chunks]

    def _chunk(self, node: BaseNode) -> Chunk:
        meta = node.metadata
        owner = meta.get("tenant_id", self._tenant)
        if owner != self._tenant:
            raise ValueError(f"node {node.node_id} belongs to another tenant")
        document_id = meta.get("document_id") or node.ref_doc_id
        index = meta.get("chunk_index")
        if not document_id or not isinstance(index, int):
            raise ValueError(f"node {node.node_id} needs document_id and chunk_index metadata")
        chunk = Chunk(
            tenant_id=self._tenant,
            document_id=str(document_id),
            index=index,
            text=node.get_content(metadata_mode=MetadataMode.NONE),
            title=meta.get("title") or "",
            page=meta.get("page"),
            section=meta.get("section"),
            token_count=int(meta.get("token_count") or 0),
            url=meta.get("url") or None,
            vector=node.get_embedding() if node.embedding is not None else None,
        )
        if isinstance(meta.get("product"), dict):
            chunk.extra["product"] = dict(meta["product"])
        if node.node_id != chunk.id:
            # Point ids are uuid5(tenant, document, chunk): a retry overwrites, never duplicates.
            raise ValueError(f"node id {node.node_id} is not the point id of its chunk")
        return chunk

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete one of this tenant's documents (another tenant's id matches nothing)."""
        self._engine.delete_document(self._tenant, ref_doc_id)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete this tenant's nodes by id and/or document filter; never "everything"
        by omission (use `clear()` to drop the tenant's whole knowledge base)."""
        if node_ids is None and filters is None:
            raise ValueError("delete_nodes needs node_ids or filters; use clear() for all")
        scope = self._scope(filters, None)
        if scope is _NOTHING:
            return
        if node_ids is not None:
            if scope is not None:
                raise ValueError("delete_nodes: pass node_ids or document filters, not both")
            self._engine.delete_points(self._tenant, node_ids)
            return
        for document_id in scope or []:
            self._engine.delete_document(self._tenant, document_id)

    def clear(self) -> None:
        self._engine.delete_tenant(self._tenant)

    # ---- reads ----------------------------------------------------------------------

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """`score_threshold` (kwarg) keeps hits scoring at least that (cosine or BM25)."""
        scope = self._scope(query.filters, query.doc_ids)
        if scope is _NOTHING:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        top_k = query.similarity_top_k
        threshold = kwargs.get("score_threshold")
        mode = query.mode
        if mode == VectorStoreQueryMode.DEFAULT:
            if query.query_embedding is None:
                raise ValueError("a dense query needs query_embedding")
            hits = self._engine.search_dense(
                self._tenant,
                query.query_embedding,
                top_k,
                document_ids=scope,
                score_threshold=threshold,
            )
        elif mode in (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH):
            hits = self._engine.search_bm25(
                self._tenant,
                query.query_str or "",
                query.sparse_top_k or top_k,
                document_ids=scope,
                score_threshold=threshold,
            )
        elif mode == VectorStoreQueryMode.HYBRID:
            if query.query_embedding is None:
                raise ValueError("a hybrid query needs query_embedding")
            hits = self._engine.search_hybrid(
                self._tenant,
                query.query_embedding,
                query.query_str or "",
                query.hybrid_top_k or top_k,
                document_ids=scope,
            )
        else:
            raise ValueError(f"query mode {mode.value!r} is not supported")
        return VectorStoreQueryResult(
            nodes=[hit_node(self._tenant, h) for h in hits],
            similarities=[h.score for h in hits],
            ids=[h.id for h in hits],
        )

    def _scope(self, filters: MetadataFilters | None, doc_ids: list[str] | None) -> Any:
        """None (all the tenant's documents), a list of document ids, or _NOTHING."""
        documents: set[str] | None = None if doc_ids is None else set(doc_ids)
        for key, values in _conditions(filters):
            if key == "tenant_id":
                if self._tenant not in values:
                    return _NOTHING
            elif key in ("document_id", "ref_doc_id", "doc_id"):
                documents = set(values) if documents is None else documents & set(values)
            else:
                raise ValueError(f"unsupported filter key {key!r} (document_id, tenant_id)")
        if documents is None:
            return None
        return sorted(documents) if documents else _NOTHING


_NOTHING = object()


def _conditions(filters: MetadataFilters | None) -> list[tuple[str, list[str]]]:
    """AND-ed (key, allowed values) pairs; anything richer is refused, not guessed at."""
    if filters is None:
        return []
    if filters.condition not in (None, FilterCondition.AND) and len(filters.filters) > 1:
        raise ValueError("only AND-ed metadata filters are supported")
    out: list[tuple[str, list[str]]] = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            out.extend(_conditions(f))
            continue
        if f.operator == FilterOperator.EQ:
            values = [f.value]
        elif f.operator == FilterOperator.IN and isinstance(f.value, list):
            values = list(f.value)
        else:
            raise ValueError(f"unsupported filter operator {f.operator.value!r} (==, in)")
        out.append((f.key, [str(v) for v in values]))
    return out


def hit_node(tenant_id: str, hit: SearchHit) -> TextNode:
    """A stored chunk as the shared `TextNode` shape (see the engineers' contract)."""
    from app.rag.readers import HIDDEN_KEYS

    node = TextNode(
        id_=hit.id,
        text=hit.text,
        metadata={
            "tenant_id": tenant_id,
            "document_id": hit.document_id,
            "title": hit.title,
            "page": hit.page,
            "section": hit.section,
            "chunk_index": hit.chunk_index,
            "token_count": hit.token_count,
            **({"url": hit.url} if hit.url else {}),
        },
        excluded_embed_metadata_keys=list(HIDDEN_KEYS),
        excluded_llm_metadata_keys=list(HIDDEN_KEYS),
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=hit.document_id)
    return node
