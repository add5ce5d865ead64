"""One worker process for the multi-process tests: app.worker's own serve loop, signal
handling and graceful stop, running the real ingestion pipeline (local model).

Vectors go to this process's OWN Edge shard (argv[2]): the embedded shard belongs to one
process (a second opener gets ShardInUseError) and no Qdrant server is installable here, so
what the processes share honestly is the database (claims, heartbeats) and the files; the
test reads every shard afterwards to check each document was indexed exactly once overall.

Parsing runs in this process for the 300-document test (`inprocess_parse`): the sandbox's
per-file child costs ~0.2 s on this busy machine and is tested on its own elsewhere; the
claims, embedding and indexing are the real ones.

argv: db_url qdrant_path files_dir stale_after_s embed_delay_s grace_s
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from app.db import make_engine
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import IngestConfig, JobRunner, WorkerPool
from app.rag.parsing import parse_bytes_inprocess
from app.rag.readers import SandboxedFileReader
from app.rag.store import EdgeStore
from app.worker import install_stop_signals, serve

DELAY_S = 0.0


class SlowEmbedder(LocalEmbedder):
    """Sleeps before each batch of a document marked SLOW, so a parent can catch the
    worker mid-embedding; other documents embed at full speed."""

    def embed_array(self, texts):  # type: ignore[no-untyped-def]
        if any("SLOW" in t for t in texts):
            time.sleep(DELAY_S)
        return super().embed_array(texts)


class InProcessReader(SandboxedFileReader):
    def parse(self, data: bytes, filename: str):  # type: ignore[no-untyped-def]
        return parse_bytes_inprocess(data, filename, max_bytes=self.max_bytes)


def make_runner(engine, store, embedder, config, inprocess: bool) -> JobRunner:  # type: ignore[no-untyped-def]
    runner = JobRunner(engine, store, embedder, config)
    if inprocess:
        runner.pipeline.reader = InProcessReader(max_bytes=config.max_upload_bytes)
    return runner


def main(
    db_url: str,
    qdrant_path: str,
    files_dir: str,
    stale_s: str,
    delay_s: str,
    grace_s: str,
    inprocess_parse: str = "0",
) -> int:
    global DELAY_S
    DELAY_S = float(delay_s)
    engine = make_engine(db_url)
    store = EdgeStore(Path(qdrant_path))
    embedder = SlowEmbedder(torch_threads=1)
    config = IngestConfig(
        files_dir=Path(files_dir),
        max_upload_bytes=50 << 20,
        stale_after_s=float(stale_s),
        progress_interval_s=0.0,
    )
    pool = WorkerPool(
        lambda: make_runner(engine, store, embedder, config, inprocess_parse == "1"),
        threads=1,
        poll_s=0.2,
        nice=0,
    )
    stop = threading.Event()
    install_stop_signals(stop)
    print("worker-child ready", flush=True)
    code = serve([pool], stop, float(grace_s))
    store.close()
    return code


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:8]))
