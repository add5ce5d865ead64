"""A crawl worker process for the kill-and-resume test: crawls one job and then idles."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from app.db import make_engine
from tests.support.crawl_world import crawl_runner


def main(db_url: str, files_dir: str) -> None:
    runner = crawl_runner(make_engine(db_url), Path(files_dir), worker_id="child")
    runner.drain()
    time.sleep(60)  # the parent kills us long before


if __name__ == "__main__":
    main(*sys.argv[1:3])
