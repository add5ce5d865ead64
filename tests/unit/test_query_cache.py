"""The query-embedding cache (app/services/cache.py): one model call per text, one shared
cache read per turn, copies out."""

from __future__ import annotations

from typing import Any

from app.services.cache import CachedQueryEmbedder, MemoryTTLCache


class CountingModel:
    dim = 3
    model_name = "fake"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def embed_query(self, text: str) -> list[float]:
        self.calls.append(text)
        return [float(len(text)), 1.0, 0.0]

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]


class CountingCache(MemoryTTLCache):
    """Stands for the shared cache (Redis when scaled out)."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0
        self.sets = 0

    def get(self, key: str) -> Any | None:
        self.gets += 1
        return super().get(key)

    def set(self, key: str, value: Any, ttl_s: int) -> None:
        self.sets += 1
        super().set(key, value, ttl_s)


def test_a_turns_repeats_stay_in_process() -> None:
    model, shared = CountingModel(), CountingCache()
    embedder = CachedQueryEmbedder(model, shared)
    first = embedder.embed_query("how do I descale?")
    for _ in range(2):  # the retriever and the Q&A matcher ask again
        assert embedder.embed_query("how do I descale?") == first
    assert model.calls == ["how do I descale?"]
    assert (shared.gets, shared.sets) == (1, 1)


def test_another_process_reads_the_shared_cache_once() -> None:
    model, shared = CountingModel(), CountingCache()
    CachedQueryEmbedder(model, shared).embed_query("shipping times?")
    other = CachedQueryEmbedder(CountingModel(), shared)  # a second app process
    for _ in range(3):
        assert other.embed_query("shipping times?") == [15.0, 1.0, 0.0]
    assert other.inner.calls == [] and shared.gets == 2  # one miss above, one read here


def test_callers_get_copies() -> None:
    embedder = CachedQueryEmbedder(CountingModel(), CountingCache())
    embedder.embed_query("returns?").append(99.0)
    assert embedder.embed_query("returns?") == [8.0, 1.0, 0.0]
