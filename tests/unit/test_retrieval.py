"""`app.rag.retrieval`: fusion math, threshold semantics, and retrieval on both backends."""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from app.rag.retrieval import Retriever, rrf_fuse, weighted_fuse
from app.rag.store import EdgeStore, ServerStore, VectorStore
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


class ListStore:
    """Returns fixed candidate lists, to pin fusion and threshold semantics exactly."""

    dim = DIM

    def __init__(self, dense: list[SearchHit], bm25: list[SearchHit]) -> None:
        self.dense, self.bm25 = dense, bm25

    def search_dense(
        self, tenant_id: str, vector: Sequence[float], top_k: int, **kw: object
    ) -> list[SearchHit]:
        return self.dense[:top_k]

    def search_bm25(
        self, tenant_id: str, query_text: str, top_k: int, **kw: object
    ) -> list[SearchHit]:
        return self.bm25[:top_k]


# ---- fusion math -----------------------------------------------------------------------


def test_rrf_fuse() -> None:
    a, b, c, d = hit("a", 0.9), hit("b", 0.8), hit("c", 0.7), hit("d", 5.0)
    fused = rrf_fuse([[a, b, c], [c, a, d]], k=60)
    assert [h.id for h, _ in fused] == ["a", "c", "b", "d"]
    scores = dict((h.id, s) for h, s in fused)
    assert scores["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["d"] == pytest.approx(1 / 63)


def test_weighted_fuse() -> None:
    dense = [hit("a", 0.9), hit("b", 0.5), hit("c", 0.1)]
    bm25 = [hit("c", 10.0), hit("a", 5.0), hit("d", 0.0)]
    fused = dict((h.id, s) for h, s in weighted_fuse(dense, bm25, alpha=0.5))
    assert fused == pytest.approx({"a": 0.75, "c": 0.5, "b": 0.25, "d": 0.0})
    assert [h.id for h, _ in weighted_fuse(dense, bm25, alpha=1.0)][:3] == ["a", "b", "c"]
    assert weighted_fuse(dense, bm25, alpha=0.0)[0][0].id == "c"
    # A single candidate (or all-equal scores) normalizes to 1, not 0/0.
    assert weighted_fuse([hit("x", 0.3)], [], alpha=0.5)[0][1] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        weighted_fuse(dense, bm25, alpha=1.5)


def test_hybrid_threshold_gates_on_dense_cosine() -> None:
    store = ListStore(
        dense=[hit("a", 0.8), hit("b", 0.4)], bm25=[hit("kw-only", 12.0), hit("b", 3.0)]
    )
    r = Retriever(store, EMB)  # type: ignore[arg-type]
    assert {h.id for h in r.retrieve("t", "q")} == {"a", "b", "kw-only"}
    # b is below the gate; kw-only has no known cosine: both dropped.
    for fusion in ("rrf", "weighted"):
        gated = r.retrieve("t", "q", score_threshold=0.5, fusion=fusion)  # type: ignore[arg-type]
        assert [h.id for h in gated] == ["a"]
    assert r.retrieve("t", "q", score_threshold=0.9) == []
    # Returned score is the fusion score, not the cosine.
    (top,) = r.retrieve("t", "q", top_k=1, score_threshold=0.5, fusion="rrf")
    assert top.score == pytest.approx(1 / 61)


def test_default_fusion_is_the_measured_winner() -> None:
    store = ListStore(dense=[hit("a", 0.8)], bm25=[hit("a", 3.0)])
    r = Retriever(store, EMB)  # type: ignore[arg-type]
    assert (r.fusion, r.alpha) == ("weighted", 0.5)
    (top,) = r.retrieve("t", "q", top_k=1)
    assert top.score == pytest.approx(1.0)  # 0.5 * 1 + 0.5 * 1 (each list min-max normalized)


def test_weighted_is_default_when_configured() -> None:
    store = ListStore(dense=[hit("a", 0.8), hit("b", 0.4)], bm25=[hit("b", 3.0), hit("a", 1.0)])
    assert (
        Retriever(store, EMB, fusion="weighted", alpha=0.9)
        .retrieve(  # type: ignore[arg-type]
            "t", "q"
        )[0]
        .id
        == "a"
    )
    assert (
        Retriever(store, EMB, fusion="weighted", alpha=0.1)
        .retrieve(  # type: ignore[arg-type]
            "t", "q"
        )[0]
        .id
        == "b"
    )
    # Per-call overrides win over the configured defaults.
    assert (
        Retriever(store, EMB, fusion="rrf")
        .retrieve(  # type: ignore[arg-type]
            "t", "q", fusion="weighted", alpha=0.1
        )[0]
        .id
        == "b"
    )


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


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_retrieve_modes(store: VectorStore, mode: str) -> None:
    r = Retriever(store, EMB)
    hits = r.retrieve("acme", "how many vacation days do employees get", mode=mode, top_k=3)  # type: ignore[arg-type]
    assert 0 < len(hits) <= 3
    top = hits[0]
    assert (top.document_id, top.chunk_index) == ("handbook", 0)
    assert (top.title, top.page, top.section) == ("Employee Handbook", 3, "Leave")
    assert "paid vacation" in top.text and top.score > 0
    assert all(h.document_id != "r" for h in hits)  # never the other tenant's policy


def test_keyword_code_found_by_bm25_and_hybrid(store: VectorStore) -> None:
    r = Retriever(store, EMB)
    for mode in ("bm25", "hybrid"):
        top = r.retrieve("acme", "what does E4417 mean?", mode=mode, top_k=2)[0]  # type: ignore[arg-type]
        assert top.section == "Errors"


def test_document_filter_and_threshold(store: VectorStore) -> None:
    r = Retriever(store, EMB)
    for mode in ("hybrid", "dense", "bm25"):
        hits = r.retrieve("acme", "requests key vacation", mode=mode, document_ids=["api"])  # type: ignore[arg-type]
        assert hits and {h.document_id for h in hits} == {"api"}
    assert r.retrieve("acme", "vacation", mode="dense", score_threshold=0.99) == []
    assert r.retrieve("acme", "vacation", mode="hybrid", score_threshold=0.99) == []
    dense = r.retrieve("acme", "paid vacation days", mode="dense", score_threshold=0.3)
    assert dense and all(h.score >= 0.3 for h in dense)
    cos = {h.id for h in dense}
    gated = r.retrieve("acme", "paid vacation days", mode="hybrid", score_threshold=0.3)
    assert gated and {h.id for h in gated} <= cos


def test_retriever_canary_never_crosses_tenants(
    store: VectorStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="app.rag.store")
    store.upsert("tenantA", [_chunk("tenantA", "secret", 0, CANARY, title="Secret")])
    r = Retriever(store, EMB)
    for tenant in ("acme", "rival", "tenantB"):
        for mode in ("hybrid", "dense", "bm25"):
            for fusion in ("rrf", "weighted"):
                hits = r.retrieve(tenant, CANARY, mode=mode, fusion=fusion, top_k=500)  # type: ignore[arg-type]
                assert not any("zebra-canary-7731" in h.text for h in hits)
                hits = r.retrieve(tenant, CANARY, mode=mode, top_k=500, document_ids=["secret"])  # type: ignore[arg-type]
                assert hits == []
    assert r.retrieve("tenantA", CANARY, top_k=1)[0].title == "Secret"
    assert not [rec for rec in caplog.records if "foreign" in rec.getMessage()]


@pytest.mark.parametrize("bad", ["", " ", None])
def test_tenant_required(store: VectorStore, bad: object) -> None:
    r = Retriever(store, EMB)
    for mode in ("hybrid", "dense", "bm25"):
        for query in ("vacation", ""):
            with pytest.raises(ValueError, match="tenant_id"):
                r.retrieve(bad, query, mode=mode)  # type: ignore[arg-type]


def test_argument_checks(store: VectorStore) -> None:
    r = Retriever(store, EMB)
    assert r.retrieve("acme", "   ") == []
    with pytest.raises(ValueError, match="mode"):
        r.retrieve("acme", "x", mode="fuzzy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="fusion"):
        r.retrieve("acme", "x", fusion="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_k"):
        r.retrieve("acme", "x", top_k=0)

    class Wrong(FakeEmbedder):
        dim = 768

    with pytest.raises(ValueError, match="dim"):
        Retriever(store, Wrong())
