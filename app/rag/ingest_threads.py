"""The threads around ingestion jobs: the heartbeat of a running group, and the pool of
worker threads that claim and run jobs (inside the app, or in `python -m app.worker`)."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy import update

from app.db import session_scope
from app.models import IngestJob, JobStatus, utcnow

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "ingest worker: heartbeats of claimed jobs"

if TYPE_CHECKING:
    from app.rag.ingest import JobRunner

log = logging.getLogger("chatconnect.ingest")


class Heartbeat:
    """Keeps the group's heartbeat fresh from a side thread while the group runs.

    Progress writes alone only beat between stages; a stage longer than `stale_after_s`
    (a slow parse or split of a large file on a busy machine) made a live job look dead, so
    another worker took it over, and then the next one took it from that one: a livelock
    the multi-worker test found. The side thread beats every quarter of the timeout, so
    only a process that is really gone (SIGKILL, lost machine) goes stale.
    """

    def __init__(self, runner: JobRunner, job_ids: list[str]) -> None:
        self.runner = runner
        self.job_ids = list(job_ids)
        self.interval = max(0.2, runner.config.stale_after_s / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ingest-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with session_scope(self.runner.engine, system=_CROSS_TENANT) as s:
                    s.exec(  # type: ignore[call-overload]
                        update(IngestJob)
                        .where(
                            IngestJob.id.in_(self.job_ids),  # type: ignore[attr-defined]
                            IngestJob.worker_id == self.runner.worker_id,
                            IngestJob.status == JobStatus.running,
                        )
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # the database is briefly away: the next beat tries again
                log.warning("ingestion heartbeat failed", exc_info=True)


class WorkerPool:
    """Background threads that run jobs; `wake()` after enqueueing skips the poll delay.

    The threads lower their own scheduling priority (Linux: per-thread nice) so that
    ingestion yields the CPU to chat requests on a small machine. `stop()` lets each thread
    finish the group it holds; what is still running after the timeout can be handed back
    with `release()`.
    """

    def __init__(
        self,
        make_runner: Callable[[], JobRunner],
        threads: int = 1,
        poll_s: float = 2.0,
        nice: int = 10,
        name: str = "ingest",
    ) -> None:
        self.make_runner = make_runner
        self.name = name
        self.threads = threads
        self.poll_s = poll_s
        self.nice = nice
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._runners: list[JobRunner] = []

    def start(self) -> None:
        for i in range(self.threads):
            t = threading.Thread(target=self._loop, name=f"{self.name}-{i}", daemon=True)
            t.start()
            self._threads.append(t)

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the threads to stop after their current group; True when all have stopped."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        return not alive

    def release(self) -> int:
        """Hand every job this pool's runners still hold back to the queue."""
        return sum(runner.release() for runner in list(self._runners))

    def _loop(self) -> None:
        if self.nice:
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        runner = self.make_runner()
        self._runners.append(runner)
        while not self._stop.is_set():
            try:
                worked = runner.run_once()
            except Exception:  # a broken claim (DB down) must not kill the thread
                log.exception("%s worker loop error", self.name)
                worked = False
            if not worked:
                self._wake.wait(self.poll_s)
                self._wake.clear()
