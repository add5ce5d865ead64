"""Durable ingestion on SQLite and PostgreSQL: upload -> job -> parse/chunk/embed/index."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import NotFoundError, session_scope
from app.models import Document, DocumentStatus, IngestJob, JobStatus
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import IngestConfig, JobRunner, requeue_orphans, stored_file
from app.rag.store import EdgeStore
from app.services import accounts, documents
from app.settings import Settings
from tests.unit import hostile_files

ROOT = Path(__file__).resolve().parents[2]
PARAGRAPH = (
    "The Aurora 3000 espresso machine heats water to 93 degrees Celsius in forty seconds. "
    "Descale it every two months with the supplied citric acid tablets. "
    "The drip tray holds 900 millilitres and must be emptied when the red float appears. "
)


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@dataclass
class Env:
    engine: Engine
    settings: Settings
    store: EdgeStore
    runner: JobRunner
    tenant: str
    other_tenant: str


@pytest.fixture
def env(engine: Engine, tmp_path: Path, embedder: LocalEmbedder) -> Iterator[Env]:
    settings = Settings(data_dir=tmp_path / "data", max_upload_mb=2)
    store = EdgeStore(settings.qdrant_path)
    runner = JobRunner(
        engine,
        store,
        embedder,
        IngestConfig(
            files_dir=settings.files_dir,
            max_upload_bytes=settings.max_upload_bytes,
            progress_interval_s=0.0,
        ),
    )
    with session_scope(engine) as s:
        _, a = accounts.sign_up(s, "a@a.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "b@b.io", "a-long-password", "B")
    yield Env(engine, settings, store, runner, a.id, b.id)
    store.close()


def doc_row(env: Env, doc_id: str) -> Document:
    return doc_row_engine(env.engine, doc_id)


def upload(env: Env, name: str, data: bytes, tenant: str | None = None) -> str:
    with session_scope(env.engine) as s:
        doc = documents.create_document(
            s, tenant or env.tenant, filename=name, data=data, settings=env.settings
        )
        return doc.id


def test_upload_ingests_to_ready_with_exact_point_count(env: Env) -> None:
    doc_id = upload(env, "aurora.txt", (PARAGRAPH * 40).encode())
    queued = doc_row(env, doc_id)
    assert queued.status == DocumentStatus.queued and queued.progress == 0
    path = stored_file(env.settings.files_dir, env.tenant, doc_id)
    assert path.read_bytes().startswith(b"The Aurora") and env.tenant in str(path)
    assert env.runner.drain() == 1
    ready = doc_row(env, doc_id)
    assert ready.status == DocumentStatus.ready and ready.progress == 100, ready.error
    assert ready.chunk_count > 1 and ready.token_count > 0
    assert env.store.count(env.tenant, doc_id) == ready.chunk_count
    assert env.store.count(env.other_tenant) == 0
    hits = env.store.search_bm25(env.tenant, "descale citric acid", 3)
    assert hits and all(h.document_id == doc_id for h in hits)


def test_progress_moves_through_every_stage(env: Env) -> None:
    seen: list[tuple[str, int, int]] = []
    env.runner.config.on_progress = lambda _d, stage, done, total: seen.append((stage, done, total))
    upload(env, "long.md", ("# Manual\n\n" + PARAGRAPH * 200).encode())
    env.runner.drain()
    stages = [s for s, _, _ in seen]
    for stage in ("parsing", "chunking", "embedding", "indexing", "ready"):
        assert stage in stages
    assert stages.index("parsing") < stages.index("embedding") < stages.index("ready")
    embedding = [(d, t) for s, d, t in seen if s == "embedding" and t]
    assert embedding[-1][0] == embedding[-1][1]  # ends at total


def test_duplicate_content_is_reported_not_indexed_twice(env: Env) -> None:
    data = (PARAGRAPH * 5).encode()
    first = upload(env, "a.txt", data)
    with pytest.raises(documents.DuplicateDocumentError) as info:
        upload(env, "copy-of-a.txt", data)
    assert info.value.existing_id == first and info.value.status_code == 409
    # Another workspace may hold the same content.
    upload(env, "a.txt", data, tenant=env.other_tenant)


@pytest.mark.parametrize(
    ("name", "data", "error", "message"),
    [
        ("setup.pdf", b"MZ\x90\x00" + b"\x00" * 200, documents.UnsupportedFileError, "executable"),
        ("big.txt", b"x" * (2 * 1024 * 1024 + 1), documents.UploadTooLargeError, "2 MB"),
        ("empty.txt", b"", documents.DocumentError, "empty"),
        ("tool.exe", b"MZ\x90\x00", documents.UnsupportedFileError, "unsupported file type"),
    ],
)
def test_bad_uploads_are_refused_up_front(
    env: Env, name: str, data: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        upload(env, name, data)
    with session_scope(env.engine) as s:
        assert s.exec(select(Document)).all() == []


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("bomb.docx", hostile_files.make_docx_zip_bomb, "zip bomb"),
        ("entities.docx", hostile_files.make_docx_entity_bomb, "entit|DOCTYPE|unsafe"),
        ("scan.pdf", hostile_files.make_scanned_pdf, "no extractable text"),
        ("locked.pdf", hostile_files.make_encrypted_pdf, "password"),
    ],
)
def test_hostile_files_end_failed_with_a_reason(env: Env, name: str, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    doc_id = upload(env, name, make())
    env.runner.drain()
    row = doc_row(env, doc_id)
    assert row.status == DocumentStatus.failed
    assert row.error and re.search(reason, row.error, re.I), row.error
    assert env.store.count(env.tenant, doc_id) == 0
    # The worker carries on with the next document.
    ok = upload(env, "fine.txt", (PARAGRAPH * 3).encode())
    env.runner.drain()
    assert doc_row(env, ok).status == DocumentStatus.ready


def test_pasted_text_reindex_and_delete(env: Env) -> None:
    with session_scope(env.engine) as s:
        doc = documents.create_text_document(
            s, env.tenant, title="Returns policy", text=PARAGRAPH * 30, settings=env.settings
        )
        doc_id = doc.id
    env.runner.drain()
    chunks = doc_row(env, doc_id).chunk_count
    assert doc_row(env, doc_id).kind == "txt" and chunks > 0
    with session_scope(env.engine) as s:
        documents.requeue(s, env.tenant, doc_id)
    env.runner.drain()
    assert doc_row(env, doc_id).status == DocumentStatus.ready
    assert env.store.count(env.tenant, doc_id) == chunks  # replaced, not duplicated
    with session_scope(env.engine) as s, pytest.raises(NotFoundError):
        documents.delete_document(
            s, env.other_tenant, doc_id, store=env.store, settings=env.settings
        )
    with session_scope(env.engine) as s:
        documents.delete_document(s, env.tenant, doc_id, store=env.store, settings=env.settings)
    assert env.store.count(env.tenant, doc_id) == 0
    assert not stored_file(env.settings.files_dir, env.tenant, doc_id).exists()
    with session_scope(env.engine) as s:
        assert s.get(Document, doc_id) is None
        assert s.exec(select(IngestJob)).all() == []


def test_transient_failure_is_retried_with_backoff(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc_id = upload(env, "flaky.txt", (PARAGRAPH * 3).encode())
    real = env.store.upsert
    calls = {"n": 0}

    def flaky(tenant_id, chunks):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("vector store unavailable")
        return real(tenant_id, chunks)

    monkeypatch.setattr(env.store, "upsert", flaky)
    env.runner.drain()
    row = doc_row(env, doc_id)
    assert row.status == DocumentStatus.queued and "Retrying" in row.step
    with session_scope(env.engine) as s:
        job = s.exec(select(IngestJob)).one()
        assert job.status == JobStatus.queued and job.attempts == 1
        job.next_attempt_at = job.created_at  # skip the backoff wait
        s.add(job)
    env.runner.drain()
    assert doc_row(env, doc_id).status == DocumentStatus.ready


def test_documents_of_another_tenant_are_not_found(env: Env) -> None:
    doc_id = upload(env, "a.txt", (PARAGRAPH * 2).encode())
    with session_scope(env.engine) as s:
        with pytest.raises(NotFoundError):
            documents.get_document(s, env.other_tenant, doc_id)
        with pytest.raises(NotFoundError):
            documents.requeue(s, env.other_tenant, doc_id)
        assert documents.list_documents(s, env.other_tenant).total == 0
        page = documents.list_documents(s, env.tenant, search="a")
        assert [d.id for d in page.items] == [doc_id] and page.total == 1


@pytest.mark.slow
def test_kill_during_embedding_then_resume_indexes_exactly_once(
    engine: Engine, tmp_path: Path, embedder: LocalEmbedder
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough for the process-kill path (the claim SQL is shared)")
    settings = Settings(data_dir=tmp_path / "data")
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "k@k.io", "a-long-password", "K")
        doc = documents.create_document(
            s,
            tenant.id,
            filename="manual.txt",
            settings=settings,
            data="\n\n".join(f"Section {i}. {PARAGRAPH}" for i in range(260)).encode(),
        )
        doc_id = doc.id
    url = engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.ingest_child",
            url,
            str(settings.qdrant_path),
            str(settings.files_dir),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 300  # model load in a fresh process is slow on busy CI
        while True:
            row = doc_row_engine(engine, doc_id)
            if row.status == DocumentStatus.embedding and row.progress > 25:
                break
            assert row.status != DocumentStatus.ready, "finished before it could be killed"
            assert child.poll() is None, "worker exited before embedding finished"
            assert time.monotonic() < deadline, "worker never reached the embedding stage"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    interrupted = doc_row_engine(engine, doc_id)
    assert interrupted.status == DocumentStatus.embedding and interrupted.progress < 90
    # The app restarts: orphans are requeued and a fresh worker finishes the job.
    assert requeue_orphans(engine) == 1
    store = EdgeStore(settings.qdrant_path)
    try:
        runner = JobRunner(
            engine,
            store,
            embedder,
            IngestConfig(files_dir=settings.files_dir, max_upload_bytes=50 << 20),
        )
        assert runner.drain() == 1
        done = doc_row_engine(engine, doc_id)
        assert done.status == DocumentStatus.ready, done.error
        assert store.count(tenant.id, doc_id) == done.chunk_count
        hits, offset, indexes = [], None, []
        while True:
            page, offset = store.scroll(tenant.id, doc_id, limit=100, offset=offset)
            hits += page
            if offset is None:
                break
        indexes = sorted(h.chunk_index for h in hits)
        assert indexes == list(range(done.chunk_count))  # every chunk once, none twice
    finally:
        store.close()


def doc_row_engine(engine: Engine, doc_id: str) -> Document:
    with session_scope(engine) as s:
        return s.get(Document, doc_id)


def test_small_documents_are_embedded_together(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []
    model = type(env.runner.embedder)
    real = model.embed_array

    def counting(self, texts):  # type: ignore[no-untyped-def]
        batches.append(len(texts))
        return real(self, texts)

    # On the class: LlamaIndex models are pydantic objects, which refuse new attributes.
    monkeypatch.setattr(model, "embed_array", counting)
    good = [upload(env, f"faq-{i}.txt", f"Question {i}: {PARAGRAPH}".encode()) for i in range(6)]
    bad = upload(env, "scan.pdf", hostile_files.make_scanned_pdf())
    assert env.runner.drain() == 7
    assert batches == [6]  # one model call for six one-chunk documents
    for doc_id in good:
        row = doc_row(env, doc_id)
        assert row.status == DocumentStatus.ready and row.chunk_count == 1
        assert env.store.count(env.tenant, doc_id) == 1
    assert doc_row(env, bad).status == DocumentStatus.failed  # only the bad one fails


def test_document_deleted_mid_group_spares_the_others(env: Env) -> None:
    """A document deleted while its group embeds ends only its own job."""
    ids = [upload(env, f"small-{i}.txt", f"Note {i}: {PARAGRAPH}".encode()) for i in range(3)]
    victim = ids[1]

    def delete_victim(document_id: str, stage: str, done: int, total: int) -> None:
        if document_id == victim and stage == "chunking":
            with session_scope(env.engine) as s:
                doc = s.get(Document, victim)
                if doc is not None:
                    s.delete(doc)

    env.runner.config.on_progress = delete_victim
    try:
        assert env.runner.drain() == 3
    finally:
        env.runner.config.on_progress = None
    for doc_id in (ids[0], ids[2]):
        row = doc_row(env, doc_id)
        assert row.status == DocumentStatus.ready and row.chunk_count >= 1
        assert env.store.count(env.tenant, doc_id) == row.chunk_count
    assert doc_row(env, victim) is None
    assert env.store.count(env.tenant, victim) == 0
    with session_scope(env.engine) as s:
        assert not s.exec(select(IngestJob).where(IngestJob.document_id == victim)).all()
