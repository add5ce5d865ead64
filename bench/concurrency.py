"""Part 4: chat query latency while the real durable ingestion runs.

Everything as the app wires it, in a temporary DATA_DIR with its own SQLite database:
documents are created with `create_document` (SciFact abstracts as .txt uploads), jobs run
through `JobRunner` (sandboxed parse_file, chunking, embedding via
`get_embedder(settings, torch_threads=ingest_torch_threads())` with a fresh SQLite
embedding cache, EdgeStore upsert) inside a `WorkerPool` thread (which lowers its own nice
value). The main thread meanwhile runs chat-style queries: the query is embedded with the
query embedder as chat configures it (`torch_threads=QUERY_TORCH_THREADS`) and
retrieved with `HybridRetriever` (hybrid),
with a short pause between queries like a stream of chat turns.
Idle latency is measured on the same index just before and just after the ingestion.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from app.db import make_engine, run_migrations, session_scope
from app.rag.embedding import get_embedder
from app.rag.ingest import IngestConfig, JobRunner, WorkerPool
from app.rag.retriever import Fusion, retriever_factory
from app.rag.store import EdgeStore
from app.services.accounts import sign_up
from app.services.documents import create_document
from app.services.ingestion import ingest_torch_threads
from app.services.vectors import QUERY_TORCH_THREADS
from app.settings import Settings
from bench.common import (
    ChildMemorySampler,
    CorpusDoc,
    Stopwatch,
    children_peak_rss_mb,
    log,
    percentiles_ms,
)

QUERY_GAP_S = 0.1
TOP_K = 8
MAX_INGEST_WAIT_S = 1200.0


class _Finished:
    """Counts documents that reached `ready` or `failed` (IngestConfig.on_progress hook)."""

    def __init__(self) -> None:
        self.ready = 0
        self.failed = 0
        self._lock = threading.Lock()

    def __call__(self, document_id: str, stage: str, done: int, total: int) -> None:
        with self._lock:
            if stage == "ready":
                self.ready += 1
            elif stage == "failed":
                self.failed += 1

    @property
    def total(self) -> int:
        return self.ready + self.failed


class _TimedQueries:
    """Wraps the query embedder to record how long each embed_query took."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.seconds: list[float] = []

    def embed_query(self, text: str) -> list[float]:
        t0 = time.perf_counter()
        try:
            return self.inner.embed_query(text)
        finally:
            self.seconds.append(time.perf_counter() - t0)


def _settings(data_dir: Path) -> Settings:
    url = f"sqlite:///{(data_dir / 'chatconnect.db').resolve()}"
    return Settings(data_dir=data_dir, database_url=url, _env_file=None)  # type: ignore[call-arg]


def _enqueue(engine: Any, settings: Settings, tenant_id: str, docs: list[CorpusDoc]) -> None:
    with session_scope(engine) as session:
        for doc in docs:
            create_document(
                session,
                tenant_id,
                filename=f"{doc.id}.txt",
                data=doc.full_text.encode("utf-8"),
                title=doc.title,
                settings=settings,
            )


def _time_queries(
    retriever_for: Any, tenant_id: str, queries: itertools.cycle, n: int
) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        retriever_for(tenant_id, top_k=TOP_K).retrieve(next(queries))
        times.append(time.perf_counter() - t0)
        time.sleep(QUERY_GAP_S)
    return times


def measure_concurrent(
    seed_docs: list[CorpusDoc],
    ingest_docs: list[CorpusDoc],
    queries: list[str],
    idle_queries: int,
    fusion: dict[str, Any],
    workdir: Path,
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(dir=workdir))
    settings = _settings(data_dir)
    url = settings.resolved_database_url
    run_migrations(url=url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        _, tenant = sign_up(session, "bench@example.com", "bench-password-123", "Bench")
        tenant_id = tenant.id
    store = EdgeStore(settings.qdrant_path)
    finished = _Finished()
    config = IngestConfig(
        files_dir=settings.files_dir,
        max_upload_bytes=settings.max_upload_bytes,
        on_progress=finished,
    )
    threads = ingest_torch_threads()
    ingest_embedder = get_embedder(settings, torch_threads=threads)
    # As app.services.chat configures chat queries: one intra-op thread.
    query_embedder = _TimedQueries(get_embedder(settings, torch_threads=QUERY_TORCH_THREADS))
    how: Fusion = fusion.get("fusion", "rrf")
    retriever = retriever_factory(
        store, query_embedder, fusion=how, alpha=fusion.get("alpha", 0.5), rrf_k=fusion.get("k", 60)
    )

    def make_runner() -> JobRunner:
        return JobRunner(engine, store, ingest_embedder, config)

    # Seed the tenant so queries have something to find, without timing anything.
    _enqueue(engine, settings, tenant_id, seed_docs)
    make_runner().drain()
    cycle = itertools.cycle(queries)
    retriever(tenant_id, top_k=TOP_K).retrieve("warm up")
    query_embedder.seconds.clear()
    idle_before = _time_queries(retriever, tenant_id, cycle, idle_queries)
    embed_idle = list(query_embedder.seconds)
    log(f"  idle before: {len(idle_before)} queries")

    _enqueue(engine, settings, tenant_id, ingest_docs)
    target = len(seed_docs) + len(ingest_docs)
    pool = WorkerPool(make_runner, threads=1, poll_s=0.2)
    during: list[float] = []
    query_embedder.seconds.clear()
    with Stopwatch() as sw, ChildMemorySampler() as children:
        pool.start()
        pool.wake()
        deadline = time.monotonic() + MAX_INGEST_WAIT_S
        while finished.total < target and time.monotonic() < deadline:
            during.extend(_time_queries(retriever, tenant_id, cycle, 1))
    pool.stop()
    embed_during = list(query_embedder.seconds)
    query_embedder.seconds.clear()
    log(
        f"  ingestion of {len(ingest_docs)} documents took {sw.seconds:.1f}s; {len(during)} queries"
    )
    idle_after = _time_queries(retriever, tenant_id, cycle, idle_queries)
    embed_idle += query_embedder.seconds
    chunks = store.count(tenant_id)
    store.close()
    engine.dispose()

    idle = percentiles_ms(idle_before + idle_after)
    busy = percentiles_ms(during)
    return {
        "documents_seeded": len(seed_docs),
        "documents_ingested_during": len(ingest_docs),
        "documents_failed": finished.failed,
        "documents_unfinished": target - finished.total,
        "chunks_in_index_at_end": chunks,
        "ingest_seconds": round(sw.seconds, 2),
        "ingest_documents_per_s": round(len(ingest_docs) / sw.seconds, 2),
        "ingest_torch_threads": threads,
        "worker_nice": pool.nice,
        "query": f"HybridRetriever(top_k={TOP_K}).retrieve, fusion {fusion}",
        "query_gap_s": QUERY_GAP_S,
        "idle": idle,
        "idle_before": percentiles_ms(idle_before),
        "idle_after": percentiles_ms(idle_after),
        "during_ingest": busy,
        "p95_during_vs_idle_ratio": round(busy["p95_ms"] / idle["p95_ms"], 3),
        "p50_during_vs_idle_ratio": round(busy["p50_ms"] / idle["p50_ms"], 3),
        # The query-embedding share of each query (it waits for the model lock, which an
        # ingestion batch holds for the length of one encode call).
        "query_embed_idle": percentiles_ms(embed_idle),
        "query_embed_during_ingest": percentiles_ms(embed_during),
        "parse_children_sampled": children.summary(),
        "children_peak_rss_mb_getrusage": children_peak_rss_mb(),
        "children_getrusage_note": (
            "RUSAGE_CHILDREN ru_maxrss charges each vfork+exec child with the parent's "
            "high-water RSS, so it reports this process's size, not the sandbox's"
        ),
    }
