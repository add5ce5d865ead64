"""`app.rag.store` on both backends: Qdrant Edge (tmp dir) and qdrant-client local mode."""

from __future__ import annotations

import logging
import math
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    ExactMatchFilter,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from qdrant_client import QdrantClient

import app.rag.store_base as store_base
from app.rag.store import (
    DENSE,
    SPARSE,
    EdgeStore,
    ServerStore,
    TenantVectorStore,
    VectorStore,
    bm25_query_sparse,
    bm25_sparse,
    collection_name,
    open_store,
)
from app.rag.types import Chunk, SearchHit

DIM = 384
ROOT = Path(__file__).resolve().parents[2]
CANARY = "zebra-canary-7731 quartz ledger of the violet heron"


def embed(text: str) -> list[float]:
    """Deterministic hashing bag-of-words embedding (stands in for the real model)."""
    vec = [0.0] * DIM
    for token in text.lower().split():
        vec[zlib.crc32(token.encode()) % DIM] += 1.0
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    return [x / norm for x in vec]


def chunk(tenant: str, doc: str, index: int, text: str, **kw: object) -> Chunk:
    c = Chunk(tenant_id=tenant, document_id=doc, index=index, text=text, **kw)  # type: ignore[arg-type]
    c.vector = embed(text)
    return c


def make_store(kind: str, tmp_path: Path) -> VectorStore:
    if kind == "edge":
        return EdgeStore(tmp_path / "qdrant", DIM)
    return ServerStore(QdrantClient(":memory:"), "chunks", DIM)


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    s = make_store(request.param, tmp_path)
    yield s
    s.close()


def texts(hits: list[SearchHit]) -> list[str]:
    return [h.text for h in hits]


# ---- basic operations ---------------------------------------------------------------


def test_upsert_search_scroll_count_delete(store: VectorStore) -> None:
    doc1 = [
        chunk(
            "t1",
            "doc1",
            0,
            "solar panels convert sunlight into electricity",
            title="Energy",
            page=1,
            section="Intro",
            token_count=7,
        ),
        chunk(
            "t1", "doc1", 1, "wind turbines spin in strong coastal winds", title="Energy", page=2
        ),
    ]
    doc2 = [chunk("t1", "doc2", 0, "sourdough bread needs a lively starter", title="Baking")]
    assert store.upsert("t1", doc1 + doc2) == 3
    assert store.count("t1") == 3
    assert store.count("t1", "doc1") == 2

    hits = store.search_dense("t1", embed("solar panels sunlight"), 2)
    assert hits[0].id == doc1[0].id
    top = hits[0]
    assert (top.title, top.page, top.section, top.chunk_index, top.document_id) == (
        "Energy",
        1,
        "Intro",
        0,
        "doc1",
    )
    assert top.text.startswith("solar panels")
    assert 0.0 < top.score <= 1.0 + 1e-6

    bm = store.search_bm25("t1", "Bread STARTER", 5)
    assert texts(bm)[0] == doc2[0].text and len(bm) == 1  # only chunks with a query term

    hy = store.search_hybrid("t1", embed("coastal winds"), "coastal winds", 3)
    assert hy[0].id == doc1[1].id

    # Document filter on searches.
    assert {
        h.document_id for h in store.search_dense("t1", embed("solar"), 10, document_ids=["doc2"])
    } == {"doc2"}
    assert store.search_bm25("t1", "sunlight", 10, document_ids=["doc2"]) == []

    # Scroll pages through everything exactly once.
    seen: list[str] = []
    offset: str | None = None
    while True:
        page, offset = store.scroll("t1", limit=2, offset=offset)
        seen += [h.id for h in page]
        if offset is None:
            break
    assert sorted(seen) == sorted(c.id for c in doc1 + doc2)
    page, _ = store.scroll("t1", "doc1", limit=10)
    assert sorted(h.chunk_index for h in page) == [0, 1]

    store.delete_document("t1", "doc1")
    assert store.count("t1") == 1 and store.count("t1", "doc1") == 0
    store.delete_tenant("t1")
    assert store.count("t1") == 0
    assert store.search_dense("t1", embed("bread"), 5) == []


def test_reupsert_is_idempotent(store: VectorStore) -> None:
    chunks = [chunk("t1", "doc", i, f"paragraph number {i} about otters") for i in range(5)]
    store.upsert("t1", chunks)
    store.upsert("t1", chunks)
    assert store.count("t1") == 5
    # Same ids, new text: overwritten, not duplicated.
    store.upsert("t1", [chunk("t1", "doc", 0, "rewritten paragraph about beavers")])
    assert store.count("t1") == 5
    assert texts(store.search_bm25("t1", "beavers", 5)) == ["rewritten paragraph about beavers"]
    assert 0 not in {h.chunk_index for h in store.search_bm25("t1", "otters", 10)}


def test_empty_upsert_and_stopword_query(store: VectorStore) -> None:
    assert store.upsert("t1", []) == 0
    store.upsert("t1", [chunk("t1", "d", 0, "the cat sat")])
    assert store.search_bm25("t1", "the of and", 5) == []  # only stopwords


# ---- tenant isolation -----------------------------------------------------------------


def _canary_corpus(store: VectorStore) -> Chunk:
    canary = chunk("tenantA", "secret-doc", 0, CANARY, title="Secret")
    store.upsert("tenantA", [canary, chunk("tenantA", "secret-doc", 1, "quarterly numbers")])
    # Tenant ids that are prefixes/suffixes of each other must not match.
    store.upsert("tenantAB", [chunk("tenantAB", "d", 0, "violet heron notes")])
    store.upsert(
        "tenantB",
        [
            chunk("tenantB", "public-doc", i, f"harmless note {i} about the violet garden")
            for i in range(5)
        ],
    )
    return canary


def test_tenant_isolation_canary(store: VectorStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="app.rag.store")
    canary = _canary_corpus(store)
    big = 1000
    for tenant in ("tenantB", "tenantAB", "tenanta", "tenantA "):
        results = [
            store.search_dense(tenant, embed(CANARY), big),
            store.search_bm25(tenant, CANARY, big),
            store.search_bm25(tenant, "zebra-canary-7731", big),
            store.search_hybrid(tenant, embed(CANARY), CANARY, big),
            store.search_dense(tenant, embed(CANARY), big, document_ids=["secret-doc"]),
            store.search_bm25(tenant, CANARY, big, document_ids=["secret-doc"]),
            store.search_dense(tenant, embed(CANARY), big, score_threshold=-1.0),
            store.scroll(tenant, limit=big)[0],
            store.scroll(tenant, "secret-doc", limit=big)[0],
        ]
        for hits in results:
            assert canary.id not in {h.id for h in hits}
            assert not any("zebra-canary-7731" in h.text for h in hits)
            assert all(h.document_id != "secret-doc" for h in hits)
        assert store.count(tenant, "secret-doc") == 0

    # Cross-tenant deletes are no-ops for the owner.
    store.delete_document("tenantB", "secret-doc")
    store.delete_tenant("tenantAB")
    store.delete_tenant("tenantB")
    assert store.count("tenantA") == 2
    # Sanity: the canary is findable by its owner, so the negative results above mean something.
    assert store.search_bm25("tenantA", "zebra-canary-7731", 1)[0].id == canary.id
    assert store.search_hybrid("tenantA", embed(CANARY), CANARY, 1)[0].id == canary.id
    # The engine filter itself held: the result-side tenant re-check never had to drop a row.
    assert not [r for r in caplog.records if "foreign" in r.getMessage()]


def test_result_side_tenant_recheck_drops_foreign_rows(caplog: pytest.LogCaptureFixture) -> None:
    rows = [("p1", 0.9, {"tenant_id": "t1", "text": "mine"}), ("p2", 0.8, {"tenant_id": "t2"})]
    with caplog.at_level(logging.ERROR, logger="app.rag.store"):
        hits = store_base._hits("t1", rows)
    assert [h.id for h in hits] == ["p1"]
    assert "foreign" in caplog.text


def test_bm25_idf_is_per_tenant(store: VectorStore) -> None:
    """Another tenant's corpus must not move this tenant's BM25 scores."""
    store.upsert(
        "tenantB",
        [chunk("tenantB", "d", i, f"apples and pears {i}") for i in range(3)]
        + [chunk("tenantB", "d", 9, "plums only")],
    )
    before = [(h.id, round(h.score, 5)) for h in store.search_bm25("tenantB", "apples", 10)]
    store.upsert("tenantA", [chunk("tenantA", "d", i, f"apples apples {i}") for i in range(50)])
    after = [(h.id, round(h.score, 5)) for h in store.search_bm25("tenantB", "apples", 10)]
    assert before == after and len(before) == 3


@pytest.mark.parametrize("bad", ["", "   ", None, 42])
def test_calls_without_tenant_raise(store: VectorStore, bad: object) -> None:
    vec = embed("x")
    calls = [
        lambda: store.upsert(bad, []),  # type: ignore[arg-type]
        lambda: store.search_dense(bad, vec, 3),  # type: ignore[arg-type]
        lambda: store.search_bm25(bad, "x", 3),  # type: ignore[arg-type]
        lambda: store.search_hybrid(bad, vec, "x", 3),  # type: ignore[arg-type]
        lambda: store.scroll(bad),  # type: ignore[arg-type]
        lambda: store.count(bad),  # type: ignore[arg-type]
        lambda: store.delete_document(bad, "d"),  # type: ignore[arg-type]
        lambda: store.delete_tenant(bad),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(ValueError, match="tenant_id"):
            call()


def test_upsert_refuses_bad_chunks(store: VectorStore) -> None:
    good = chunk("t1", "d", 0, "fine")
    with pytest.raises(ValueError, match="another tenant"):
        store.upsert("t1", [good, chunk("t2", "d", 1, "intruder")])
    no_vec = Chunk("t1", "d", 2, "no vector")
    with pytest.raises(ValueError, match="vector"):
        store.upsert("t1", [no_vec])
    short = Chunk("t1", "d", 3, "short", vector=[1.0, 0.0])
    with pytest.raises(ValueError, match="vector"):
        store.upsert("t1", [short])
    with pytest.raises(ValueError, match="document_id"):
        store.delete_document("t1", "")
    with pytest.raises(ValueError, match="dimensions"):
        store.search_dense("t1", [1.0], 3)
    assert store.count("t1") == 0  # the mixed batch was refused as a whole


# ---- sparse vectors -------------------------------------------------------------------


def test_sparse_vectors_identical_between_backends(tmp_path: Path) -> None:
    text = "Café au lait: runners were running; the RUN ran quickly, quickly!"
    indices, values = bm25_sparse(text)
    assert indices == sorted(indices) and len(indices) == len(values) > 0
    assert bm25_sparse(text) == (indices, values)  # deterministic
    q_idx, q_val = bm25_query_sparse("running runner")
    assert set(q_val) == {1.0} and set(q_idx) <= set(indices)  # same stemming as documents

    edge = EdgeStore(tmp_path / "edge", DIM)
    server = ServerStore(QdrantClient(":memory:"), "chunks", DIM)
    try:
        c = chunk("t1", "d", 0, text)
        corpus = [c, chunk("t1", "d", 1, "coffee without milk"), chunk("t1", "d", 2, "slow walk")]
        edge.upsert("t1", corpus)
        server.upsert("t1", corpus)
        assert edge._shard is not None
        (rec,) = edge._shard.retrieve([c.id], with_payload=False, with_vector=[SPARSE])
        e_vec = rec.vector[SPARSE]  # type: ignore[index]
        (srec,) = server.client.retrieve("chunks", [c.id], with_vectors=[SPARSE])
        s_vec = srec.vector[SPARSE]  # type: ignore[index]
        assert list(e_vec.indices) == list(s_vec.indices) == indices
        assert np.allclose(e_vec.values, values) and np.allclose(s_vec.values, values)
        # Same IDF-weighted scores and order from both engines.
        e_hits = edge.search_bm25("t1", "quick coffee run", 5)
        s_hits = server.search_bm25("t1", "quick coffee run", 5)
        assert [h.id for h in e_hits] == [h.id for h in s_hits]
        assert np.allclose([h.score for h in e_hits], [h.score for h in s_hits], rtol=1e-5)
    finally:
        edge.close()
        server.close()


# ---- Edge persistence and threads -------------------------------------------------------


def test_edge_survives_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "qdrant"
    with EdgeStore(path, DIM) as s:
        s.upsert("t1", [chunk("t1", "d", i, f"persisted chunk {i}") for i in range(10)])
        s.delete_document("t1", "nope")
    with EdgeStore(path, DIM) as s:
        assert s.count("t1") == 10
        assert s.search_bm25("t1", "persisted", 1)[0].document_id == "d"
        s.upsert("t1", [chunk("t1", "d", 0, "persisted chunk 0")])  # indexes still there
        assert s.count("t1") == 10
    with pytest.raises(Exception):  # noqa: B017 - engine-specific error type
        EdgeStore(path, DIM + 1)  # a different embedding size must not open silently


_CHILD = """
import os, signal, sys
sys.path.insert(0, sys.argv[2])
from app.rag.store import EdgeStore
from app.rag.types import Chunk
store = EdgeStore(sys.argv[1], 8, flush_interval_s=3600)  # no flush: only the WAL has it
store.upsert("t1", [Chunk("t1", "d", i, f"killed writer {i}", vector=[1.0] * 8)
                    for i in range(20)])
print("upserted", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_edge_upsert_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "qdrant"
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert "upserted" in proc.stdout
    with EdgeStore(path, 8) as s:
        assert s.count("t1") == 20
        assert s.search_bm25("t1", "killed writer", 1)[0].text.startswith("killed writer")


def test_edge_concurrent_search_during_upsert(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "qdrant", DIM)
    store.upsert("reader", [chunk("reader", "d", 0, "steady state document")])
    errors: list[BaseException] = []
    stop = threading.Event()
    found: list[int] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                found.append(len(store.search_dense("reader", embed("steady state"), 3)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for batch in range(5):
        store.upsert(
            "writer", [chunk("writer", f"d{batch}", i, f"bulk text {i}") for i in range(200)]
        )
    stop.set()
    for t in threads:
        t.join()
    store.close()
    assert not errors and found and set(found) == {1}


# ---- open_store --------------------------------------------------------------------------


def test_open_store_picks_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import qdrant_client

    from app.settings import Settings

    edge = open_store(Settings(data_dir=tmp_path, qdrant_url=None), dim=DIM)
    assert isinstance(edge, EdgeStore) and edge.path == tmp_path / "qdrant"
    edge.close()

    seen: dict[str, object] = {}

    def fake_client(url: str, api_key: str | None) -> QdrantClient:
        seen.update(url=url, api_key=api_key)
        return QdrantClient(":memory:")

    monkeypatch.setattr(qdrant_client, "QdrantClient", fake_client)
    server = open_store(
        Settings(
            data_dir=tmp_path,
            qdrant_url="http://qdrant:6333",
            qdrant_api_key="k" * 40,
            qdrant_collection="col",
        ),
        dim=DIM,
    )
    assert isinstance(server, ServerStore) and server.collection == "col"
    assert seen == {"url": "http://qdrant:6333", "api_key": "k" * 40}
    info = server.client.get_collection("col").config.params
    assert info.vectors[DENSE].size == DIM  # type: ignore[index]
    assert info.sparse_vectors[SPARSE].modifier is not None  # type: ignore[index]
    server.close()


# ---- micro-measurement (prints, never fails on timing) -----------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["edge", "server"])
def test_micro_latency_10k_chunks_100_tenants(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(10_000, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    words = np.array([f"term{i}" for i in range(3000)])
    picks = rng.integers(0, len(words), size=(10_000, 40))
    batches = {
        f"tenant{t}": [
            Chunk(
                f"tenant{t}",
                f"doc{i // 10}",
                i,
                " ".join(words[picks[t * 100 + i]]),
                vector=vectors[t * 100 + i].tolist(),
            )
            for i in range(100)
        ]
        for t in range(100)
    }
    store = make_store(kind, tmp_path)
    started = time.perf_counter()  # store work only: BM25 encoding + engine writes
    for tenant, chunks in batches.items():
        store.upsert(tenant, chunks)
    ingest = time.perf_counter() - started
    assert store.count("tenant42") == 100
    # Local mode is pure numpy over the whole collection: a few runs say enough.
    runs = 30 if kind == "edge" else 3

    def measure() -> str:
        timings: dict[str, list[float]] = {"dense": [], "bm25": [], "hybrid": []}
        for i in range(runs):
            tenant = f"tenant{(i * 37) % 100}"
            q = vectors[(i * 131) % 10_000].tolist()
            for name, call in (
                ("dense", lambda: store.search_dense(tenant, q, 8)),  # noqa: B023
                ("bm25", lambda: store.search_bm25(tenant, "term1 term2 term3", 8)),  # noqa: B023
                ("hybrid", lambda: store.search_hybrid(tenant, q, "term1 term2", 8)),  # noqa: B023
            ):
                t0 = time.perf_counter()
                call()
                timings[name].append((time.perf_counter() - t0) * 1000)
        return ", ".join(
            f"{name} p50 {np.percentile(ms, 50):.2f} ms / p95 {np.percentile(ms, 95):.2f} ms"
            for name, ms in timings.items()
        )

    summary = measure()
    if isinstance(store, EdgeStore):
        t0 = time.perf_counter()
        store.optimize()  # index build: appendable segments -> indexed ones
        summary += f"; optimize {time.perf_counter() - t0:.1f}s, then {measure()}"
    store.close()
    print(f"\n[{kind}] 10k chunks/100 tenants: ingest {ingest:.1f}s; {summary}")


# ---- the LlamaIndex vector store, bound to one tenant ------------------------------------


def _node_of(c: Chunk) -> TextNode:
    node = TextNode(
        id_=c.id,
        text=c.text,
        embedding=list(c.vector or []),
        metadata={"tenant_id": c.tenant_id, "document_id": c.document_id, "chunk_index": c.index},
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=c.document_id)
    return node


def _seed_two_tenants(store: VectorStore) -> tuple[TenantVectorStore, TenantVectorStore]:
    a, b = TenantVectorStore(store, "tenantA"), TenantVectorStore(store, "tenantB")
    a.add([_node_of(chunk("tenantA", "secret", i, f"{CANARY} part {i}")) for i in range(3)])
    b.add([_node_of(chunk("tenantB", "public", 0, "tenant B public notes about canaries"))])
    return a, b


def _dense(text: str, **kw: object) -> VectorStoreQuery:
    return VectorStoreQuery(query_embedding=embed(text), similarity_top_k=50, **kw)  # type: ignore[arg-type]


def test_tenant_store_is_a_llamaindex_store_bound_to_its_tenant(store: VectorStore) -> None:
    a, b = _seed_two_tenants(store)
    assert isinstance(a, BasePydanticVectorStore) and a.tenant_id == "tenantA"
    with pytest.raises(AttributeError):
        a.tenant_id = "tenantB"  # type: ignore[misc]
    with pytest.raises(ValueError, match="tenant_id"):
        TenantVectorStore(store, " ")
    # A missing filter still means "this tenant only".
    for query in (
        _dense(CANARY),
        VectorStoreQuery(query_str=CANARY, similarity_top_k=50, mode=VectorStoreQueryMode.SPARSE),
        VectorStoreQuery(
            query_embedding=embed(CANARY),
            query_str=CANARY,
            similarity_top_k=50,
            mode=VectorStoreQueryMode.HYBRID,
        ),
    ):
        got = b.query(query)
        assert got.ids and all(n.metadata["tenant_id"] == "tenantB" for n in got.nodes or [])
        assert not any("zebra-canary" in n.get_content() for n in got.nodes or [])
    assert len(a.query(_dense(CANARY)).ids or []) == 3


def test_tenant_store_filters_naming_another_tenant_match_nothing(store: VectorStore) -> None:
    a, b = _seed_two_tenants(store)
    probes = [
        MetadataFilters(filters=[ExactMatchFilter(key="tenant_id", value="tenantA")]),
        MetadataFilters(
            filters=[MetadataFilter(key="tenant_id", value=["tenantA"], operator=FilterOperator.IN)]
        ),
        MetadataFilters(filters=[ExactMatchFilter(key="document_id", value="secret")]),
        MetadataFilters(
            filters=[
                ExactMatchFilter(key="tenant_id", value="tenantA"),
                ExactMatchFilter(key="document_id", value="secret"),
            ]
        ),
    ]
    for flt in probes:
        assert b.query(_dense(CANARY, filters=flt)).ids == []
    assert b.query(_dense(CANARY, doc_ids=["secret"])).ids == []
    # Naming its own tenant is fine; anything but tenant/document filters is refused.
    own = MetadataFilters(filters=[ExactMatchFilter(key="tenant_id", value="tenantA")])
    assert len(a.query(_dense(CANARY, filters=own)).ids or []) == 3
    with pytest.raises(ValueError, match="unsupported filter"):
        a.query(
            _dense(CANARY, filters=MetadataFilters.from_dicts([{"key": "title", "value": "x"}]))
        )
    either = MetadataFilters(
        filters=[
            ExactMatchFilter(key="tenant_id", value="tenantB"),
            ExactMatchFilter(key="tenant_id", value="tenantA"),
        ],
        condition=FilterCondition.OR,
    )
    with pytest.raises(ValueError, match="AND"):
        b.query(_dense(CANARY, filters=either))


def test_tenant_store_deletes_never_touch_another_tenant(store: VectorStore) -> None:
    a, b = _seed_two_tenants(store)
    secret_ids = [chunk("tenantA", "secret", i, "x").id for i in range(3)]
    b.delete("secret")  # another tenant's document id (ref_doc_id)
    b.delete_nodes(node_ids=secret_ids)
    b.delete_nodes(filters=MetadataFilters.from_dicts([{"key": "document_id", "value": "secret"}]))
    b.delete_nodes(
        filters=MetadataFilters(filters=[ExactMatchFilter(key="tenant_id", value="tenantA")])
    )
    with pytest.raises(ValueError, match="clear"):
        b.delete_nodes()  # "delete everything" never happens by omission
    assert store.count("tenantA") == 3
    # A node of another tenant is refused, whole batch.
    foreign = _node_of(chunk("tenantA", "secret", 9, "sneaky"))
    with pytest.raises(ValueError, match="another tenant"):
        b.add([_node_of(chunk("tenantB", "x", 0, "fine")), foreign])
    assert store.count("tenantA") == 3 and store.count("tenantB") == 1
    # The owner can delete by node id and by document.
    a.delete_nodes(node_ids=secret_ids[:1])
    assert store.count("tenantA") == 2
    a.delete("secret")
    assert store.count("tenantA") == 0 and store.count("tenantB") == 1
    b.clear()
    assert store.count("tenantB") == 0


def test_collection_per_embedding_model(tmp_path: Path) -> None:
    assert collection_name("chunks", "sentence-transformers/all-MiniLM-L6-v2", 384) == "chunks"
    small = collection_name("chunks", "text-embedding-3-small", 1536)
    short = collection_name("chunks", "text-embedding-3-small@256", 256)
    assert len({"chunks", small, short}) == 3 and small.startswith("chunks__text-embedding-3")
    from app.settings import Settings

    settings = Settings(data_dir=tmp_path)
    local = open_store(settings)
    other = open_store(settings, dim=1536, vector_space="text-embedding-3-small")
    try:
        assert local.path == settings.qdrant_path and other.path != local.path  # type: ignore[attr-defined]
        assert other.dim == 1536 and other.created  # type: ignore[attr-defined]
    finally:
        local.close()
        other.close()
