"""Part 2: tenant-filtered search latency on synthetic data.

Random unit 384-dim vectors and short texts drawn from SciFact's vocabulary (by word
frequency, so BM25 postings have a realistic skew), spread evenly over `tenants` tenants.
Every query picks a random tenant, a random unit vector and 3 random words. Backends:
- EdgeStore (Qdrant Edge shard), measured after loading and again after `optimize()`;
- ServerStore over `QdrantClient(":memory:")` (qdrant-client local mode: pure Python,
  brute force, so it gets fewer queries at 100k).
Each size is a fresh store; points are generated in batches and never all held at once.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.rag.store import EdgeStore, ServerStore, VectorStore
from app.rag.types import Chunk
from bench.common import CorpusDoc, Stopwatch, log, percentiles_ms

DIM = 384
TOP_K = 8
LOAD_BATCH = 500
CHUNKS_PER_DOC = 8
_WORD = re.compile(r"[a-z]{3,}")


@dataclass(frozen=True)
class Vocabulary:
    words: np.ndarray
    cdf: np.ndarray

    @classmethod
    def from_corpus(cls, docs: list[CorpusDoc], size: int = 5000) -> Vocabulary:
        counts = Counter(w for d in docs for w in _WORD.findall(d.full_text.lower()))
        common = counts.most_common(size)
        freq = np.array([c for _, c in common], dtype=np.float64)
        cdf = np.cumsum(freq) / freq.sum()
        return cls(np.array([w for w, _ in common]), cdf)

    def text(self, rng: np.random.Generator, n: int) -> str:
        picks = np.searchsorted(self.cdf, rng.random(n), side="right")
        return " ".join(self.words[np.minimum(picks, len(self.words) - 1)])


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def tenant_name(i: int) -> str:
    return f"tenant-{i:03d}"


def synthetic_batches(
    total: int, tenants: int, vocab: Vocabulary, seed: int
) -> Iterator[tuple[str, list[Chunk]]]:
    """(tenant, chunks) batches; chunk i belongs to tenant i % tenants."""
    per_tenant = total // tenants
    for t in range(tenants):
        rng = np.random.default_rng(seed * 100_003 + t)
        tenant = tenant_name(t)
        for start in range(0, per_tenant, LOAD_BATCH):
            n = min(LOAD_BATCH, per_tenant - start)
            vectors = unit_vectors(rng, n)
            chunks = [
                Chunk(
                    tenant_id=tenant,
                    document_id=f"doc-{(start + i) // CHUNKS_PER_DOC}",
                    index=(start + i) % CHUNKS_PER_DOC,
                    text=vocab.text(rng, int(rng.integers(12, 40))),
                    vector=vectors[i].tolist(),
                )
                for i in range(n)
            ]
            yield tenant, chunks


def load(store: VectorStore, total: int, tenants: int, vocab: Vocabulary, seed: int) -> float:
    with Stopwatch() as sw:
        for tenant, chunks in synthetic_batches(total, tenants, vocab, seed):
            store.upsert(tenant, chunks)
    return sw.seconds


@dataclass(frozen=True)
class QuerySet:
    tenants: list[str]
    vectors: np.ndarray
    texts: list[str]

    @classmethod
    def make(cls, n: int, tenants: int, vocab: Vocabulary, seed: int) -> QuerySet:
        rng = np.random.default_rng(seed)
        return cls(
            [tenant_name(int(t)) for t in rng.integers(0, tenants, size=n)],
            unit_vectors(rng, n),
            [vocab.text(rng, 3) for _ in range(n)],
        )


def _mode_fns(store: VectorStore) -> dict[str, Callable[[str, list[float], str], Any]]:
    return {
        "dense": lambda t, v, q: store.search_dense(t, v, TOP_K),
        "bm25": lambda t, v, q: store.search_bm25(t, q, TOP_K),
        "hybrid": lambda t, v, q: store.search_hybrid(t, v, q, TOP_K),
    }


def time_queries(store: VectorStore, queries: QuerySet, counts: dict[str, int]) -> dict[str, Any]:
    """Latency per mode over the first `counts[mode]` queries (after 3 warm-up calls)."""
    out: dict[str, Any] = {}
    for mode, fn in _mode_fns(store).items():
        n = min(counts.get(mode, 0), len(queries.texts))
        if n <= 0:
            continue
        for i in range(min(3, n)):
            fn(queries.tenants[i], queries.vectors[i].tolist(), queries.texts[i])
        times: list[float] = []
        empty = 0
        for i in range(n):
            vector = queries.vectors[i].tolist()
            t0 = time.perf_counter()
            hits = fn(queries.tenants[i], vector, queries.texts[i])
            times.append(time.perf_counter() - t0)
            empty += not hits
        out[mode] = percentiles_ms(times) | {"empty_results": empty}
    return out


def edge_size(
    size: int, tenants: int, vocab: Vocabulary, queries: QuerySet, n_queries: int, workdir: Path
) -> dict[str, Any]:
    counts = {"dense": n_queries, "bm25": n_queries, "hybrid": n_queries}
    with EdgeStore(Path(tempfile.mkdtemp(dir=workdir)) / "qdrant") as store:
        load_s = load(store, size, tenants, vocab, seed=size)
        before = time_queries(store, queries, counts)
        with Stopwatch() as sw:
            optimized = store.optimize()
        after = time_queries(store, queries, counts)
        points = store.count(tenant_name(0)) * tenants
    return {
        "points": points,
        "load_s": round(load_s, 2),
        "load_points_per_s": round(size / load_s, 1),
        "optimize_s": round(sw.seconds, 2),
        "optimize_returned": optimized,
        "before_optimize": before,
        "after_optimize": after,
    }


def local_size(
    size: int, tenants: int, vocab: Vocabulary, queries: QuerySet, counts: dict[str, int]
) -> dict[str, Any]:
    from qdrant_client import QdrantClient

    store = ServerStore(QdrantClient(":memory:"), "bench")
    try:
        load_s = load(store, size, tenants, vocab, seed=size)
        result = time_queries(store, queries, counts)
    finally:
        store.close()
    return {"points": size, "load_s": round(load_s, 2), "queries": counts, **result}


def measure_search_latency(
    docs: list[CorpusDoc],
    sizes: list[int],
    tenants: int,
    edge_queries: int,
    local_queries: dict[int, dict[str, int]],
    workdir: Path,
) -> dict[str, Any]:
    vocab = Vocabulary.from_corpus(docs)
    queries = QuerySet.make(max(edge_queries, 200), tenants, vocab, seed=7)
    edge: dict[str, Any] = {}
    local: dict[str, Any] = {}
    for size in sizes:
        edge[str(size)] = edge_size(size, tenants, vocab, queries, edge_queries, workdir)
        e = edge[str(size)]
        log(
            f"  edge {size}: load {e['load_s']}s, optimize {e['optimize_s']}s, dense p95 "
            f"{e['after_optimize']['dense']['p95_ms']} ms"
        )
    for size in sizes:
        counts = local_queries.get(size, {"dense": 30})
        local[str(size)] = local_size(size, tenants, vocab, queries, counts)
        log(f"  qdrant-client local {size}: dense p95 {local[str(size)]['dense']['p95_ms']} ms")
    return {
        "tenants": tenants,
        "top_k": TOP_K,
        "hybrid": "store.search_hybrid (in-engine RRF k=60, 4*top_k candidates per branch)",
        "queries": "random tenant, random unit vector, 3 words sampled by SciFact word frequency",
        "edge": edge,
        "qdrant_client_local": local,
    }
