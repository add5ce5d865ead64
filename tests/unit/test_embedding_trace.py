"""The traced forward pass for chat queries (app/rag/embedding_trace.py)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.rag import embedding_trace
from app.rag.embedding import LocalEmbedder, get_embedder
from app.settings import Settings

SENTENCE = (
    "mitochondria regulate apoptosis through cytochrome release while vitamin d status "
    "modulates bone density in older adults and randomized trials disagree on dosing"
)
WORDS = SENTENCE.split()


def _texts(n: int, seed: int) -> list[str]:
    """Texts from one word to past the model's 256 word-pieces (truncated alike)."""
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 320)))) for _ in range(n)]


@pytest.fixture(scope="module")
def pair() -> tuple[LocalEmbedder, LocalEmbedder]:
    return LocalEmbedder(bf16=False, torch_threads=1), LocalEmbedder(
        bf16=False, torch_threads=1, traced=True
    )


@pytest.mark.parametrize("batch", [1, 2, 7, 33])  # 33: past one 32-text forward batch
def test_traced_vectors_match_eager(pair: tuple[LocalEmbedder, LocalEmbedder], batch: int) -> None:
    eager, traced = pair
    texts = _texts(batch, seed=batch)
    a, b = eager.embed_array(texts), traced.embed_array(texts)
    assert b.shape == (batch, 384)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    # Same order, same vectors (cosine per row, so a swapped row would fail).
    assert float(np.min(np.sum(a * b, axis=1))) > 0.99999


def test_traced_query_ranks_like_eager(pair: tuple[LocalEmbedder, LocalEmbedder]) -> None:
    eager, traced = pair
    docs = eager.embed_array(
        ["The cat sleeps on the windowsill.", "Interest rates rose again.", "Cells make ATP."]
    )
    for question in ("where is the cat napping?", "what do mitochondria produce?"):
        q_eager = np.array(eager.embed_query(question))
        q_traced = np.array(traced.embed_query(question))
        assert int(np.argmax(docs @ q_eager)) == int(np.argmax(docs @ q_traced))


def test_the_packaged_model_is_traced_once(pair: tuple[LocalEmbedder, LocalEmbedder]) -> None:
    _, traced = pair
    first = embedding_trace.traced_encoder(traced.model_path, "cpu")
    assert first is not None
    assert embedding_trace.traced_encoder(traced.model_path, "cpu") is first


def test_query_side_embedder_is_traced(tmp_path: Any) -> None:
    settings = Settings(data_dir=tmp_path)
    query_side = get_embedder(settings, cached=False, torch_threads=1, traced=True)
    assert query_side.traced is True
    # Ingestion keeps the eager (bf16 where native) path: a different instance.
    assert get_embedder(settings, cached=False, torch_threads=1) is not query_side


def test_a_failed_trace_falls_back_to_eager(
    pair: tuple[LocalEmbedder, LocalEmbedder], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    eager, _ = pair

    def broken(model: Any) -> Any:
        raise RuntimeError("no TorchScript here")

    embedding_trace._traced.cache_clear()
    monkeypatch.setattr(embedding_trace, "_trace", broken)
    try:
        fallback = LocalEmbedder(bf16=False, torch_threads=1, traced=True)
        texts = _texts(3, seed=9)
        np.testing.assert_allclose(fallback.embed_array(texts), eager.embed_array(texts), atol=1e-6)
        assert "tracing the embedding model failed" in caplog.text
    finally:
        embedding_trace._traced.cache_clear()


class _Module:
    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self._config = config or {}

    def get_config_dict(self) -> dict[str, Any]:
        return self._config


def _stack(*modules: tuple[str, dict[str, Any] | None]) -> list[Any]:
    return [type(name, (_Module,), {})(config) for name, config in modules]


def test_only_the_plain_mean_pooled_stack_is_traced() -> None:
    plain = _stack(("Transformer", None), ("Pooling", {"pooling_mode": "mean"}))
    assert embedding_trace._plain_stack(plain)  # type: ignore[arg-type]
    normalized = [*plain, *_stack(("Normalize", None))]
    assert embedding_trace._plain_stack(normalized)  # type: ignore[arg-type]
    cls_pooled = _stack(("Transformer", None), ("Pooling", {"pooling_mode": "cls"}))
    assert not embedding_trace._plain_stack(cls_pooled)  # type: ignore[arg-type]
    dense = [*plain, *_stack(("Dense", None))]
    assert not embedding_trace._plain_stack(dense)  # type: ignore[arg-type]
    old_flags = _stack(
        ("Transformer", None),
        ("Pooling", {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}),
    )
    assert embedding_trace._plain_stack(old_flags)  # type: ignore[arg-type]
    old_two = _stack(
        ("Transformer", None),
        ("Pooling", {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}),
    )
    assert not embedding_trace._plain_stack(old_two)  # type: ignore[arg-type]
