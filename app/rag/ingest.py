"""Durable ingestion: Document + IngestJob rows drive parse -> chunk -> embed -> index.

Job state lives in the database, so any process can resume any job:
- a worker claims a job with a compare-and-set UPDATE (safe across threads and processes,
  on SQLite and PostgreSQL alike) and keeps a heartbeat while it works;
- a job whose worker died (status `running`, heartbeat older than `stale_after_s`) is
  claimable again; a one-process deployment requeues its own orphans at startup;
- re-running a job is idempotent: point ids are uuid5(tenant, document, chunk), and the
  document's old points are dropped before the new ones are written, so a document is
  indexed exactly once however often its job restarts;
- a file the parser rejects fails at once with the parser's reason (retrying cannot help);
  anything else (a store or model hiccup) is retried with backoff, then fails.

The stages themselves live in `app.rag.pipeline`; embedding runs batch by batch so the
document's progress bar moves while it embeds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, or_, update
from sqlmodel import select

from app.db import session_scope
from app.models import Document, DocumentStatus, IngestJob, JobStatus, utcnow
from app.rag.embedding import Embedder
from app.rag.parsing import ParseError, parse_file
from app.rag.pipeline import chunk_parsed, embed_chunks
from app.rag.store import VectorStore

log = logging.getLogger("chatconnect.ingest")

# Where each stage sits on the document's 0-100 progress bar.
PROGRESS = {
    DocumentStatus.queued: 0,
    DocumentStatus.parsing: 5,
    DocumentStatus.chunking: 15,
    DocumentStatus.embedding: 20,
    DocumentStatus.indexing: 90,
    DocumentStatus.ready: 100,
}
EMBED_BATCH = 64
RETRY_BASE_S = 5


class DocumentGoneError(RuntimeError):
    """The document was deleted while its job ran."""


class JobTakenOverError(RuntimeError):
    """Another worker claimed this job (we were presumed dead): stop without side effects."""


@dataclass
class IngestConfig:
    files_dir: Path
    max_upload_bytes: int
    parse_timeout_s: float = 120.0
    parse_memory_mb: int = 1024
    stale_after_s: float = 60.0
    progress_interval_s: float = 0.5
    # Test hook: called with (document_id, stage, done, total) after each progress write.
    on_progress: Callable[[str, str, int, int], None] | None = field(default=None, repr=False)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def stored_file(files_dir: Path, tenant_id: str, document_id: str) -> Path:
    """Originals live under DATA_DIR/files/<tenant>/, never in a served folder."""
    return files_dir / tenant_id / f"{document_id}.bin"


class JobRunner:
    """Claims and runs ingestion jobs; one instance per worker thread or process."""

    def __init__(
        self,
        engine: Engine,
        store: VectorStore,
        embedder: Embedder,
        config: IngestConfig,
        worker_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.embedder = embedder
        self.config = config
        self.worker_id = worker_id or worker_identity()

    # ---- claiming -------------------------------------------------------------------

    def _claimable(self):  # type: ignore[no-untyped-def]
        now = utcnow()
        stale = now - timedelta(seconds=self.config.stale_after_s)
        return or_(
            (IngestJob.status == JobStatus.queued) & (IngestJob.next_attempt_at <= now),
            (IngestJob.status == JobStatus.running) & (IngestJob.heartbeat_at < stale),
        )

    def claim(self) -> str | None:
        """Atomically take the oldest runnable job; None when there is nothing to do."""
        with session_scope(self.engine) as s:
            candidates = s.exec(
                select(IngestJob.id)
                .where(self._claimable())
                .order_by(IngestJob.created_at)
                .limit(5)
            ).all()
            for job_id in candidates:
                result = s.exec(  # type: ignore[call-overload]
                    update(IngestJob)
                    .where(IngestJob.id == job_id, self._claimable())
                    .values(
                        status=JobStatus.running,
                        worker_id=self.worker_id,
                        heartbeat_at=utcnow(),
                        attempts=IngestJob.attempts + 1,
                        updated_at=utcnow(),
                    )
                )
                if result.rowcount == 1:
                    return job_id
        return None

    def run_once(self) -> bool:
        job_id = self.claim()
        if job_id is None:
            return False
        self.run(job_id)
        return True

    def drain(self, max_jobs: int = 1000) -> int:
        """Run jobs until none is runnable (tests, CLI)."""
        done = 0
        while done < max_jobs and self.run_once():
            done += 1
        return done

    # ---- running --------------------------------------------------------------------

    def run(self, job_id: str) -> None:
        with session_scope(self.engine) as s:
            job = s.get(IngestJob, job_id)
            if job is None:
                return
            doc = s.get(Document, job.document_id)
            if doc is None:
                s.delete(job)
                return
            tenant_id, document_id, attempts, max_attempts = (
                job.tenant_id,
                doc.id,
                job.attempts,
                job.max_attempts,
            )
            title, filename = doc.title, doc.filename or doc.title
        if attempts > max_attempts:
            self._fail(job_id, document_id, f"Gave up after {max_attempts} attempts.")
            return
        started = time.perf_counter()
        try:
            chunks = self._pipeline(job_id, tenant_id, document_id, title, filename)
        except JobTakenOverError:
            log.warning("job taken over by another worker", extra={"tenant_id": tenant_id})
            return
        except DocumentGoneError:
            self.store.delete_document(tenant_id, document_id)
            with session_scope(self.engine) as s:
                job = s.get(IngestJob, job_id)
                if job is not None:
                    s.delete(job)
            return
        except ParseError as exc:
            self._fail(job_id, document_id, str(exc))
            return
        except Exception as exc:  # anything else may be transient: retry with backoff
            log.exception("ingestion attempt failed", extra={"tenant_id": tenant_id})
            self._retry_or_fail(job_id, document_id, attempts, max_attempts, exc)
            return
        self._finish(job_id, document_id, chunks)
        log.info(
            "document ready",
            extra={
                "tenant_id": tenant_id,
                "latency_ms": round((time.perf_counter() - started) * 1000),
            },
        )

    def _pipeline(
        self, job_id: str, tenant_id: str, document_id: str, title: str, filename: str
    ) -> tuple[int, int]:
        progress = _ProgressWriter(self, job_id, document_id)
        progress.stage(DocumentStatus.parsing, f"Parsing {filename}")
        path = stored_file(self.config.files_dir, tenant_id, document_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ParseError("The stored file is missing; upload it again.") from exc
        parsed = parse_file(
            data,
            filename,
            max_bytes=self.config.max_upload_bytes,
            timeout_s=self.config.parse_timeout_s,
            memory_mb=self.config.parse_memory_mb,
        )
        progress.stage(DocumentStatus.chunking, "Splitting into chunks")
        chunks = chunk_parsed(parsed, tenant_id=tenant_id, document_id=document_id, title=title)
        if not chunks:
            raise ParseError("No extractable text.")
        total = len(chunks)
        progress.stage(DocumentStatus.embedding, f"Embedding 0/{total} chunks")
        for done in embed_chunks(chunks, self.embedder, batch_size=EMBED_BATCH):
            progress.embedding(done, total)
        progress.stage(DocumentStatus.indexing, f"Indexing {total} chunks")
        # Drop whatever an earlier attempt or version wrote, then write this version.
        self.store.delete_document(tenant_id, document_id)
        self.store.upsert(tenant_id, chunks)
        progress.check_alive()
        return total, sum(c.token_count for c in chunks)

    # ---- outcomes -------------------------------------------------------------------

    def _finish(self, job_id: str, document_id: str, counts: tuple[int, int]) -> None:
        with session_scope(self.engine) as s:
            doc = s.get(Document, document_id)
            job = s.get(IngestJob, job_id)
            if doc is not None:
                doc.status, doc.progress, doc.error = DocumentStatus.ready, 100, None
                doc.chunk_count, doc.token_count = counts
                doc.step = f"Ready: {counts[0]} chunks"
                s.add(doc)
            if job is not None:
                job.status, job.stage, job.error = JobStatus.done, DocumentStatus.ready, None
                s.add(job)
        self._notify(document_id, DocumentStatus.ready.value, 100, 100)

    def _fail(self, job_id: str, document_id: str, reason: str) -> None:
        reason = reason[:1000]
        with session_scope(self.engine) as s:
            doc = s.get(Document, document_id)
            job = s.get(IngestJob, job_id)
            if doc is not None:
                doc.status, doc.error, doc.step = DocumentStatus.failed, reason, "Failed"
                s.add(doc)
            if job is not None:
                job.status, job.error, job.stage = JobStatus.failed, reason, DocumentStatus.failed
                s.add(job)
        self._notify(document_id, DocumentStatus.failed.value, 0, 0)

    def _retry_or_fail(
        self, job_id: str, document_id: str, attempts: int, max_attempts: int, exc: Exception
    ) -> None:
        if attempts >= max_attempts:
            self._fail(
                job_id,
                document_id,
                f"Indexing failed after {attempts} attempts ({type(exc).__name__}).",
            )
            return
        delay = RETRY_BASE_S * 2 ** (attempts - 1)
        with session_scope(self.engine) as s:
            job = s.get(IngestJob, job_id)
            doc = s.get(Document, document_id)
            if job is not None:
                job.status, job.error = JobStatus.queued, f"{type(exc).__name__}: {exc}"[:1000]
                job.next_attempt_at = utcnow() + timedelta(seconds=delay)
                job.worker_id = None
                s.add(job)
            if doc is not None:
                doc.status, doc.progress = DocumentStatus.queued, 0
                doc.step = f"Retrying in {delay}s (attempt {attempts + 1} of {max_attempts})"
                s.add(doc)

    def _notify(self, document_id: str, stage: str, done: int, total: int) -> None:
        if self.config.on_progress is not None:
            self.config.on_progress(document_id, stage, done, total)


class _ProgressWriter:
    """Writes stage, progress and heartbeat, at most every `progress_interval_s`."""

    def __init__(self, runner: JobRunner, job_id: str, document_id: str) -> None:
        self.runner = runner
        self.job_id = job_id
        self.document_id = document_id
        self._last = 0.0
        self._stage = DocumentStatus.queued

    def _write(self, stage: DocumentStatus, progress: int, step: str) -> None:
        with session_scope(self.runner.engine) as s:
            doc = s.get(Document, self.document_id)
            job = s.get(IngestJob, self.job_id)
            if doc is None or job is None:
                raise DocumentGoneError(self.document_id)
            if job.worker_id != self.runner.worker_id:
                raise JobTakenOverError(self.job_id)
            doc.status, doc.progress, doc.step = stage, progress, step[:300]
            job.stage, job.heartbeat_at = stage, utcnow()
            s.add(doc)
            s.add(job)
        self._last = time.monotonic()

    def stage(self, stage: DocumentStatus, step: str) -> None:
        self._stage = stage
        self._write(stage, PROGRESS[stage], step)
        self.runner._notify(self.document_id, stage.value, 0, 0)

    def embedding(self, done: int, total: int) -> None:
        if done < total and time.monotonic() - self._last < self.runner.config.progress_interval_s:
            return
        low, high = PROGRESS[DocumentStatus.embedding], PROGRESS[DocumentStatus.indexing]
        pct = low + (high - low) * done // max(total, 1)
        self._write(DocumentStatus.embedding, pct, f"Embedding {done}/{total} chunks")
        self.runner._notify(self.document_id, DocumentStatus.embedding.value, done, total)

    def check_alive(self) -> None:
        self._write(DocumentStatus.indexing, 99, "Finishing")


def requeue_orphans(engine: Engine) -> int:
    """One-process startup: every `running` job belongs to a process that no longer runs."""
    with session_scope(engine) as s:
        result = s.exec(  # type: ignore[call-overload]
            update(IngestJob)
            .where(IngestJob.status == JobStatus.running)
            .values(status=JobStatus.queued, worker_id=None, next_attempt_at=utcnow())
        )
        return int(result.rowcount or 0)


class WorkerPool:
    """Background threads that run jobs; `wake()` after enqueueing skips the poll delay.

    The threads lower their own scheduling priority (Linux: per-thread nice) so that
    ingestion yields the CPU to chat requests on a small machine.
    """

    def __init__(
        self,
        make_runner: Callable[[], JobRunner],
        threads: int = 1,
        poll_s: float = 2.0,
        nice: int = 10,
    ) -> None:
        self.make_runner = make_runner
        self.threads = threads
        self.poll_s = poll_s
        self.nice = nice
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.threads):
            t = threading.Thread(target=self._loop, name=f"ingest-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        self._threads.clear()

    def _loop(self) -> None:
        if self.nice:
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        runner = self.make_runner()
        while not self._stop.is_set():
            try:
                worked = runner.run_once()
            except Exception:  # a broken claim (DB down) must not kill the thread
                log.exception("ingestion worker loop error")
                worked = False
            if not worked:
                self._wake.wait(self.poll_s)
                self._wake.clear()
