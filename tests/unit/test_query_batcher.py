"""Concurrent chat queries share the model's forward passes (app/services/query_batcher.py)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.services.query_batcher import BatchingQueryEmbedder


class SlowModel:
    """A stand-in embedder whose every call costs 50 ms, whatever the batch size."""

    dim = 3
    model_name = "slow"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.lock = threading.Lock()

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        with self.lock:
            self.calls.append(list(texts))
        time.sleep(0.05)
        return [[float(len(t)), float(sum(map(ord, t))), 1.0] for t in texts]


def test_a_lone_query_is_embedded_at_once_and_right() -> None:
    model = SlowModel()
    batcher = BatchingQueryEmbedder(model)
    assert batcher.embed_query("hello") == [5.0, float(sum(map(ord, "hello"))), 1.0]
    assert model.calls == [["hello"]]
    assert batcher.dim == 3 and batcher.model_name == "slow"


def test_concurrent_queries_share_calls_and_each_gets_its_own_vector() -> None:
    model = SlowModel()
    batcher = BatchingQueryEmbedder(model)
    texts = [f"question {i}" for i in range(24)]
    with ThreadPoolExecutor(len(texts)) as pool:
        started = time.perf_counter()
        vectors = list(pool.map(batcher.embed_query, texts))
        elapsed = time.perf_counter() - started
    for text, vector in zip(texts, vectors, strict=True):
        assert vector[:2] == [float(len(text)), float(sum(map(ord, text)))]
    assert len(model.calls) < len(texts) / 3  # one call each would be 25 calls
    assert max(len(c) for c in model.calls) <= batcher.max_batch
    assert elapsed < 24 * 0.05 / 3


def test_the_same_text_waiting_twice_is_embedded_once() -> None:
    model = SlowModel()
    batcher = BatchingQueryEmbedder(model)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(batcher.embed_query, "first")  # keeps the worker busy 50 ms
        time.sleep(0.01)
        same = [pool.submit(batcher.embed_query, "same") for _ in range(2)]
        assert first.result()[0] == 5.0
        one, two = (f.result() for f in same)
        assert one == two == [4.0, float(sum(map(ord, "same"))), 1.0]
    assert model.calls == [["first"], ["same"]]


def test_a_failing_model_fails_the_callers_and_the_worker_carries_on() -> None:
    class Flaky(SlowModel):
        def embed_texts(self, texts: list[str]) -> list[list[float]]:
            if any("boom" in t for t in texts):
                raise RuntimeError("model down")
            return super().embed_texts(texts)

    batcher = BatchingQueryEmbedder(Flaky())
    with pytest.raises(RuntimeError, match="model down"):
        batcher.embed_query("boom")
    assert batcher.embed_query("fine")[0] == 4.0
