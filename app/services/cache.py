"""Short-lived caches: answers (5 minutes) and query embeddings (1 hour).

In process by default, Redis when REDIS_URL is set (shared by every app process). A Redis
failure is a cache miss, never an error: the answer is simply computed again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from typing import Any, Protocol

from app.settings import get_settings

log = logging.getLogger("chatconnect.cache")

ANSWER_TTL_S = 300
QUERY_EMBEDDING_TTL_S = 3600


class TTLCache(Protocol):
    def get(self, key: str) -> Any | None: ...
    def set(self, key: str, value: Any, ttl_s: int) -> None: ...


class MemoryTTLCache:
    def __init__(self, max_items: int = 20_000) -> None:
        self.max_items = max_items
        self._data: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < time.monotonic():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: Any, ttl_s: int) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl_s, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_items:
                self._data.popitem(last=False)


class RedisTTLCache:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)

    def get(self, key: str) -> Any | None:
        try:
            raw = self._redis.get(f"cc:cache:{key}")
        except Exception as exc:  # a cache outage is a miss
            log.warning("cache read failed: %s", type(exc).__name__)
            return None
        return json.loads(raw) if raw else None

    def set(self, key: str, value: Any, ttl_s: int) -> None:
        try:
            self._redis.setex(f"cc:cache:{key}", ttl_s, json.dumps(value))
        except Exception as exc:
            log.warning("cache write failed: %s", type(exc).__name__)


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def normalize_question(question: str) -> str:
    return " ".join(question.lower().split()).rstrip("?!. ")


_cache: TTLCache | None = None
_lock = threading.Lock()


def get_cache() -> TTLCache:
    global _cache
    if _cache is None:
        with _lock:
            if _cache is None:
                url = get_settings().redis_url
                _cache = RedisTTLCache(url) if url else MemoryTTLCache()
    return _cache


def reset_cache() -> None:
    global _cache
    _cache = None


class CachedQueryEmbedder:
    """Wraps an embedder so repeated chat queries skip the model for an hour.

    A turn embeds its question up to three times (the human-request check, retrieval, the
    Q&A matcher): a small in-process cache answers the repeats, so the shared cache (Redis
    when scaled out: a round trip and 384 floats of JSON each) is read once per turn."""

    LOCAL_ITEMS = 512
    LOCAL_TTL_S = 600

    def __init__(self, inner: Any, cache: TTLCache | None = None) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.model_name = getattr(inner, "model_name", "model")
        self._cache = cache
        self._local = MemoryTTLCache(max_items=self.LOCAL_ITEMS)

    @property
    def cache(self) -> TTLCache:
        return self._cache or get_cache()

    def embed_query(self, text: str) -> list[float]:
        key = "qemb:" + digest(self.model_name, text)
        found = self._local.get(key)
        if found is None:
            found = self.cache.get(key)
            if found is not None:
                self._local.set(key, found, self.LOCAL_TTL_S)
        if found is not None:
            return list(found)
        vector = [round(float(x), 7) for x in self.inner.embed_query(text)]
        self.cache.set(key, vector, QUERY_EMBEDDING_TTL_S)
        self._local.set(key, vector, self.LOCAL_TTL_S)
        return list(vector)

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_texts(texts)
