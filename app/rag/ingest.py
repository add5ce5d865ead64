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

The stages themselves live in `app.rag.pipeline` (LlamaIndex reader -> IngestionPipeline
-> tenant-bound vector store); embedding reports each batch, so the document's progress bar
moves while it embeds. A finished document records the (embedding model, vector size) it
was indexed with (`Document.index_model`), so a model switch can re-queue it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode
from llama_index.core.schema import Document as SectionDocument
from sqlalchemy import Engine, or_, update
from sqlmodel import select

from app.db import session_scope
from app.models import Document, DocumentStatus, IngestJob, JobStatus, utcnow
from app.rag.ingest_threads import Heartbeat, WorkerPool
from app.rag.parsing import ParseError
from app.rag.pipeline import DocumentPipeline
from app.rag.readers import SandboxedFileReader
from app.rag.store import TenantVectorStore, VectorStore, space_key

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "ingest worker: claims and bookkeeping of every workspace's jobs"

__all__ = ["IngestConfig", "JobRunner", "WorkerPool", "requeue_orphans", "stored_file"]

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
# Documents up to this size are claimed and embedded in groups of up to GROUP_MAX.
SMALL_DOCUMENT_BYTES = 64 * 1024
GROUP_MAX = 16


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


@dataclass
class _Job:
    """One claimed job while its group runs."""

    job_id: str
    tenant_id: str
    document_id: str
    title: str
    filename: str
    attempts: int
    max_attempts: int
    progress: _ProgressWriter
    keep_title: bool = True  # False: the file's own title (metadata, first heading) wins
    url: str | None = None  # a crawled page's address: every chunk keeps it
    documents: list[SectionDocument] = field(default_factory=list)
    nodes: list[BaseNode] = field(default_factory=list)
    embedded: int = 0


def title_is_default(title: str, filename: str) -> bool:
    """True when the title is still the one made up from the file name at upload."""
    stem = PurePosixPath(filename or "").stem
    return bool(stem) and " ".join(title.split()) == " ".join(stem.split())


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
        embedder: BaseEmbedding,
        config: IngestConfig,
        worker_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.store = store
        self.embedder = embedder
        self.config = config
        self.worker_id = worker_id or worker_identity()
        reader = SandboxedFileReader(
            max_bytes=config.max_upload_bytes,
            timeout_s=config.parse_timeout_s,
            memory_mb=config.parse_memory_mb,
        )
        self.pipeline = DocumentPipeline(reader, embedder)
        # What documents indexed here are recorded as (the store holds only this space).
        space = getattr(embedder, "vector_space", embedder.model_name)
        self.index_model = space_key(space, store.dim)

    # ---- claiming -------------------------------------------------------------------

    def _claimable(self):  # type: ignore[no-untyped-def]
        now = utcnow()
        stale = now - timedelta(seconds=self.config.stale_after_s)
        return or_(
            (IngestJob.status == JobStatus.queued) & (IngestJob.next_attempt_at <= now),
            (IngestJob.status == JobStatus.running) & (IngestJob.heartbeat_at < stale),
        )

    def claim(self, *, small_only: bool = False) -> str | None:
        """Atomically take the oldest runnable job; None when there is nothing to do.

        `small_only` restricts the choice to documents under SMALL_DOCUMENT_BYTES (the
        ones worth embedding together with others).
        """
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            query = select(IngestJob.id).where(self._claimable())
            if small_only:
                query = query.join(Document, Document.id == IngestJob.document_id).where(
                    Document.size_bytes <= SMALL_DOCUMENT_BYTES
                )
            candidates = s.exec(query.order_by(IngestJob.created_at).limit(5)).all()
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

    def claim_group(self) -> list[str]:
        """One job, plus up to GROUP_MAX - 1 more when they are all small documents.

        Small documents give the model batches of one or two chunks, which run at about
        half the speed of full batches; embedding a group together keeps batches full.
        """
        first = self.claim()
        if first is None:
            return []
        group = [first]
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = s.get(IngestJob, first)
            doc = s.get(Document, job.document_id) if job else None
            small = doc is not None and doc.size_bytes <= SMALL_DOCUMENT_BYTES
        while small and len(group) < GROUP_MAX:
            nxt = self.claim(small_only=True)
            if nxt is None:
                break
            group.append(nxt)
        return group

    def run_once(self) -> bool:
        group = self.claim_group()
        if not group:
            return False
        self.run_group(group)
        return True

    def drain(self, max_jobs: int = 1000) -> int:
        """Run jobs until none is runnable (tests, CLI); returns how many ran."""
        done = 0
        while done < max_jobs:
            group = self.claim_group()
            if not group:
                break
            self.run_group(group)
            done += len(group)
        return done

    def run(self, job_id: str) -> None:
        self.run_group([job_id])

    def release(self) -> int:
        """Give this worker's running jobs back to the queue, uncounted (a stop that could
        not wait for them). Returns how many were released; a later progress write of ours
        then finds the job no longer ours and stops (JobTakenOverError)."""
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            result = s.exec(  # type: ignore[call-overload]
                update(IngestJob)
                .where(IngestJob.worker_id == self.worker_id, IngestJob.status == JobStatus.running)
                .values(
                    status=JobStatus.queued,
                    worker_id=None,
                    next_attempt_at=utcnow(),
                    attempts=IngestJob.attempts - 1,
                    updated_at=utcnow(),
                )
            )
            return int(result.rowcount or 0)

    # ---- running --------------------------------------------------------------------

    def _open(self, job_id: str) -> _Job | None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = s.get(IngestJob, job_id)
            if job is None:
                return None
            doc = s.get(Document, job.document_id)
            if doc is None:
                s.delete(job)
                return None
            ctx = _Job(
                job_id,
                job.tenant_id,
                doc.id,
                doc.title,
                doc.filename or doc.title,
                job.attempts,
                job.max_attempts,
                _ProgressWriter(self, job_id, doc.id),
                keep_title=not title_is_default(doc.title, doc.filename),
                url=doc.source_url or None,
            )
        if ctx.attempts > ctx.max_attempts:
            self._fail(job_id, ctx.document_id, f"Gave up after {ctx.max_attempts} attempts.")
            return None
        return ctx

    def run_group(self, job_ids: list[str]) -> None:
        """parse each, split and embed all together, then index and finish each."""
        with Heartbeat(self, job_ids):
            self._run_group(job_ids)

    def _run_group(self, job_ids: list[str]) -> None:
        started = time.perf_counter()
        ready: list[_Job] = []
        for job_id in job_ids:
            ctx = self._open(job_id)
            if ctx is None:
                continue
            try:
                ctx.documents = self._load(ctx)
                ready.append(ctx)
            except Exception as exc:
                self._handle(ctx, exc)
        ready = self._transform_group(ready)
        for ctx in ready:
            try:
                if not ctx.nodes:
                    raise ParseError("No extractable text.")
                counts = self._index(ctx)
            except Exception as exc:
                self._handle(ctx, exc)
                continue
            self._finish(ctx, counts)
            log.info(
                "document ready",
                extra={
                    "tenant_id": ctx.tenant_id,
                    "latency_ms": round((time.perf_counter() - started) * 1000),
                },
            )

    def _transform_group(self, ready: list[_Job]) -> list[_Job]:
        """Split and embed the group; the jobs that are still this worker's to finish.

        A document deleted (or a job taken over) mid-run concerns that one job only: it is
        handled, and the others run again without it (their vectors come from the
        embedding cache). Any other failure is every member's, retried with backoff.
        """
        while ready:
            for ctx in ready:
                ctx.nodes, ctx.embedded = [], 0
            try:
                self._transform(ready)
                return ready
            except (DocumentGoneError, JobTakenOverError) as exc:
                gone = [c for c in ready if exc.args and exc.args[0] in (c.document_id, c.job_id)]
                for ctx in gone or ready:
                    self._handle(ctx, exc)
                ready = [c for c in ready if c not in gone] if gone else []
            except Exception as exc:
                for ctx in ready:
                    self._handle(ctx, exc)
                return []
        return []

    def _load(self, ctx: _Job) -> list[SectionDocument]:
        ctx.progress.stage(DocumentStatus.parsing, f"Parsing {ctx.filename}")
        path = stored_file(self.config.files_dir, ctx.tenant_id, ctx.document_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise ParseError("The stored file is missing; upload it again.") from exc
        return self.pipeline.load(
            data,
            ctx.filename,
            tenant_id=ctx.tenant_id,
            document_id=ctx.document_id,
            title=ctx.title if ctx.keep_title else None,
            url=ctx.url,
        )

    def _transform(self, group: list[_Job]) -> None:
        """One IngestionPipeline run over the whole group's Documents."""
        by_id = {ctx.document_id: ctx for ctx in group}
        documents: list[SectionDocument] = []
        for ctx in group:
            ctx.progress.stage(DocumentStatus.chunking, "Splitting into chunks")
            documents.extend(ctx.documents)

        def on_split(nodes: Sequence[BaseNode]) -> None:
            for node in nodes:
                by_id[node.metadata["document_id"]].nodes.append(node)
            for ctx in group:
                if ctx.nodes:
                    ctx.progress.stage(
                        DocumentStatus.embedding, f"Embedding 0/{len(ctx.nodes)} chunks"
                    )

        def on_progress(batch: Sequence[BaseNode], done: int, total: int) -> None:
            touched: set[str] = set()
            for node in batch:
                doc_id = node.metadata["document_id"]
                by_id[doc_id].embedded += 1
                touched.add(doc_id)
            for doc_id in touched:
                ctx = by_id[doc_id]
                ctx.progress.embedding(ctx.embedded, len(ctx.nodes))

        self.pipeline.transform(documents, on_split=on_split, on_progress=on_progress)

    def _index(self, ctx: _Job) -> tuple[int, int]:
        total = len(ctx.nodes)
        ctx.progress.stage(DocumentStatus.indexing, f"Indexing {total} chunks")
        # Drop whatever an earlier attempt or version wrote, then write this version.
        self.pipeline.write(
            TenantVectorStore(self.store, ctx.tenant_id), ctx.document_id, ctx.nodes
        )
        ctx.progress.check_alive()
        return total, sum(int(n.metadata.get("token_count") or 0) for n in ctx.nodes)

    def _handle(self, ctx: _Job, exc: Exception) -> None:
        """One failed document: its outcome depends on what went wrong."""
        if isinstance(exc, JobTakenOverError):
            log.warning("job taken over by another worker", extra={"tenant_id": ctx.tenant_id})
        elif isinstance(exc, DocumentGoneError):
            TenantVectorStore(self.store, ctx.tenant_id).delete(ctx.document_id)
            with session_scope(self.engine, system=_CROSS_TENANT) as s:
                job = s.get(IngestJob, ctx.job_id)
                if job is not None:
                    s.delete(job)
        elif isinstance(exc, ParseError):
            self._fail(ctx.job_id, ctx.document_id, str(exc))
        else:  # anything else may be transient: retry with backoff
            log.error(
                "ingestion attempt failed: %s",
                type(exc).__name__,
                extra={"tenant_id": ctx.tenant_id},
                exc_info=exc,
            )
            self._retry_or_fail(ctx.job_id, ctx.document_id, ctx.attempts, ctx.max_attempts, exc)

    # ---- outcomes -------------------------------------------------------------------

    def _finish(self, ctx: _Job, counts: tuple[int, int]) -> None:
        job_id, document_id = ctx.job_id, ctx.document_id
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            doc = s.get(Document, document_id)
            job = s.get(IngestJob, job_id)
            if doc is not None:
                doc.status, doc.progress, doc.error = DocumentStatus.ready, 100, None
                doc.chunk_count, doc.token_count = counts
                doc.step = f"Ready: {counts[0]} chunks"
                doc.index_model = self.index_model
                found = ctx.nodes[0].metadata.get("title") if ctx.nodes else None
                if not ctx.keep_title and found and title_is_default(doc.title, doc.filename):
                    doc.title = str(found)[:300]
                s.add(doc)
            if job is not None:
                job.status, job.stage, job.error = JobStatus.done, DocumentStatus.ready, None
                s.add(job)
        self._notify(document_id, DocumentStatus.ready.value, 100, 100)

    def _fail(self, job_id: str, document_id: str, reason: str) -> None:
        reason = reason[:1000]
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
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
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
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
        with session_scope(self.runner.engine, system=_CROSS_TENANT) as s:
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
    with session_scope(engine, system=_CROSS_TENANT) as s:
        result = s.exec(  # type: ignore[call-overload]
            update(IngestJob)
            .where(IngestJob.status == JobStatus.running)
            .values(status=JobStatus.queued, worker_id=None, next_attempt_at=utcnow())
        )
        return int(result.rowcount or 0)
