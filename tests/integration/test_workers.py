"""`python -m app.worker` processes on PostgreSQL: several claim one queue safely, and a
worker killed with SIGKILL mid-embedding has its job taken over after the heartbeat timeout.

Three worker processes (app.worker's serve loop and signal handling, real pipeline and
model) drain one large document and 300 small ones, and one of them is killed -9 while it
embeds the large one. Each process writes to its own Edge shard (the embedded shard cannot
be shared between processes, and no Qdrant server is installable here), so the test reads
all three shards afterwards: every document's chunks must be in exactly one of them, each
chunk once. What the processes really share is the database (claims, heartbeats) and files.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func
from sqlmodel import select

from app.db import session_scope
from app.models import Document, DocumentStatus, IngestJob, JobStatus
from app.rag.store import EdgeStore, ShardInUseError
from app.services import accounts, documents
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = 300
STALE_S = 8.0  # heartbeat timeout of the test workers (the product's default is 60 s)
BIG = "\n\n".join(
    f"SLOW section {i}. The Aurora 3000 heats water to 93 degrees in forty seconds; "
    f"descale it every two months (note {i})."
    for i in range(700)
)


def start_worker(
    engine: Engine, shard: Path, files_dir: Path, log: Path, *, delay_s: float, grace_s: float
) -> subprocess.Popen[bytes]:
    url = engine.url.render_as_string(hide_password=False)
    args = [url, shard, files_dir, STALE_S, delay_s, grace_s, "1"]
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration.worker_child", *map(str, args)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def points_by_document(shard: Path, tenant_id: str) -> dict[str, list[int]]:
    store = EdgeStore(shard)
    try:
        found: dict[str, list[int]] = {}
        offset = None
        while True:
            hits, offset = store.scroll(tenant_id, limit=500, offset=offset)
            for h in hits:
                found.setdefault(h.document_id, []).append(h.chunk_index)
            if offset is None:
                return found
    finally:
        store.close()


def pid_of(worker_id: str | None) -> int:
    return int((worker_id or "::").split(":")[1] or 0)


def pending_count(engine: Engine) -> int:
    with session_scope(engine) as s:
        return s.exec(
            select(func.count())
            .select_from(Document)
            .where(Document.status.not_in([DocumentStatus.ready, DocumentStatus.failed]))  # type: ignore[attr-defined]
        ).one()


def wait_for(condition, what: str, procs, logs, timeout: float = 240):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        for p, log in zip(procs, logs, strict=True):
            if p.returncode is None:  # not the one we killed
                assert p.poll() is None, f"a worker died:\n{log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.slow
def test_three_workers_index_300_documents_once_and_take_over_a_killed_one(
    pg: Engine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    shards = [tmp_path / f"shard-{n}" for n in range(3)]
    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    # Started first: their model loads while the documents arrive in a live queue.
    procs = [
        start_worker(pg, sh, settings.files_dir, lg, delay_s=1.0, grace_s=10)
        for sh, lg in zip(shards, logs, strict=True)
    ]
    started = time.monotonic()
    try:
        with session_scope(pg) as s:
            _, tenant = accounts.sign_up(s, "w@w.io", "a-long-password", "W")
            big_id = documents.create_document(
                s, tenant.id, filename="big.txt", data=BIG.encode(), settings=settings
            ).id
        for start in range(0, DOCS, 50):
            with session_scope(pg) as s:
                for i in range(start, start + 50):
                    note = f"Part {i}: model W-{i} has {i % 7 + 2} filters, {i}-day warranty."
                    documents.create_document(
                        s, tenant.id, filename=f"n-{i}.txt", data=note.encode(), settings=settings
                    )

        def big_job() -> IngestJob | None:
            with session_scope(pg) as s:
                doc = s.get(Document, big_id)
                job = s.exec(select(IngestJob).where(IngestJob.document_id == big_id)).one()
                if doc.status == DocumentStatus.embedding and doc.progress > 20:
                    return job
                assert doc.status != DocumentStatus.ready, "finished before it could be killed"
                return None

        victim_job = wait_for(big_job, "the large document to be mid-embedding", procs, logs)
        victim = next(p for p in procs if p.pid == pid_of(victim_job.worker_id))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        wait_for(lambda: pending_count(pg) == 0, "every document", procs, logs)
        elapsed = time.monotonic() - started
        print(f"{DOCS + 1} documents, 3 workers (one killed): {elapsed:.1f} s")
        # While a worker runs, its shard is locked against every other process.
        alive = next(i for i, p in enumerate(procs) if p.poll() is None)
        with pytest.raises(ShardInUseError, match="QDRANT_URL"):
            EdgeStore(shards[alive])
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        codes = []
        for p in procs:
            try:
                codes.append(p.wait(30))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append("ignored SIGTERM")
    # Graceful stop: the survivors exit 0 on SIGTERM.
    assert codes.count(0) == 2 and codes.count(-signal.SIGKILL) == 1, [
        log.read_text()[-1500:] for log in logs
    ]

    with session_scope(pg) as s:
        docs = {d.id: d for d in s.exec(select(Document))}
        jobs = {j.document_id: j for j in s.exec(select(IngestJob))}
    assert len(docs) == DOCS + 1 == len(jobs)
    assert all(d.status == DocumentStatus.ready for d in docs.values())
    assert all(j.status == JobStatus.done for j in jobs.values())
    resumed = jobs.pop(big_id)
    # Taken over once, by another process, no sooner than the heartbeat timeout allows.
    assert resumed.attempts == 2 and pid_of(resumed.worker_id) != victim.pid
    assert (resumed.updated_at - victim_job.heartbeat_at).total_seconds() >= STALE_S
    assert all(j.attempts == 1 for j in jobs.values())  # every small job claimed once
    per_process = Counter(pid_of(j.worker_id) for j in jobs.values())
    assert len(per_process) >= 2, per_process  # the queue really was shared

    where: dict[str, list[int]] = {}
    holders: Counter[str] = Counter()
    for shard in shards:
        for doc_id, indexes in points_by_document(shard, tenant.id).items():
            holders[doc_id] += 1
            where[doc_id] = indexes
    assert set(where) == set(docs)
    assert all(n == 1 for n in holders.values())  # no document indexed by two workers
    for doc_id, doc in docs.items():
        assert sorted(where[doc_id]) == list(range(doc.chunk_count))  # each chunk once
    assert docs[big_id].chunk_count > 64  # several embedding batches: killed mid-way
