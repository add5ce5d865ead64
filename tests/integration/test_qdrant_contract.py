"""The Qdrant server path (`QDRANT_URL` -> qdrant-client -> ServerStore), as a contract.

The same contract runs against a real Qdrant server when `QDRANT_URL_TEST` is set (e.g.
`docker run -p 6333:6333 qdrant/qdrant`, then QDRANT_URL_TEST=http://127.0.0.1:6333), and
always against qdrant-client's local mode, so the contract itself cannot rot while no
server is around (none is installable on the CI machine). The server case goes through
`open_store(Settings(qdrant_url=...))`, the product's own way in, on a collection of its own
that it deletes afterwards.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.vector_stores.types import VectorStoreQuery, VectorStoreQueryMode
from qdrant_client import QdrantClient

from app.rag.store import (
    HNSW_M,
    HNSW_PAYLOAD_M,
    ServerStore,
    TenantVectorStore,
    open_store,
)
from app.settings import Settings
from tests.unit.test_store import DIM, _node_of, chunk, embed

SERVER_URL = os.environ.get("QDRANT_URL_TEST", "")


@pytest.fixture(params=["local", "server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """(kind, opener): opener() opens a ServerStore on this test's collection."""
    if request.param == "server":
        if not SERVER_URL:
            pytest.skip("QDRANT_URL_TEST is not set (no Qdrant server to run the contract on)")
        base = f"contract_{uuid.uuid4().hex[:10]}"
        settings = Settings(qdrant_url=SERVER_URL, qdrant_collection=base)
        names: list[str] = []

        def open_server(dim: int = DIM) -> ServerStore:
            store = open_store(settings, dim=dim)
            assert isinstance(store, ServerStore)
            names.append(store.collection)
            return store

        yield "server", open_server
        admin = QdrantClient(url=SERVER_URL)
        for name in set(names):
            if admin.collection_exists(name):
                admin.delete_collection(name)
        admin.close()
    else:
        path = tmp_path / "local"

        def open_local(dim: int = DIM) -> ServerStore:
            return ServerStore(QdrantClient(path=str(path)), "chunks", dim)

        yield "local", open_local


def test_write_search_delete_and_tenants(backend) -> None:  # type: ignore[no-untyped-def]
    _kind, opener = backend
    store = opener()
    try:
        assert store.created
        a = [chunk("ta", "d1", i, f"aurora espresso descale step {i}") for i in range(5)]
        b = [chunk("tb", "d9", 0, "aurora espresso secret of the other tenant")]
        assert store.upsert("ta", a) == 5 and store.upsert("tb", b) == 1
        assert store.upsert("ta", a[:2]) == 2  # deterministic ids: overwrite, not duplicate
        assert store.count("ta") == 5 and store.count("ta", "d1") == 5 and store.count("tb") == 1

        dense = store.search_dense("ta", embed("descale step 3"), top_k=3)
        assert dense[0].text == "aurora espresso descale step 3"
        bm25 = store.search_bm25("ta", "descale", top_k=10)
        hybrid = store.search_hybrid("ta", embed("descale step 3"), "descale step", top_k=3)
        for hits in (dense, bm25, hybrid):
            assert hits and all(h.document_id == "d1" for h in hits)  # never tenant b's
        assert hybrid[0].chunk_index == 3

        pages, offset = [], None
        while True:
            page, offset = store.scroll("ta", limit=2, offset=offset)
            pages += page
            if offset is None:
                break
        assert sorted(h.chunk_index for h in pages) == list(range(5))

        store.delete_document("ta", "d1")
        assert store.count("ta") == 0 and store.count("tb") == 1  # the other tenant untouched
    finally:
        store.close()


def test_reopen_keeps_points_and_refuses_another_vector_size(backend) -> None:  # type: ignore[no-untyped-def]
    _kind, opener = backend
    store = opener()
    store.upsert("ta", [chunk("ta", "d1", 0, "kept across a restart")])
    store.close()
    again = opener()
    try:
        assert not again.created and again.count("ta") == 1
    finally:
        again.close()
    if _kind == "server":  # another model gets its own collection (open_store names it)
        other = opener(dim=DIM * 2)
        assert other.collection != again.collection and other.created
        other.close()
    probe = opener()
    try:
        with pytest.raises(ValueError, match="another embedding model"):
            ServerStore(probe.client, probe.collection, 8)
    finally:
        probe.close()


def test_llamaindex_store_over_the_server_path(backend) -> None:  # type: ignore[no-untyped-def]
    _kind, opener = backend
    store = opener()
    try:
        tenant_store = TenantVectorStore(store, "ta")
        node = _node_of(chunk("ta", "d1", 0, "the drip tray holds 900 millilitres"))
        tenant_store.add([node])
        result = tenant_store.query(
            VectorStoreQuery(
                query_embedding=embed("drip tray"),
                query_str="drip tray",
                similarity_top_k=2,
                mode=VectorStoreQueryMode.HYBRID,
            )
        )
        assert [n.get_content() for n in result.nodes] == [node.text]
        assert (
            TenantVectorStore(store, "tb")
            .query(VectorStoreQuery(query_embedding=embed("drip tray"), similarity_top_k=2))
            .nodes
            == []
        )
    finally:
        store.close()


def test_sharing_between_processes(backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A server is shared by every process; local mode, like Edge, belongs to one."""
    kind, opener = backend
    first = opener()
    try:
        if kind == "local":
            with pytest.raises(RuntimeError, match="already accessed by another instance"):
                opener()
            return
        second = opener()  # another client (as another process would have)
        errors: list[Exception] = []

        def write(n: int) -> None:
            try:
                second.upsert(
                    "ta", [chunk("ta", f"w{n}", i, f"writer {n} part {i}") for i in range(5)]
                )
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert not errors and first.count("ta") == 20
        info = first.client.get_collection(first.collection)
        # What local mode ignores, the server must keep: the tenant index and per-tenant HNSW.
        assert info.payload_schema["tenant_id"].params.is_tenant
        assert info.config.hnsw_config.m == HNSW_M
        assert info.config.hnsw_config.payload_m == HNSW_PAYLOAD_M
        second.close()
    finally:
        first.close()
