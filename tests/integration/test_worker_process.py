"""`python -m app.worker` in process: its refusal without QDRANT_URL and its graceful stop
(finish the group in hand, or hand it back to the queue when the grace time runs out)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app import worker
from app.db import session_scope
from app.models import IngestJob, JobStatus
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import IngestConfig, JobRunner, WorkerPool
from app.rag.store import EdgeStore
from app.services import accounts, documents
from app.settings import Settings


def test_worker_refuses_to_start_without_qdrant_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert worker.main(["run"]) == 2
    err = capsys.readouterr().err
    assert "QDRANT_URL" in err and "belongs to one process" in err


class StuckRunner(JobRunner):
    """Claims like the real runner, then holds the group until the test lets go."""

    entered = threading.Event()
    let_go = threading.Event()

    def _run_group(self, job_ids: list[str]) -> None:
        self.entered.set()
        self.let_go.wait(10)


@pytest.mark.parametrize("grace_s", [0.3, 5.0])
def test_stop_finishes_or_hands_back_the_group(
    engine: Engine, tmp_path: Path, grace_s: float
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "g@g.io", "a-long-password", "G")
        documents.create_document(
            s, tenant.id, filename="a.txt", data=b"Some text to index.", settings=settings
        )
    store = EdgeStore(settings.qdrant_path)
    StuckRunner.entered.clear()
    StuckRunner.let_go.clear()
    config = IngestConfig(files_dir=settings.files_dir, max_upload_bytes=1 << 20)
    pool = WorkerPool(
        lambda: StuckRunner(engine, store, LocalEmbedder(), config), poll_s=0.05, nice=0
    )
    stop = threading.Event()
    codes: list[int] = []
    server = threading.Thread(target=lambda: codes.append(worker.serve([pool], stop, grace_s)))
    server.start()
    try:
        assert StuckRunner.entered.wait(10)
        if grace_s > 1:  # the group ends within the grace time: finished, nothing released
            threading.Timer(0.2, StuckRunner.let_go.set).start()
        stop.set()
        server.join(15)
        assert codes == [0]
        with session_scope(engine) as s:
            (job,) = s.query(IngestJob).all()
        if grace_s > 1:
            assert job.status == JobStatus.running and job.attempts == 1  # still its own
        else:
            # Handed back: queued for any worker, and the interrupted try is not counted.
            assert (job.status, job.worker_id, job.attempts) == (JobStatus.queued, None, 0)
    finally:
        StuckRunner.let_go.set()
        server.join(5)
        store.close()


def test_every_durable_job_kind_runs_in_the_worker(engine: Engine, tmp_path: Path) -> None:
    """Ingestion, crawls, catalogue syncs and webhook deliveries each register a pool; idle
    pools start, poll their queue and stop cleanly within the grace time."""
    assert set(worker.KINDS) == {"ingest", "crawl", "catalogue", "webhooks"}
    settings = Settings(data_dir=tmp_path / "data")
    pools = [worker.KINDS[kind](settings, 1) for kind in ("crawl", "catalogue", "webhooks")]
    stop = threading.Event()
    codes: list[int] = []
    server = threading.Thread(target=lambda: codes.append(worker.serve(pools, stop, 2.0)))
    server.start()
    threading.Timer(0.5, stop.set).start()
    server.join(10)
    assert codes == [0]
    assert [t for p in pools for t in getattr(p, "_threads", []) if t.is_alive()] == []
    assert sum(p.release() for p in pools) == 0
