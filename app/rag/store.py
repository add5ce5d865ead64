"""The vector store: the only code that talks to Qdrant (this package of modules).

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

Modules: `store_base` (interface, tenant rules, BM25), `store_edge`, `store_server`,
`store_llama` (LlamaIndex's vector-store interface bound to one tenant) and this one, which
picks the engine and collection from the settings and is what callers import from.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

# The store is split by backend; this module is the one place callers import from.
from app.rag.store_base import (
    DEFAULT_DIM,
    DENSE,
    HNSW_EF_CONSTRUCT,
    HNSW_M,
    HNSW_PAYLOAD_M,
    SPARSE,
    VectorStore,
    bm25_query_sparse,
    bm25_sparse,
    require_tenant,
)
from app.rag.store_edge import EdgeStore, ShardInUseError
from app.rag.store_llama import TenantVectorStore, hit_node
from app.rag.store_server import ServerStore

if TYPE_CHECKING:
    from app.settings import Settings


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


__all__ = [
    "DEFAULT_DIM",
    "DENSE",
    "HNSW_EF_CONSTRUCT",
    "HNSW_M",
    "HNSW_PAYLOAD_M",
    "LEGACY_SPACE",
    "SPARSE",
    "EdgeStore",
    "ServerStore",
    "ShardInUseError",
    "TenantVectorStore",
    "VectorStore",
    "bm25_query_sparse",
    "bm25_sparse",
    "collection_name",
    "hit_node",
    "open_store",
    "require_tenant",
    "space_key",
]
