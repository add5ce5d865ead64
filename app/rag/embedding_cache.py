"""Embeddings cached by (model name, sha256(text)): re-ingesting unchanged content embeds
nothing, and duplicate texts in one batch embed once.

- `SQLiteEmbeddingCache`: a SQLite file under DATA_DIR shared by threads and processes.
- `MemoryEmbeddingCache`: in process (tests, one-off scripts).
- `CachedEmbedder`: wraps any embedder (ours or another LlamaIndex `BaseEmbedding`) with one
  of them; `app.rag.embedding.get_embedder` hands it out by default.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from app.rag.embedding import BaseEmbedder, _normalize

if TYPE_CHECKING:
    from app.settings import Settings

CACHE_FILE = "embedding_cache.sqlite"


def text_key(text: str) -> str:
    """Cache key of a text (combined with the model name)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache(Protocol):
    """Vectors by (model_name, text_key). Missing keys are simply absent from the result."""

    def get_many(self, model_name: str, keys: Sequence[str]) -> dict[str, np.ndarray]: ...

    def put_many(self, model_name: str, items: Mapping[str, np.ndarray]) -> None: ...


class MemoryEmbeddingCache:
    """In-process cache (tests, one-off scripts)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def get_many(self, model_name: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        with self._lock:
            return {k: v for k in keys if (v := self._data.get((model_name, k))) is not None}

    def put_many(self, model_name: str, items: Mapping[str, np.ndarray]) -> None:
        with self._lock:
            for k, v in items.items():
                self._data[(model_name, k)] = np.asarray(v, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._data)


class SQLiteEmbeddingCache:
    """A SQLite file shared by threads and processes (WAL, busy timeout).

    One connection per thread (sqlite3 connections must not cross threads) and per process
    (nor cross a fork). Vectors are little-endian float32 bytes.
    """

    _SCHEMA = (
        "CREATE TABLE IF NOT EXISTS embedding_cache ("
        " model TEXT NOT NULL, text_sha256 BLOB NOT NULL, dim INTEGER NOT NULL,"
        " vector BLOB NOT NULL, PRIMARY KEY (model, text_sha256)) WITHOUT ROWID"
    )
    _MAX_PARAMS = 500

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()

    @classmethod
    def for_settings(cls, settings: Settings) -> SQLiteEmbeddingCache:
        return cls(Path(settings.data_dir) / CACHE_FILE)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and getattr(self._local, "pid", None) == os.getpid():
            return conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: writes open their own BEGIN IMMEDIATE, so a writer waits on the
        # busy timeout instead of failing on a read-to-write lock upgrade.
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout_ms / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_ms)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute(self._SCHEMA)
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def get_many(self, model_name: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        conn = self._conn()
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), self._MAX_PARAMS):
            part = [bytes.fromhex(k) for k in unique[start : start + self._MAX_PARAMS]]
            marks = ",".join("?" * len(part))
            rows = conn.execute(
                "SELECT text_sha256, dim, vector FROM embedding_cache"  # noqa: S608 (only "?" marks)
                f" WHERE model = ? AND text_sha256 IN ({marks})",
                [model_name, *part],
            ).fetchall()
            for sha, dim, blob in rows:
                vector = np.frombuffer(blob, dtype="<f4")
                if vector.shape[0] == dim:
                    found[sha.hex()] = vector.astype(np.float32)
        return found

    def put_many(self, model_name: str, items: Mapping[str, np.ndarray]) -> None:
        if not items:
            return
        rows = []
        for key, vector in items.items():
            v = np.asarray(vector, dtype="<f4").reshape(-1)
            rows.append((model_name, bytes.fromhex(key), int(v.shape[0]), v.tobytes()))
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Same key means same text and model, so whichever writer came first is right.
            conn.executemany("INSERT OR IGNORE INTO embedding_cache VALUES (?, ?, ?, ?)", rows)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def count(self, model_name: str | None = None) -> int:
        sql, args = "SELECT COUNT(*) FROM embedding_cache", []
        if model_name is not None:
            sql, args = sql + " WHERE model = ?", [model_name]
        return int(self._conn().execute(sql, args).fetchone()[0])

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class CachedEmbedder(BaseEmbedder):
    """Embeds only texts the cache has not seen for this model; duplicates embed once.

    Queries bypass the cache unless `cache_queries`: they rarely repeat and every miss
    would be a write on the chat path.
    """

    cache_queries: bool = False
    _inner: BaseEmbedding = PrivateAttr()
    _cache: Any = PrivateAttr()
    _hits: int = PrivateAttr(default=0)
    _misses: int = PrivateAttr(default=0)

    def __init__(
        self, inner: BaseEmbedding, cache: EmbeddingCache, *, cache_queries: bool = False
    ) -> None:
        super().__init__(
            model_name=inner.model_name,
            embed_batch_size=inner.embed_batch_size,
            cache_queries=cache_queries,
        )
        self._inner = inner
        self._cache = cache

    @classmethod
    def class_name(cls) -> str:
        return "ChatConnectCachedEmbedding"

    @property
    def inner(self) -> BaseEmbedding:
        return self._inner

    @property
    def cache(self) -> EmbeddingCache:
        return self._cache

    @property
    def hits(self) -> int:
        return self._hits

    @property
    def misses(self) -> int:
        return self._misses

    @property
    def dim(self) -> int:
        return _dim_of(self._inner)

    @property
    def vector_space(self) -> str:
        inner = self._inner
        return inner.vector_space if isinstance(inner, BaseEmbedder) else inner.model_name

    def _inner_array(self, texts: list[str]) -> np.ndarray:
        if isinstance(self._inner, BaseEmbedder):
            return self._inner.embed_array(texts)
        # Any other LlamaIndex embedding model (normalized here like ours).
        return _normalize(np.asarray(self._inner.get_text_embedding_batch(texts)))

    def _plan(
        self, texts: Sequence[str]
    ) -> tuple[list[str], dict[str, np.ndarray], dict[str, str]]:
        """Keys in input order, cached vectors, and the texts to embed (one per key)."""
        keys = [text_key(t) for t in texts]
        found = self._cache.get_many(self.model_name, keys)
        missing: dict[str, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in found:
                missing.setdefault(key, text)
        self._misses += len(missing)
        self._hits += len(texts) - len(missing)
        return keys, found, missing

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys, found, missing = self._plan(texts)
        if missing:
            new = dict(zip(missing, self._inner_array(list(missing.values())), strict=True))
            self._cache.put_many(self.model_name, new)
            found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    async def aembed_array(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        keys, found, missing = await asyncio.to_thread(self._plan, texts)
        if missing:
            batch = list(missing.values())
            if isinstance(self._inner, BaseEmbedder):
                vectors = await self._inner.aembed_array(batch)
            else:
                vectors = await asyncio.to_thread(self._inner_array, batch)
            new = dict(zip(missing, vectors, strict=True))
            await asyncio.to_thread(self._cache.put_many, self.model_name, new)
            found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> list[float]:
        if self.cache_queries:
            return super().embed_query(text)
        if isinstance(self._inner, BaseEmbedder):
            return self._inner.embed_query(text)
        return self._inner.get_query_embedding(text)

    async def aembed_query(self, text: str) -> list[float]:
        if self.cache_queries:
            return await super().aembed_query(text)
        if isinstance(self._inner, BaseEmbedder):
            return await self._inner.aembed_query(text)
        return await self._inner.aget_query_embedding(text)


def _dim_of(model: BaseEmbedding) -> int:
    if isinstance(model, BaseEmbedder):
        return model.dim
    return len(model.get_text_embedding("dimension probe"))
