"""A worker process for the kill-and-resume test: runs ingestion jobs with the real pipeline
(Edge store, local model), slowed per embedding batch so the parent can kill it mid-way."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.db import make_engine
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import IngestConfig, JobRunner
from app.rag.store import EdgeStore


class SlowEmbedder(LocalEmbedder):
    def embed_array(self, texts):  # type: ignore[no-untyped-def]
        time.sleep(0.4)
        return super().embed_array(texts)


def main(db_url: str, qdrant_path: str, files_dir: str) -> None:
    runner = JobRunner(
        make_engine(db_url),
        EdgeStore(Path(qdrant_path)),
        SlowEmbedder(),
        IngestConfig(files_dir=Path(files_dir), max_upload_bytes=50 << 20, progress_interval_s=0.0),
        worker_id="child",
    )
    runner.drain()


if __name__ == "__main__":
    main(*sys.argv[1:4])
