"""Part 3: retrieval quality on SciFact-mini (nDCG@10, recall@10, recall@100).

The index is the one part 1 built (one tenant, title + " " + text per document, our chunks).
A document's score is its best chunk's score, so a ranked chunk list becomes a ranked
document list by first occurrence. Per query, dense and BM25 each return `POOL` chunks
(400 = the candidate pool `HybridRetriever(top_k=100)` fetches per branch); hybrid
applies the Retriever's own fusion functions (`rrf_fuse`, `weighted_fuse`) to those two
lists, keeping every fused chunk so recall@100 counts documents, not chunks. The fusion
setting is chosen on qrels/train.tsv by nDCG@10 and reported on qrels/test.tsv.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.rag.embedding import LocalEmbedder
from app.rag.retriever import HybridRetriever, rrf_fuse, weighted_fuse
from app.rag.store import TenantVectorStore, VectorStore
from app.rag.types import SearchHit
from bench.common import (
    SCIFACT_REFERENCE_BM25,
    evaluate,
    load_qrels,
    load_queries,
    log,
)

TENANT = "scifact"
POOL = 400
CHAT_TOP_K = 10  # the "what a chat turn would see" view: HybridRetriever(top_k=10)
RRF_KS = (5, 10, 20, 40, 60, 100)
ALPHAS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass
class Candidates:
    vector: list[float]
    dense: list[SearchHit]
    bm25: list[SearchHit]
    engine_hybrid: list[SearchHit]


def doc_ranking(hits: Sequence[SearchHit]) -> list[str]:
    """Documents in order of their best chunk (hits are already sorted best first)."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.document_id, None)
    return list(seen)


def fuse(c: Candidates, config: dict[str, Any], pool: int = POOL) -> list[SearchHit]:
    dense, bm25 = c.dense[:pool], c.bm25[:pool]
    if config["fusion"] == "rrf":
        fused = rrf_fuse([dense, bm25], k=config["k"])
    else:
        fused = weighted_fuse(dense, bm25, config["alpha"])
    return [hit for hit, _ in fused]


def configs() -> list[dict[str, Any]]:
    return [{"fusion": "rrf", "k": k} for k in RRF_KS] + [
        {"fusion": "weighted", "alpha": a} for a in ALPHAS
    ]


def label(config: dict[str, Any]) -> str:
    if config["fusion"] == "rrf":
        return f"rrf k={config['k']}"
    return f"weighted alpha={config['alpha']}"


def fetch(
    store: VectorStore, embedder: LocalEmbedder, queries: dict[str, str], qids: list[str]
) -> dict[str, Candidates]:
    vectors = embedder.embed_array([queries[q] for q in qids])
    out: dict[str, Candidates] = {}
    for qid, vector in zip(qids, vectors, strict=True):
        v = vector.tolist()
        text = queries[qid]
        out[qid] = Candidates(
            vector=v,
            dense=store.search_dense(TENANT, v, POOL),
            bm25=store.search_bm25(TENANT, text, POOL),
            engine_hybrid=store.search_hybrid(TENANT, v, text, POOL // 4),
        )
    return out


def _rankings(cands: dict[str, Candidates], how: Any) -> dict[str, list[str]]:
    return {qid: doc_ranking(how(c)) for qid, c in cands.items()}


class _KnownVectors:
    """A query embedder that returns the vectors `fetch` used (so rankings can be compared)."""

    def __init__(self, dim: int, vectors: dict[str, list[float]]) -> None:
        self.dim = dim
        self.vectors = vectors

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text]


def _check_retriever(
    store: VectorStore,
    queries: dict[str, str],
    cands: dict[str, Candidates],
    best: dict[str, Any],
    qids: list[str],
) -> dict[str, Any]:
    """The offline fusion must equal what HybridRetriever.retrieve (top_k=100) returns."""
    known = _KnownVectors(store.dim, {queries[q]: cands[q].vector for q in qids})
    retriever = HybridRetriever(
        TenantVectorStore(store, TENANT),
        known,
        top_k=POOL // 4,
        fusion=best["fusion"],
        alpha=best.get("alpha", 0.5),
        rrf_k=best.get("k", 60),
    )
    same = 0
    for qid in qids:
        live = retriever.retrieve(queries[qid])
        offline = fuse(cands[qid], best)[: POOL // 4]
        same += [h.node_id for h in live] == [h.id for h in offline]
    return {"queries_checked": len(qids), "identical_rankings": same}


def _judgeable(qrels: dict[str, dict[str, int]], indexed: set[str]) -> dict[str, dict[str, int]]:
    """Queries whose relevant documents are all indexed (all of them in a full run)."""
    return {q: rel for q, rel in qrels.items() if set(rel) <= indexed}


def measure_quality(
    store: VectorStore, embedder: LocalEmbedder, indexed: set[str]
) -> dict[str, Any]:
    queries = load_queries()
    train = _judgeable(load_qrels("train"), indexed)
    test = _judgeable(load_qrels("test"), indexed)
    qids = sorted(set(train) | set(test))
    cands = fetch(store, embedder, queries, qids)
    log(f"  fetched candidates for {len(qids)} queries")

    def score(how: Any, qrels: dict[str, dict[str, int]]) -> dict[str, float]:
        return evaluate(_rankings({q: cands[q] for q in qrels}, how), qrels)

    sweep: list[dict[str, Any]] = []
    for config in configs():
        sweep.append(
            {
                "config": label(config),
                **config,
                "train": score(lambda c, cfg=config: fuse(c, cfg), train),
                "test": score(lambda c, cfg=config: fuse(c, cfg), test),
            }
        )
    best = max(sweep, key=lambda row: row["train"]["ndcg10"])
    best_config = {k: best[k] for k in ("fusion", "k", "alpha") if k in best}
    default_rrf = next(r for r in sweep if r["fusion"] == "rrf" and r["k"] == 60)

    def chat_view(c: Candidates, how: str) -> list[SearchHit]:
        pool = max(CHAT_TOP_K * 4, 20)
        if how == "dense":
            return c.dense[:CHAT_TOP_K]
        if how == "bm25":
            return c.bm25[:CHAT_TOP_K]
        return fuse(c, best_config, pool)[:CHAT_TOP_K]

    return {
        "tenant": TENANT,
        "candidate_pool": POOL,
        "test": {
            "dense": score(lambda c: c.dense, test),
            "bm25": score(lambda c: c.bm25, test),
            "hybrid": best["test"],
            "hybrid_default_rrf60": default_rrf["test"],
            "engine_hybrid_rrf60": score(lambda c: c.engine_hybrid, test),
        },
        "train": {
            "dense": score(lambda c: c.dense, train),
            "bm25": score(lambda c: c.bm25, train),
            "hybrid": best["train"],
        },
        "hybrid_chosen_on_train": label(best_config),
        "hybrid_chosen_config": best_config,
        "sweep": sweep,
        "chat_view_top10_chunks_test": {
            how: score(lambda c, h=how: chat_view(c, h), test)
            for how in ("dense", "bm25", "hybrid")
        },
        "retriever_check": _check_retriever(store, queries, cands, best_config, sorted(test)[:20]),
        "documents_indexed": len(indexed),
        "reference_bm25_test_whole_documents": SCIFACT_REFERENCE_BM25,
        "notes": (
            "BM25 here is Qdrant Edge's Bm25 (k1 1.2, b 0.75, avg_len 256, English stopwords, "
            "Snowball stemmer) over our chunks with IDF over the tenant; the README's references "
            "score whole documents. chat_view: documents from the top 10 chunks only."
        ),
    }
