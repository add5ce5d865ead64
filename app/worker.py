"""`python -m app.worker`: a process that runs only durable jobs, no web server.

Job kinds register a pool factory in `KINDS`: ingestion, website crawls, catalogue sync
and webhook deliveries. Each pool claims rows from the database with
compare-and-set, so any number of these processes can run next to app processes started
with `INGEST_WORKERS=0`.

Stopping: SIGTERM (or SIGINT) lets every thread finish the group of jobs it holds for up
to `--grace` seconds; whatever is still running then is handed back to the queue (not
counted as an attempt) before the process exits 0. A worker killed outright (SIGKILL, lost
machine) stops heartbeating, and another worker takes its jobs over once the heartbeat is
older than the stale timeout.

Vectors: the embedded Qdrant Edge shard belongs to one process, so this command requires
QDRANT_URL (a Qdrant server every process shares); it refuses to start without one.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy import text

from app.db import get_engine
from app.logging_setup import configure_logging
from app.settings import Settings, SettingsError, get_settings

log = logging.getLogger("chatconnect.worker")

DEFAULT_GRACE_S = 25.0  # below the 30 s most process managers wait before SIGKILL
# Session-level advisory lock key: one worker at a time re-queues model switches.
_REQUEUE_LOCK = 0x43430017


class JobPool(Protocol):
    """What a job kind gives the worker: threads that claim and run its rows."""

    def start(self) -> None: ...
    def stop(self, timeout: float) -> bool: ...
    def release(self) -> int: ...


PoolFactory = Callable[[Settings, int], JobPool]
KINDS: dict[str, PoolFactory] = {}


def register(name: str) -> Callable[[PoolFactory], PoolFactory]:
    def add(factory: PoolFactory) -> PoolFactory:
        KINDS[name] = factory
        return factory

    return add


@register("ingest")
def ingest_pool(settings: Settings, threads: int) -> JobPool:
    from app.rag.ingest import WorkerPool
    from app.services.ingestion import make_runner

    requeue_model_switches(settings)
    return WorkerPool(lambda: make_runner(settings), threads=threads, nice=0)


@register("crawl")
def crawl_pool(settings: Settings, threads: int) -> JobPool:
    from app.rag.ingest import WorkerPool
    from app.services.websites import make_crawl_runner

    return WorkerPool(
        lambda: make_crawl_runner(settings), threads=threads, poll_s=5.0, name="crawl"
    )  # type: ignore[arg-type, return-value]


@register("webhooks")
def webhook_pool(settings: Settings, threads: int) -> JobPool:
    from app.db import get_engine
    from app.rag.ingest import WorkerPool
    from app.services.webhooks import Deliverer

    return WorkerPool(
        lambda: Deliverer(get_engine()), threads=threads, poll_s=5.0, nice=0, name="webhooks"
    )  # type: ignore[arg-type, return-value]


@register("catalogue")
def catalogue_pool(settings: Settings, threads: int) -> JobPool:
    from app.services.catalogue_sync import CataloguePool, make_runner

    return CataloguePool(make_runner, threads=threads)


def requeue_model_switches(settings: Settings) -> None:
    """After an embedding-model switch, queue the re-index once (app processes with
    INGEST_WORKERS=0 do not). Several workers may start together: on PostgreSQL an
    advisory lock lets one do it while the others wait, then find nothing left to queue."""
    from app.services.ingestion import purge_stale_points, requeue_other_models
    from app.services.vectors import current_space_key, get_store

    engine = get_engine()
    with engine.connect() as conn:
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _REQUEUE_LOCK})
        try:
            switched = requeue_other_models(engine, current_space_key(settings))
            if switched:
                log.info("re-indexing %d document(s) for the current embedding model", switched)
                purge_stale_points(engine, get_store())
        finally:
            if postgres:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _REQUEUE_LOCK})


def check_shape(settings: Settings) -> None:
    """Refuse configurations where a separate worker process cannot work or would corrupt."""
    if not settings.qdrant_url:
        raise SettingsError(
            "python -m app.worker needs QDRANT_URL: the embedded Qdrant Edge shard belongs to "
            "one process (the app). Either set QDRANT_URL to a Qdrant server shared by the app "
            "and the workers, or run without separate workers (INGEST_WORKERS >= 1 in the app)."
        )
    from app.startup import schema_is_current

    if not schema_is_current():
        raise SettingsError(
            "The database schema is not up to date. Run `python -m app.manage migrate` once "
            "before starting the worker processes."
        )


def install_stop_signals(stop: threading.Event) -> None:
    def _on_signal(signum: int, _frame: object) -> None:
        log.info("stopping on %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def serve(pools: list[JobPool], stop: threading.Event, grace_s: float = DEFAULT_GRACE_S) -> int:
    """Run the pools until `stop` is set, then stop them gracefully. Returns an exit code."""
    for pool in pools:
        pool.start()
    log.info("worker running %d pool(s)", len(pools))
    stop.wait()
    unfinished = [pool for pool in pools if not pool.stop(grace_s)]
    released = sum(pool.release() for pool in unfinished)
    if released:
        log.warning("handed %d unfinished job(s) back to the queue", released)
    log.info("worker stopped")
    return 0


def check(settings: Settings) -> int:
    """`python -m app.worker check`: the health command (database, schema, vector store)."""
    check_shape(settings)
    try:
        from app.services.vectors import store_health

        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        store_health()
    except Exception as exc:  # a health command reports, it does not print tracebacks
        print(f"worker not ready: {type(exc).__name__}", file=sys.stderr)
        return 1
    print("worker ok")
    return 0


def main(argv: list[str] | None = None) -> int:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m app.worker", description=summary)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "check"])
    parser.add_argument("--kinds", default=",".join(KINDS), help="job kinds to run (default: all)")
    parser.add_argument("--threads", type=int, default=1, help="threads per job kind")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_S, help="seconds on SIGTERM")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings.log_level)
    try:
        if args.command == "check":
            return check(settings)
        kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
        unknown = [k for k in kinds if k not in KINDS]
        if unknown or not kinds or args.threads < 1:
            parser.error(f"--kinds must name some of {', '.join(KINDS)}; --threads >= 1")
        check_shape(settings)
        stop = threading.Event()
        install_stop_signals(stop)
        pools = [KINDS[kind](settings, args.threads) for kind in kinds]
        return serve(pools, stop, args.grace)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if "app.services.vectors" in sys.modules:  # only if this run opened a store
            sys.modules["app.services.vectors"].close_store()


if __name__ == "__main__":
    sys.exit(main())
