"""`app.rag.retriever`: fusion math, threshold semantics, postprocessors, and the
HybridRetriever (a LlamaIndex BaseRetriever) on both backends."""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.schema import NodeWithScore, TextNode
from llama_index.core.vector_stores.types import ExactMatchFilter, MetadataFilters
from qdrant_client import QdrantClient

from app.rag.retriever import (
    HybridRetriever,
    build_postprocessors,
    retriever_factory,
    rrf_fuse,
    weighted_fuse,
)
from app.rag.store import EdgeStore, ServerStore, TenantVectorStore, VectorStore
from app.rag.types import Chunk, SearchHit

DIM = 384
CANARY = "zebra-canary-7731 quartz ledger of the violet heron"


class FakeEmbedder:
    """Hashing bag-of-words, L2-normalized: deterministic and model-free."""

    dim = DIM

    def __init__(self) -> None:
        self.calls = 0

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        vec = [0.0] * DIM
        for token in text.lower().split():
            vec[zlib.crc32(token.encode()) % DIM] += 1.0
        norm = math.sqrt(sum(x * x for x in vec)) or 1.0
        return [x / norm for x in vec]


EMB = FakeEmbedder()


def hit(pid: str, score: float) -> SearchHit:
    return SearchHit(
        id=pid,
        score=score,
        text=pid,
        document_id="d",
        title="",
        page=None,
        section=None,
        chunk_index=0,
    )


def nws(pid: str, score: float) -> NodeWithScore:
    return NodeWithScore(node=TextNode(id_=pid, text=pid), score=score)


class ListStore:
    """An engine returning fixed candidate lists, to pin fusion and thresholds exactly."""

    dim = DIM

    def __init__(self, dense: list[SearchHit], bm25: list[SearchHit]) -> None:
        self.dense, self.bm25 = dense, bm25

    def search_dense(
        self, tenant_id: str, vector: Sequence[float], top_k: int, **kw: Any
    ) -> list[SearchHit]:
        gate = kw.get("score_threshold")
        return [h for h in self.dense if gate is None or h.score >= gate][:top_k]

    def search_bm25(
        self, tenant_id: str, query_text: str, top_k: int, **kw: Any
    ) -> list[SearchHit]:
        return self.bm25[:top_k]


def R(engine: Any, tenant: str = "t", **kw: Any) -> HybridRetriever:
    return HybridRetriever(TenantVectorStore(engine, tenant), EMB, **kw)


def ids(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node_id for n in nodes]


# ---- fusion math -----------------------------------------------------------------------


def test_rrf_fuse() -> None:
    a, b, c, d = nws("a", 0.9), nws("b", 0.8), nws("c", 0.7), nws("d", 5.0)
    fused = rrf_fuse([[a, b, c], [c, a, d]], k=60)
    assert [h.node_id for h, _ in fused] == ["a", "c", "b", "d"]
    scores = dict((h.node_id, s) for h, s in fused)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)


def test_weighted_fuse() -> None:
    dense = [nws("a", 0.9), nws("b", 0.5), nws("c", 0.1)]
    bm25 = [nws("c", 10.0), nws("a", 5.0), nws("d", 0.0)]
    fused = dict((h.node_id, s) for h, s in weighted_fuse(dense, bm25, alpha=0.5))
    assert fused == pytest.approx({"a": 0.75, "c": 0.5, "b": 0.25, "d": 0.0})
    assert [h.node_id for h, _ in weighted_fuse(dense, bm25, alpha=1.0)][:3] == ["a", "b", "c"]
    assert weighted_fuse(dense, bm25, alpha=0.0)[0][0].node_id == "c"
    # A single candidate (or all-equal scores) normalizes to 1, not 0/0.
    assert weighted_fuse([nws("x", 0.3)], [], alpha=0.5)[0][1] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        weighted_fuse(dense, bm25, alpha=1.5)


def test_hybrid_threshold_gates_on_dense_cosine_and_keeps_raw_scores() -> None:
    store = ListStore(
        dense=[hit("a", 0.8), hit("b", 0.4)], bm25=[hit("kw-only", 12.0), hit("b", 3.0)]
    )
    found = R(store).retrieve("q")
    assert set(ids(found)) == {"a", "b", "kw-only"}
    raw = {n.node_id: (n.metadata["dense_score"], n.metadata["bm25_score"]) for n in found}
    assert raw == {"a": (0.8, None), "b": (0.4, 3.0), "kw-only": (None, 12.0)}
    assert all(n.node.metadata["tenant_id"] == "t" for n in found)
    # The raw scores reach neither the embedder nor the LLM.
    assert "dense_score" not in found[0].node.get_content(metadata_mode="llm")  # type: ignore[arg-type]
    # b is below the gate; kw-only has no known cosine: both dropped.
    for fusion in ("rrf", "weighted"):
        assert ids(R(store, score_threshold=0.5, fusion=fusion).retrieve("q")) == ["a"]
    assert R(store, score_threshold=0.9).retrieve("q") == []
    # The returned score is the fusion score, not the cosine.
    (top,) = R(store, top_k=1, score_threshold=0.5, fusion="rrf").retrieve("q")
    assert top.score == pytest.approx(1 / 61)


def test_default_fusion_is_the_measured_winner() -> None:
    store = ListStore(dense=[hit("a", 0.8)], bm25=[hit("a", 3.0)])
    r = R(store, top_k=1)
    assert isinstance(r, BaseRetriever)
    assert (r.fusion, r.alpha) == ("weighted", 0.5)
    (top,) = r.retrieve("q")
    assert top.score == pytest.approx(1.0)  # 0.5 * 1 + 0.5 * 1 (each list min-max normalized)


def test_alpha_weights_dense_against_bm25() -> None:
    store = ListStore(dense=[hit("a", 0.8), hit("b", 0.4)], bm25=[hit("b", 3.0), hit("a", 1.0)])
    assert ids(R(store, alpha=0.9).retrieve("q"))[0] == "a"
    assert ids(R(store, alpha=0.1).retrieve("q"))[0] == "b"


def test_core_postprocessor_changes_the_result() -> None:
    """A LlamaIndex core postprocessor, configured by name, cuts weak fused hits."""
    store = ListStore(
        dense=[hit("a", 0.9), hit("b", 0.5), hit("c", 0.1)],
        bm25=[hit("a", 9.0), hit("c", 1.0), hit("b", 0.5)],
    )
    plain = R(store).retrieve("q")
    assert ids(plain) == ["a", "b", "c"]
    (cutoff,) = build_postprocessors("similarity_cutoff:0.5")
    assert isinstance(cutoff, SimilarityPostprocessor)
    cut = R(store, node_postprocessors=[cutoff]).retrieve("q")
    assert ids(cut) == ["a"]  # b fuses to 0.25 + 0.0, c to 0.0 + 0.0625
    # The same through the factory every caller uses.
    factory = retriever_factory(store, EMB, node_postprocessors=[cutoff])  # type: ignore[arg-type]
    assert ids(factory("t").retrieve("q")) == ["a"]


def test_postprocessor_setting_is_validated() -> None:
    assert build_postprocessors("") == []
    names = [
        type(p).__name__
        for p in build_postprocessors(
            " long_context_reorder , "
            "metadata_replacement:window, llama_index.core.postprocessor.LongContextReorder"
        )
    ]
    assert names == ["LongContextReorder", "MetadataReplacementPostProcessor", "LongContextReorder"]
    for bad in (
        "rerank_magic",
        "similarity_cutoff:high",
        "os.path.join",
        "collections.OrderedDict",
    ):
        with pytest.raises(ValueError, match="RETRIEVAL_POSTPROCESSORS"):
            build_postprocessors(bad)


# ---- on real backends ------------------------------------------------------------------


def _chunk(tenant: str, doc: str, i: int, text: str, **kw: object) -> Chunk:
    c = Chunk(tenant_id=tenant, document_id=doc, index=i, text=text, **kw)  # type: ignore[arg-type]
    c.vector = EMB.embed_query(text)
    return c


CORPUS = [
    (
        "handbook",
        0,
        "employees receive twenty five days of paid vacation per year",
        {"title": "Employee Handbook", "page": 3, "section": "Leave"},
    ),
    (
        "handbook",
        1,
        "sick leave needs a doctor note after three days",
        {"title": "Employee Handbook", "page": 4, "section": "Sick leave"},
    ),
    (
        "api",
        0,
        "authenticate requests with the api key header",
        {"title": "API Guide", "section": "Auth"},
    ),
    (
        "api",
        1,
        "error code E4417 means the session token expired",
        {"title": "API Guide", "section": "Errors"},
    ),
    (
        "api",
        2,
        "rate limits allow sixty requests per minute per key",
        {"title": "API Guide", "section": "Limits"},
    ),
]


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    s: VectorStore
    if request.param == "edge":
        s = EdgeStore(tmp_path / "qdrant", DIM)
    else:
        s = ServerStore(QdrantClient(":memory:"), "chunks", DIM)
    s.upsert("acme", [_chunk("acme", d, i, t, **kw) for d, i, t, kw in CORPUS])
    s.upsert("rival", [_chunk("rival", "r", 0, "our vacation policy is unlimited")])
    yield s
    s.close()


def docs_filter(*ids_: str) -> MetadataFilters:
    return MetadataFilters.from_dicts(
        [{"key": "document_id", "value": list(ids_), "operator": "in"}]
    )


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_retrieve_modes(store: VectorStore, mode: str) -> None:
    hits = R(store, "acme", mode=mode, top_k=3).retrieve("how many vacation days do employees get")
    assert 0 < len(hits) <= 3
    top = hits[0].node.metadata
    assert (top["document_id"], top["chunk_index"]) == ("handbook", 0)
    assert (top["title"], top["page"], top["section"]) == ("Employee Handbook", 3, "Leave")
    assert "paid vacation" in hits[0].node.get_content() and (hits[0].score or 0) > 0
    assert all(h.node.metadata["document_id"] != "r" for h in hits)  # never the other tenant's


def test_keyword_code_found_by_bm25_and_hybrid(store: VectorStore) -> None:
    for mode in ("bm25", "hybrid"):
        top = R(store, "acme", mode=mode, top_k=2).retrieve("what does E4417 mean?")[0]
        assert top.node.metadata["section"] == "Errors"


def test_document_filter_and_threshold(store: VectorStore) -> None:
    for mode in ("hybrid", "dense", "bm25"):
        hits = R(store, "acme", mode=mode, filters=docs_filter("api")).retrieve(
            "requests key vacation"
        )
        assert hits and {h.node.metadata["document_id"] for h in hits} == {"api"}
    assert R(store, "acme", mode="dense", score_threshold=0.99).retrieve("vacation") == []
    assert R(store, "acme", mode="hybrid", score_threshold=0.99).retrieve("vacation") == []
    dense = R(store, "acme", mode="dense", score_threshold=0.3).retrieve("paid vacation days")
    assert dense and all((h.score or 0) >= 0.3 for h in dense)
    gated = R(store, "acme", score_threshold=0.3).retrieve("paid vacation days")
    assert gated and set(ids(gated)) <= set(ids(dense))


def test_retriever_canary_never_crosses_tenants(
    store: VectorStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="app.rag.store")
    store.upsert("tenantA", [_chunk("tenantA", "secret", 0, CANARY, title="Secret")])
    naming_a = MetadataFilters(filters=[ExactMatchFilter(key="tenant_id", value="tenantA")])
    for tenant in ("acme", "rival", "tenantB"):
        for mode in ("hybrid", "dense", "bm25"):
            for fusion in ("rrf", "weighted"):
                hits = R(store, tenant, mode=mode, fusion=fusion, top_k=500).retrieve(CANARY)
                assert not any("zebra-canary-7731" in h.node.get_content() for h in hits)
                for flt in (docs_filter("secret"), naming_a):
                    assert (
                        R(store, tenant, mode=mode, top_k=500, filters=flt).retrieve(CANARY) == []
                    )
    (top,) = R(store, "tenantA", top_k=1).retrieve(CANARY)
    assert top.node.metadata["title"] == "Secret"
    assert not [rec for rec in caplog.records if "foreign" in rec.getMessage()]


@pytest.mark.parametrize("bad", ["", " ", None])
def test_tenant_required(store: VectorStore, bad: object) -> None:
    with pytest.raises(ValueError, match="tenant_id"):
        R(store, bad)  # type: ignore[arg-type]


def test_argument_checks(store: VectorStore) -> None:
    assert R(store, "acme").retrieve("   ") == []
    with pytest.raises(ValueError, match="mode"):
        R(store, "acme", mode="fuzzy")
    with pytest.raises(ValueError, match="fusion"):
        R(store, "acme", fusion="max")
    with pytest.raises(ValueError, match="top_k"):
        R(store, "acme", top_k=0)
    with pytest.raises(TypeError, match="TenantVectorStore"):
        HybridRetriever(store, EMB)  # type: ignore[arg-type]

    class Wrong(FakeEmbedder):
        dim = 768

    with pytest.raises(ValueError, match="dim"):
        HybridRetriever(TenantVectorStore(store, "acme"), Wrong())
