"""A Qdrant server through qdrant-client (`QDRANT_URL`); tests use qdrant-client's local mode."""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

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
    from qdrant_client import QdrantClient


log = logging.getLogger("app.rag.store")  # one logger name for the whole store

_T = TypeVar("_T")


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
