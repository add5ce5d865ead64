"""The vector-store interface both Qdrant backends implement, and what they share.

Tenant rules live here: every public method takes a `tenant_id`, refuses an empty one and
builds the tenant filter itself; the backends only implement the underscored primitives.
BM25 sparse vectors are computed once, here, so both backends store identical vectors.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import qdrant_edge as qe

from app.rag.types import Chunk, SearchHit

if TYPE_CHECKING:
    pass


log = logging.getLogger("app.rag.store")  # one logger name for the whole store


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
