"""Embedders: local model, OpenAI protocol (local fake server), cache, LlamaIndex adapter."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from app.rag.chunking import MAX_SEQ_LENGTH, count_tokens
from app.rag.embedding import (
    BaseEmbedder,
    Embedder,
    LocalEmbedder,
    OpenAIEmbedder,
    get_embedder,
    native_bf16,
)
from app.rag.embedding_cache import (
    CachedEmbedder,
    MemoryEmbeddingCache,
    SQLiteEmbeddingCache,
    text_key,
)
from app.settings import Settings
from tests.support.fake_openai_embeddings import FakeEmbeddings
from tests.support.fake_openai_embeddings import fake_vector as _fake_vector

TEXTS = [
    "A cat is sleeping on the warm windowsill.",
    "Stock markets fell sharply after the interest rate announcement.",
    "Mitochondria are the powerhouse of the cell.",
]


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    embedder = LocalEmbedder()
    embedder.warmup()
    return embedder


class CountingEmbedder(BaseEmbedder):
    """A fake model: deterministic vectors, counts calls and texts."""

    size: int = 8
    calls: list[list[str]] = []

    def __init__(self, model_name: str = "fake", dim: int = 8) -> None:
        super().__init__(model_name=model_name, size=dim, calls=[])

    @property
    def dim(self) -> int:
        return self.size

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.stack([_fake_vector(self.model_name + t, self.size) for t in texts])


# ---- local model -----------------------------------------------------------------------


def test_local_embedder_vectors(local: LocalEmbedder) -> None:
    assert isinstance(local, Embedder)
    assert local.dim == 384 and local.model_name == "sentence-transformers/all-MiniLM-L6-v2"
    vectors = np.array(local.embed_texts(TEXTS))
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Batching and length-sorting keep the input order.
    for text, vector in zip(TEXTS, vectors, strict=True):
        assert float(np.dot(local.embed_query(text), vector)) > 0.999
    query = np.array(local.embed_query("where is the cat napping?"))
    assert int(np.argmax(vectors @ query)) == 0
    assert local.embed_texts([]) == []


def test_model_loaded_once_and_window_matches_chunker(local: LocalEmbedder) -> None:
    other = LocalEmbedder(batch_size=8, bf16=False, torch_threads=1)
    assert other.model is local.model
    model = local.model
    assert model.max_seq_length == MAX_SEQ_LENGTH
    # The chunker's count is exactly what the model is fed (until it would truncate).
    for text in ["short text", "Mitochondria (mtDNA) regulate apoptosis. " * 12, "word " * 400]:
        fed = model.tokenize([text])["input_ids"].shape[1]
        assert fed == min(count_tokens(text), MAX_SEQ_LENGTH)


def test_bf16_close_to_fp32_and_threads_restored(local: LocalEmbedder) -> None:
    import torch

    before = torch.get_num_threads()
    fp32 = LocalEmbedder(bf16=False, torch_threads=1)
    a = np.array(fp32.embed_texts(TEXTS))
    assert torch.get_num_threads() == before
    b = np.array(LocalEmbedder(bf16=True).embed_texts(TEXTS))
    assert np.min(np.sum(a * b, axis=1)) > 0.9999
    assert local.bf16 is native_bf16()  # default: on where the CPU has native bf16


async def test_local_async(local: LocalEmbedder) -> None:
    vectors = await local.aembed_texts(TEXTS[:2])
    query = await local.aembed_query(TEXTS[0])
    assert len(vectors) == 2 and float(np.dot(vectors[0], query)) > 0.999


# ---- OpenAI protocol against a local server ------------------------------------------------


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeEmbeddings]:
    with FakeEmbeddings(dim=1536) as server:
        yield server


@pytest.fixture(scope="module")
def openai_url(fake_openai: FakeEmbeddings) -> str:
    return fake_openai.url


def test_openai_embedder_batches_and_normalizes(
    openai_url: str, fake_openai: FakeEmbeddings
) -> None:
    fake_openai.requests.clear()
    embedder = OpenAIEmbedder(api_key="sk-test", base_url=openai_url, batch_size=2)
    assert embedder.dim == 1536 and embedder.model_name == "text-embedding-3-small"
    texts = [*TEXTS, "fourth", ""]
    vectors = np.array(embedder.embed_texts(texts))
    assert vectors.shape == (5, 1536)
    assert [len(r["input"]) for r in fake_openai.requests] == [2, 2, 1]
    assert {r["auth"] for r in fake_openai.requests} == {"Bearer sk-test"}
    assert {r["model"] for r in fake_openai.requests} == {"text-embedding-3-small"}
    np.testing.assert_allclose(vectors[0], _fake_vector(TEXTS[0], 1536), atol=1e-6)
    np.testing.assert_allclose(vectors[4], _fake_vector(" ", 1536), atol=1e-6)  # "" is refused
    assert embedder.embed_query("fourth") == pytest.approx(vectors[3].tolist(), abs=1e-6)


async def test_openai_async_and_dimensions(openai_url: str, fake_openai: FakeEmbeddings) -> None:
    embedder = OpenAIEmbedder(api_key="sk-test", base_url=openai_url, dimensions=64)
    assert embedder.model_name == "text-embedding-3-small@64"
    vectors = await embedder.aembed_texts(TEXTS)
    assert np.array(vectors).shape == (3, 64)
    assert fake_openai.requests[-1]["dimensions"] == 64
    unknown = OpenAIEmbedder("nomic-embed-text", base_url=openai_url)
    assert unknown.dim == 1536  # probed once from the server


def test_get_embedder_selects_and_caches(
    openai_url: str, fake_openai: FakeEmbeddings, tmp_path: Path
) -> None:
    settings = Settings(
        embedding_provider="openai",
        openai_api_key="sk-test",
        openai_base_url=openai_url,
        data_dir=tmp_path,
    )
    embedder = get_embedder(settings)
    assert get_embedder(settings) is embedder
    assert isinstance(embedder, CachedEmbedder) and isinstance(embedder.inner, OpenAIEmbedder)
    fake_openai.requests.clear()
    first = embedder.embed_texts(TEXTS)
    assert embedder.embed_texts(TEXTS) == first
    assert len(fake_openai.requests) == 1
    assert (tmp_path / "embedding_cache.sqlite").exists()
    local = Settings(embedding_provider="local", data_dir=tmp_path)
    assert isinstance(get_embedder(local, cached=False), LocalEmbedder)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        get_embedder(Settings(embedding_provider="openai", data_dir=tmp_path / "x"))


# ---- cache -------------------------------------------------------------------------------


def test_cache_second_embed_calls_model_zero_times(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, SQLiteEmbeddingCache(tmp_path / "c.sqlite"))
    texts = [*TEXTS, TEXTS[0]]  # a duplicate embeds once
    first = cached.embed_texts(texts)
    assert inner.calls == [TEXTS]
    second = cached.embed_texts(texts)
    assert len(inner.calls) == 1 and second == first  # float32 round trip is exact
    assert (cached.hits, cached.misses) == (5, 3)  # the in-batch duplicate counts as a hit
    # Another process (a fresh connection) sees the same entries.
    again = CachedEmbedder(inner, SQLiteEmbeddingCache(tmp_path / "c.sqlite"))
    assert again.embed_texts(TEXTS[1:]) == first[1:3] and len(inner.calls) == 1
    # Only new text is embedded.
    cached.embed_texts([TEXTS[2], "brand new"])
    assert inner.calls[-1] == ["brand new"]


def test_cache_is_per_model(tmp_path: Path) -> None:
    cache = SQLiteEmbeddingCache(tmp_path / "c.sqlite")
    a, b = CountingEmbedder("model-a"), CountingEmbedder("model-b")
    va = CachedEmbedder(a, cache).embed_texts(TEXTS)
    vb = CachedEmbedder(b, cache).embed_texts(TEXTS)
    assert len(a.calls) == len(b.calls) == 1 and va != vb
    assert cache.count("model-a") == cache.count("model-b") == 3
    got = cache.get_many("model-a", [text_key(t) for t in TEXTS])
    np.testing.assert_array_equal(got[text_key(TEXTS[0])], np.array(va[0], dtype=np.float32))


def test_queries_bypass_cache_unless_asked() -> None:
    inner, memory = CountingEmbedder(), MemoryEmbeddingCache()
    CachedEmbedder(inner, memory).embed_query("q")
    assert len(memory) == 0
    CachedEmbedder(inner, memory, cache_queries=True).embed_query("q")
    assert len(memory) == 1


async def test_cache_async_path(tmp_path: Path) -> None:
    inner = CountingEmbedder()
    cached = CachedEmbedder(inner, SQLiteEmbeddingCache(tmp_path / "c.sqlite"))
    first = await cached.aembed_texts(TEXTS)
    assert await cached.aembed_texts(TEXTS) == first and len(inner.calls) == 1


def _writer(path: str, worker: int) -> None:
    cache = SQLiteEmbeddingCache(path)
    for i in range(20):  # many small transactions to collide with the other writers
        keys = {text_key(f"{worker}-{i}-{j}"): np.full(4, worker, np.float32) for j in range(10)}
        cache.put_many("m", keys)
        cache.put_many("m", {text_key("shared"): np.ones(4, np.float32)})
        assert len(cache.get_many("m", list(keys))) == 10


def test_sqlite_cache_threads_and_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    threads = [threading.Thread(target=_writer, args=(path, w)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(path, w)) for w in range(4, 7)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    cache = SQLiteEmbeddingCache(path)
    assert cache.count("m") == 7 * 200 + 1
    assert cache._conn().execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cached_local_embedder_matches_uncached(local: LocalEmbedder) -> None:
    cached = CachedEmbedder(local, MemoryEmbeddingCache())
    np.testing.assert_allclose(cached.embed_texts(TEXTS), local.embed_texts(TEXTS), atol=1e-6)


# ---- LlamaIndex ----------------------------------------------------------------------------


def test_llamaindex_pipeline_embeds_text_without_globals(local: LocalEmbedder) -> None:
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.schema import TextNode

    assert isinstance(local, BaseEmbedding)
    long_title = "A very long document title that would eat the token budget " * 5
    nodes = [TextNode(text=t, metadata={"title": long_title}) for t in TEXTS]
    seen: list[tuple[int, int]] = []
    out = IngestionPipeline(transformations=[local], disable_cache=True).run(
        nodes=nodes, on_progress=lambda batch, done, total: seen.append((done, total))
    )
    got = np.array([n.embedding for n in out])
    # Metadata is not embedded: the vectors are those of the chunk text alone.
    np.testing.assert_allclose(got, local.embed_texts(TEXTS), atol=1e-5)
    assert seen == [(3, 3)]
    assert local.get_query_embedding("cat") == pytest.approx(local.embed_query("cat"), abs=1e-5)
    assert LlamaSettings._embed_model is None


async def test_llamaindex_interface_async() -> None:
    model = CountingEmbedder()
    vectors = await model.aget_text_embedding_batch(TEXTS)
    query = await model.aget_query_embedding("q")
    assert len(vectors) == 3 and len(query) == 8


def test_openai_embedder_is_llamaindex_openai_embedding(openai_url: str) -> None:
    from llama_index.embeddings.openai import OpenAIEmbedding

    embedder = OpenAIEmbedder("nomic-embed-text", base_url=openai_url, batch_size=2)
    assert isinstance(embedder, OpenAIEmbedding)
    # LlamaIndex's own entry points go through our request path (order, normalization).
    batch = embedder.get_text_embedding_batch(["a\nb", "c", "d"])
    np.testing.assert_allclose(batch[0], _fake_vector("a\nb", 1536), atol=1e-6)
    np.testing.assert_allclose(batch[2], _fake_vector("d", 1536), atol=1e-6)
