"""The process-wide vector store (one Edge shard or one qdrant-client per process)."""

from __future__ import annotations

import threading
from typing import Any

from app.rag.store import VectorStore, open_store
from app.settings import get_settings

EMBEDDING_DIM = 384  # all-MiniLM-L6-v2

_store: VectorStore | None = None
_lock = threading.Lock()


def get_store() -> VectorStore:
    global _store
    if _store is None:
        with _lock:
            if _store is None:
                _store = open_store(get_settings(), dim=EMBEDDING_DIM)
    return _store


def close_store() -> None:
    global _store
    with _lock:
        if _store is not None:
            _store.close()
            _store = None


def store_health() -> dict[str, Any]:
    store = get_store()
    # A tenant-scoped count touches the engine without reading anyone's data.
    store.count("__health__")
    return {"backend": type(store).__name__}
