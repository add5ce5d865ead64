"""Embedding providers change safely (issue 11 item 6), on SQLite and PostgreSQL.

OpenAI embeddings end to end against a local server speaking `/v1/embeddings`
(tests/support/fake_openai_embeddings.py), through the real openai SDK inside LlamaIndex's
`OpenAIEmbedding`: upload -> IngestionPipeline job -> its own 1536-dim collection ->
HybridRetriever. Then a switch back to the local model re-queues the document through a
durable job, into the local model's collection; the two never share vectors.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import Document, DocumentStatus, IngestJob, JobStatus
from app.rag.embedding import LocalEmbedder, OpenAIEmbedder
from app.rag.embedding_cache import CachedEmbedder, MemoryEmbeddingCache
from app.rag.ingest import IngestConfig, JobRunner
from app.rag.retriever import HybridRetriever
from app.rag.store import TenantVectorStore, VectorStore, open_store, space_key
from app.rag.types import Chunk
from app.services import accounts, documents
from app.services.ingestion import purge_stale_points, requeue_other_models
from app.settings import Settings
from tests.support.fake_openai_embeddings import FakeEmbeddings

FAQ = b"""# Coffee shop FAQ

## Brewing

### Pour-over
Use 15 grams of coffee for 250 millilitres of water at 94 degrees.

## Shipping
Orders ship within 3 to 5 business days. Standard shipping is free over 45 dollars.
"""


@pytest.fixture(scope="module")
def server() -> Iterator[FakeEmbeddings]:
    with FakeEmbeddings(dim=1536, topical=True) as fake:
        yield fake


def _runner(engine: Engine, store: VectorStore, embedder, settings: Settings) -> JobRunner:  # type: ignore[no-untyped-def]
    config = IngestConfig(files_dir=settings.files_dir, max_upload_bytes=settings.max_upload_bytes)
    return JobRunner(engine, store, embedder, config)


def test_openai_embeddings_end_to_end_then_switch_back(
    engine: Engine, tmp_path: Path, server: FakeEmbeddings
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    openai = CachedEmbedder(
        OpenAIEmbedder(api_key="sk-test", base_url=server.url), MemoryEmbeddingCache()
    )
    assert openai.dim == 1536 and openai.vector_space == "text-embedding-3-small"
    openai_store = open_store(settings, dim=openai.dim, vector_space=openai.vector_space)
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "o@o.io", "a-long-password", "O")
        doc = documents.create_document(
            s, tenant.id, filename="faq.md", data=FAQ, settings=settings
        )
        tenant_id, doc_id = tenant.id, doc.id
    try:
        assert _runner(engine, openai_store, openai, settings).drain() == 1
        with session_scope(engine) as s:
            row = s.get(Document, doc_id)
            assert row.status == DocumentStatus.ready, row.error
            assert row.index_model == "text-embedding-3-small:1536"
            assert row.title == "Coffee shop FAQ"  # the file's own heading, not "faq"
        # Every text went through the protocol server, newline-for-newline.
        sent = server.embedded_texts()
        assert any("Orders ship within 3 to 5 business days." in t for t in sent)
        assert all(r["auth"] == "Bearer sk-test" for r in server.requests)
        # The heading-only "Brewing" section is not indexed alone.
        stored, _ = openai_store.scroll(tenant_id, doc_id)
        assert stored and all(h.text.strip() not in ("Brewing", "Coffee shop FAQ") for h in stored)
        assert any("Brewing\nPour-over\nUse 15 grams" in h.text for h in stored)
        retriever = HybridRetriever(TenantVectorStore(openai_store, tenant_id), openai, top_k=2)
        top = retriever.retrieve("how many business days does shipping take")[0]
        assert "3 to 5 business days" in top.node.get_content()
        assert top.node.metadata["dense_score"] is not None

        # Switch to the local model: the document is re-queued and re-indexed by a job.
        local = LocalEmbedder()
        local_store = open_store(settings, dim=local.dim, vector_space=local.vector_space)
        try:
            local_key = space_key(local.vector_space, local.dim)
            assert local_store.count(tenant_id) == 0
            # Left over from an earlier stint on this model: a document since deleted.
            stale = Chunk(tenant_id, "deleted-doc", 0, "stale text", vector=[0.1] * 384)
            local_store.upsert(tenant_id, [stale])
            assert requeue_other_models(engine, local_key) == 1
            assert requeue_other_models(engine, local_key) == 0  # its job is already queued
            assert purge_stale_points(engine, local_store, page=1) == 1
            assert local_store.count(tenant_id) == 0
            with session_scope(engine) as s:
                job = s.exec(
                    select(IngestJob).where(
                        IngestJob.document_id == doc_id, IngestJob.status == JobStatus.queued
                    )
                ).one()
                assert job.tenant_id == tenant_id
            assert _runner(engine, local_store, local, settings).drain() == 1
            with session_scope(engine) as s:
                assert s.get(Document, doc_id).index_model == local_key
            assert local_store.count(tenant_id) == openai_store.count(tenant_id) > 0
            # Never mixed: each collection has its own size, and the local retriever
            # cannot be pointed at the OpenAI collection.
            assert (local_store.dim, openai_store.dim) == (384, 1536)
            with pytest.raises(ValueError, match="dim"):
                HybridRetriever(TenantVectorStore(openai_store, tenant_id), local)
            hits = HybridRetriever(TenantVectorStore(local_store, tenant_id), local).retrieve(
                "how long does shipping take"
            )
            assert "3 to 5 business days" in hits[0].node.get_content()
        finally:
            local_store.close()
    finally:
        openai_store.close()


def test_legacy_rows_count_as_the_local_model(engine: Engine, tmp_path: Path) -> None:
    """Rows indexed before index_model existed were indexed with MiniLM: no re-index."""
    settings = Settings(data_dir=tmp_path / "data")
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "l@l.io", "a-long-password", "L")
        doc = documents.create_document(
            s, tenant.id, filename="a.txt", data=b"hello there", settings=settings
        )
        doc.status = DocumentStatus.ready
        for job in s.exec(select(IngestJob).where(IngestJob.document_id == doc.id)):
            job.status = JobStatus.done
            s.add(job)
        s.add(doc)
    local_key = space_key("sentence-transformers/all-MiniLM-L6-v2", 384)
    assert requeue_other_models(engine, local_key) == 0
    assert requeue_other_models(engine, "text-embedding-3-small:1536") == 1
