"""The process-wide vector engine and the tenant-bound stores and retrievers built on it.

One engine (an Edge shard or a qdrant-client) per process, holding the collection of the
current embedding model: the vector size follows the model, and each (model, size) has its
own collection (`app.rag.store.collection_name`), so switching EMBEDDING_PROVIDER never
mixes vectors. Documents indexed under another model are re-queued by
`app.services.ingestion.requeue_other_models` at start-up.
"""

from __future__ import annotations

import threading
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever

from app.rag.embedding import BaseEmbedder, get_embedder
from app.rag.retriever import HybridRetriever, build_postprocessors
from app.rag.store import TenantVectorStore, VectorStore, open_store, space_key
from app.settings import Settings, get_settings

EMBEDDING_DIM = 384  # all-MiniLM-L6-v2, the default model
# One intra-op thread for queries: a one-sentence input gains nothing from more, and on a
# busy 2-core machine two OpenMP threads spin-waiting made a query embed 15x slower
# (550 ms vs 37 ms measured here while ingestion ran).
QUERY_TORCH_THREADS = 1

_store: VectorStore | None = None
_query_embedder: Any = None
_lock = threading.Lock()


def current_space(settings: Settings | None = None) -> tuple[str, int]:
    """(vector space name, size) of the configured embedding model."""
    embedder = get_embedder(settings or get_settings())
    return embedder.vector_space, embedder.dim


def current_space_key(settings: Settings | None = None) -> str:
    return space_key(*current_space(settings))


def get_store() -> VectorStore:
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                settings = get_settings()
                name, dim = current_space(settings)
                _store = open_store(settings, dim=dim, vector_space=name)
    return _store


def store_for(tenant_id: str) -> TenantVectorStore:
    """A LlamaIndex vector store bound to `tenant_id` (cheap: the engine is shared)."""
    return TenantVectorStore(get_store(), tenant_id)


def query_embedder() -> Any:
    """The query-side embedder: the configured model, one thread, traced (one GIL release
    per forward pass: app/rag/embedding_trace.py), an hour's query cache;
    concurrent queries share forward passes (app/services/query_batcher.py)."""
    global _query_embedder
    if _query_embedder is None:
        from app.services.cache import CachedQueryEmbedder
        from app.services.query_batcher import BatchingQueryEmbedder

        with _lock:
            if _query_embedder is None:
                model: BaseEmbedder = get_embedder(
                    get_settings(), torch_threads=QUERY_TORCH_THREADS, traced=True
                )
                _query_embedder = CachedQueryEmbedder(BatchingQueryEmbedder(model))
    return _query_embedder


def retriever_for(tenant_id: str, *, top_k: int = 6) -> BaseRetriever:
    """The hybrid retriever of one tenant, with the configured postprocessors."""
    return HybridRetriever(
        store_for(tenant_id),
        query_embedder(),
        top_k=top_k,
        node_postprocessors=build_postprocessors(get_settings().retrieval_postprocessors),
    )


def close_store() -> None:
    global _store, _query_embedder
    with _lock:
        if _store is not None:
            _store.close()
            _store = None
        _query_embedder = None


def store_health() -> dict[str, Any]:
    store = get_store()
    # A tenant-scoped count touches the engine without reading anyone's data.
    store.count("__health__")
    return {"backend": type(store).__name__}
