"""Website crawl throughput and the cost of a no-change re-sync, on a loopback site.

    python -m bench.crawl [--quick] [--pages N]

A real HTTP server on 127.0.0.1 serves N article pages (300; 60 with --quick) linked from
an index, each with an ETag and honouring If-None-Match, like a static docs site. Measured
on SQLite with the local embedder:

- pages_per_s: the first crawl (fetch, main-text extraction, storing each page's Document
  and queuing its indexing), pages per wall second; index_s: the ingestion jobs after it;
- resync_unchanged_s_per_100_pages: "Sync now" with nothing changed, per 100 pages;
- resync_requests / resync_embedded_chunks: requests sent and chunks embedded by that
  re-sync (one request per page, zero chunks is what the design promises);
- one edited page re-synced: changed 1, its chunks embedded again.

Results: bench/results/crawl.json (crawl_quick.json with --quick).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

from bench.common import Stopwatch, load_avg, log, machine_info, utc_now, write_json


def _site(pages: int):  # type: ignore[no-untyped-def]
    from tests.support.crawl_world import article
    from tests.support.http_site import HttpSite

    site = HttpSite()
    bodies: dict[str, bytes] = {}
    paths = [f"/docs/{i}" for i in range(pages)]
    bodies["/docs/"] = article("Docs index", "Every article of the bench site.", paths).encode()
    for i, p in enumerate(paths):
        text = (
            f"Article {i} explains feature {i} of the bench product. Set option {i} to "
            f"{i * 3} for the best result, then restart the service {i % 7} times."
        )
        bodies[p] = article(f"Article {i}", text).encode()

    def route_for(path: str):  # type: ignore[no-untyped-def]
        def route(handler):  # type: ignore[no-untyped-def]
            body = bodies[path]
            tag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            if handler.headers.get("If-None-Match") == tag:
                return 304, {"ETag": tag}, b""
            return 200, {"Content-Type": "text/html; charset=utf-8", "ETag": tag}, body

        return route

    for path in bodies:
        site.routes[path] = route_for(path)
    site.routes["/robots.txt"] = (200, {"Content-Type": "text/plain"}, b"User-agent: *\n")
    return site, bodies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="60 pages (CI)")
    parser.add_argument("--pages", type=int, default=None)
    args = parser.parse_args()
    pages = args.pages or (60 if args.quick else 300)
    with tempfile.TemporaryDirectory(prefix="cc-bench-crawl-") as tmp:
        os.environ["DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["CRAWL_ALLOW_PRIVATE_NETWORKS"] = "true"
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        summary = _run(pages)
    summary.update(
        quick=args.quick, load_avg=load_avg(), machine=machine_info(), timestamp=utc_now()
    )
    path = write_json("crawl_quick.json" if args.quick else "crawl.json", summary)
    for key in (
        "pages",
        "pages_per_s",
        "index_s",
        "resync_unchanged_s_per_100_pages",
        "resync_requests",
        "resync_embedded_chunks",
        "edited_embedded_chunks",
    ):
        print(f"{key:<36}{summary[key]}")
    print(f"written: {path}")


def _run(pages: int) -> dict:
    from sqlmodel import select

    from app.db import get_engine, run_migrations, session_scope
    from app.models import CrawlJob
    from app.rag.embedding import LocalEmbedder
    from app.rag.ingest import IngestConfig, JobRunner
    from app.services import accounts, websites
    from app.services.vectors import get_store
    from app.settings import get_settings

    counter = {"chunks": 0}

    class CountingEmbedder(LocalEmbedder):
        def embed_array(self, texts):  # type: ignore[no-untyped-def]
            counter["chunks"] += len(texts)
            return super().embed_array(texts)

    settings = get_settings()
    run_migrations(settings)
    engine = get_engine()
    embedder = CountingEmbedder()
    ingest = JobRunner(
        engine,
        get_store(),
        embedder,
        IngestConfig(files_dir=settings.files_dir, max_upload_bytes=settings.max_upload_bytes),
    )
    site, _bodies = _site(pages)
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "bench@crawl.io", "a-long-password", "Bench")
    with site:
        with session_scope(engine) as s:
            data = websites.WebsiteInput(
                url=site.base + "/docs/", scope="prefix", max_pages=pages + 1
            )
            website_id = websites.create_website(s, tenant.id, data).id
        runner = websites.make_crawl_runner(settings, engine)
        log(f"crawling {pages + 1} pages")
        with Stopwatch() as crawl:
            runner.drain()
        with Stopwatch() as index:
            ingest.drain(max_jobs=100_000)
        first_embedded = counter["chunks"]

        def sync() -> tuple[CrawlJob, float, int, int]:
            with session_scope(engine) as s:
                job_id = websites.sync_now(s, tenant.id, website_id).id
            before_req, before_emb = len(site.requests), counter["chunks"]
            with Stopwatch() as sw:
                runner.drain()
                ingest.drain(max_jobs=100_000)
            with session_scope(engine) as s:
                job = s.exec(select(CrawlJob).where(CrawlJob.id == job_id)).one()
            return (
                job,
                sw.seconds,
                len(site.requests) - before_req,
                counter["chunks"] - before_emb,
            )

        log("re-sync, nothing changed")
        job, resync_s, requests, embedded = sync()
        assert job.unchanged == pages + 1 and job.changed == 0, job
        _bodies["/docs/5"] = _bodies["/docs/5"].replace(b"feature 5", b"the edited feature 5")
        log("re-sync, one page edited")
        edited, _s, _r, edited_embedded = sync()
        assert edited.changed == 1, edited
    total = pages + 1
    return {
        "pages": total,
        "pages_per_s": round(total / crawl.seconds, 2),
        "crawl_s": round(crawl.seconds, 2),
        "index_s": round(index.seconds, 2),
        "first_crawl_embedded_chunks": first_embedded,
        "resync_unchanged_s": round(resync_s, 3),
        "resync_unchanged_s_per_100_pages": round(resync_s * 100 / total, 3),
        "resync_requests": requests,
        "resync_embedded_chunks": embedded,
        "edited_changed_pages": edited.changed,
        "edited_embedded_chunks": edited_embedded,
    }


if __name__ == "__main__":
    main()
