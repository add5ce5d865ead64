"""Durable website crawls: CrawlJob + WebPage rows drive fetch -> extract -> store -> ingest.

Like file ingestion, everything that matters is in the database, so any process resumes any
crawl: a job is claimed by compare-and-set, heartbeated per batch, and reclaimed when its
worker's heartbeat goes stale (kill -9). The frontier is the website's WebPage rows queued
for the job's run; a page's fetch outcome, its Document and the job's counters are written
in one transaction, so a resumed crawl neither loses nor duplicates pages.

A fetched page's main text (see `app.rag.web`) is stored as Markdown and indexed by the
ordinary ingestion job (sandboxed parse -> chunks -> embeddings), with the page URL on
every chunk. Re-syncs send ETag/Last-Modified; an unchanged page (304, or the same text
hash) costs that one request and embeds nothing; a changed one is re-indexed; a page that
vanished (404/410, or dropped from the sitemap) is removed after two consecutive misses.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from app.db import session_scope
from app.models import CrawlJob, Document, DocumentStatus, JobStatus, WebPage, Website, utcnow
from app.rag.ingest import worker_identity
from app.rag.web import SKIP_EXTENSIONS, CrawlScope, Robots, url_extension
from app.services.crawl_fetch import PageFetcher, PageOutcome
from app.services.outbound import OutboundClient, OutboundPolicy

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "crawl worker: claims and runs every workspace's crawl jobs"

log = logging.getLogger("chatconnect.crawl")

SCHEDULES = {"off": None, "daily": timedelta(days=1), "weekly": timedelta(days=7)}
MISSES_TO_REMOVE = 2
ACTIVE = (JobStatus.queued, JobStatus.running)


class JobTakenOverError(RuntimeError):
    pass


@dataclass
class CrawlConfig:
    files_dir: Path
    policy: OutboundPolicy
    max_file_bytes: int
    concurrency_per_host: int = 2
    stale_after_s: float = 60.0
    batch: int = 8
    # Removes a page's Document (points, file, row); the service passes its own.
    remove_document: Callable[[Session, str, str], None] | None = field(default=None, repr=False)
    # Enqueues indexing of a Document (IngestJob) and wakes the ingestion workers.
    on_document: Callable[[], None] | None = field(default=None, repr=False)


class CrawlRunner:
    """Claims and runs crawl jobs; one per worker thread."""

    def __init__(
        self,
        engine: Engine,
        config: CrawlConfig,
        client: OutboundClient | None = None,
        worker_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self.client = client or OutboundClient(config.policy)
        self.worker_id = worker_id or worker_identity()
        self.fetcher = PageFetcher(self.client, config)
        self._host_locks: dict[str, threading.Semaphore] = {}
        self._next_at: dict[str, float] = {}
        self._pace = threading.Lock()

    # ---- claiming -------------------------------------------------------------------

    def _claimable(self):  # type: ignore[no-untyped-def]
        now = utcnow()
        stale = now - timedelta(seconds=self.config.stale_after_s)
        return or_(
            (CrawlJob.status == JobStatus.queued) & (CrawlJob.next_attempt_at <= now),
            (CrawlJob.status == JobStatus.running) & (CrawlJob.heartbeat_at < stale),
        )

    def claim(self) -> str | None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            ids = s.exec(
                select(CrawlJob.id).where(self._claimable()).order_by(CrawlJob.created_at).limit(5)
            ).all()
            for job_id in ids:
                result = s.exec(  # type: ignore[call-overload]
                    update(CrawlJob)
                    .where(CrawlJob.id == job_id, self._claimable())
                    .values(
                        status=JobStatus.running,
                        worker_id=self.worker_id,
                        heartbeat_at=utcnow(),
                        attempts=CrawlJob.attempts + 1,
                    )
                )
                if result.rowcount == 1:
                    return job_id
        return None

    def release(self) -> int:
        """Nothing to hand back: a stopped worker's crawl job is taken over once its
        heartbeat is stale, and its pages are never fetched twice."""
        return 0

    def run_once(self) -> bool:
        enqueue_due_syncs(self.engine)
        job_id = self.claim()
        if job_id is None:
            return False
        self.run(job_id)
        return True

    def drain(self, max_jobs: int = 100) -> int:
        done = 0
        while done < max_jobs and (job_id := self.claim()):
            self.run(job_id)
            done += 1
        return done

    # ---- running --------------------------------------------------------------------

    def run(self, job_id: str) -> None:
        try:
            self._run(job_id)
        except JobTakenOverError:
            log.warning("crawl job taken over by another worker")
        except Exception as exc:  # a store/DB hiccup: retry later, the frontier is durable
            log.exception("crawl attempt failed")
            with session_scope(self.engine, system=_CROSS_TENANT) as s:
                job = s.get(CrawlJob, job_id)
                if job is None:
                    return
                if job.attempts >= job.max_attempts:
                    job.status, job.error = JobStatus.failed, f"{type(exc).__name__}"[:1000]
                    job.finished_at = utcnow()
                else:
                    job.status, job.worker_id = JobStatus.queued, None
                    job.next_attempt_at = utcnow() + timedelta(seconds=5 * job.attempts)
                s.add(job)

    def _run(self, job_id: str) -> None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = s.get(CrawlJob, job_id)
            site = s.get(Website, job.website_id) if job else None
            if job is None or site is None:
                return
            tenant_id, seeded = job.tenant_id, job.seeded
            scope = CrawlScope(site.start_url, site.scope, list(site.include), list(site.exclude))
            site_snapshot = Website.model_validate(site.model_dump())
        robots = self.fetcher.robots(site_snapshot.start_url)
        if not seeded:
            refused: list[tuple[str, str]] = []
            sitemap_pages, sitemap_ok = self.fetcher.sitemap_pages(
                site_snapshot, robots, scope, refused
            )
            self._seed(job_id, site_snapshot, sitemap_pages, sitemap_ok, refused)
        while True:
            batch = self._next_batch(job_id)
            if batch is None:  # cancelled
                return
            if not batch:
                break
            # Recorded (and heartbeated) as each page completes, in frontier order.
            for page_id, outcome in self._fetch_all(batch, robots):
                self._record(job_id, tenant_id, page_id, outcome, scope, site_snapshot)
        self._finish(job_id)

    def _seed(
        self,
        job_id: str,
        site: Website,
        sitemap: list[str],
        sitemap_ok: bool,
        refused: list[tuple[str, str]],
    ) -> None:
        """Queue the run: known pages again, the start URL and the sitemap's pages.

        A sitemap page no longer in a sitemap that was read counts a miss instead.
        """
        in_sitemap = set(sitemap)
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = self._own(s, job_id)
            known = {p.url: p for p in s.exec(select(WebPage).where(WebPage.website_id == site.id))}
            for page in list(known.values()):
                if page.status == "skipped" and not page.document_id:
                    s.delete(page)  # skip notes are made again by this run if still true
                    del known[page.url]
                    continue
                if sitemap_ok and page.via == "sitemap" and page.url not in in_sitemap:
                    self._miss(s, job, page, "no longer in the sitemap")
                    continue
                page.status, page.reason, page.run_id = "queued", None, job_id
                s.add(page)
            s.flush()  # deletes before the inserts below (the unit of work inserts first)
            fresh = [(site.start_url, "start")] + [(u, "sitemap") for u in sitemap]
            budget = site.max_pages - sum(1 for p in known.values() if p.document_id)
            for url, via in fresh:
                if url in known or budget <= 0:
                    continue
                known[url] = WebPage(
                    tenant_id=site.tenant_id, website_id=site.id, url=url, via=via, run_id=job_id
                )
                s.add(known[url])
                budget -= 1
            for url, why in refused:
                if url not in known:
                    known[url] = WebPage(
                        tenant_id=site.tenant_id,
                        website_id=site.id,
                        url=url,
                        via="sitemap",
                        run_id=job_id,
                        status="skipped",
                        reason=why,
                    )
                    s.add(known[url])
            job.seeded = True
            s.add(job)

    def _next_batch(self, job_id: str) -> list[tuple[str, str]] | None:
        """(page id, url) of the next queued pages; None when the crawl was cancelled."""
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = self._own(s, job_id)
            if job.cancel_requested:
                s.exec(  # type: ignore[call-overload]
                    update(WebPage)
                    .where(WebPage.run_id == job_id, WebPage.status == "queued")
                    .values(status="skipped", reason="crawl cancelled")
                )
                job.status, job.finished_at = JobStatus.cancelled, utcnow()
                s.add(job)
                return None
            job.heartbeat_at = utcnow()
            s.add(job)
            rows = s.exec(
                select(WebPage.id, WebPage.url)
                .where(WebPage.run_id == job_id, WebPage.status == "queued")
                .order_by(WebPage.depth, WebPage.created_at, WebPage.id)
                .limit(self.config.batch)
            ).all()
            return [(r[0], r[1]) for r in rows]

    def _fetch_all(
        self, batch: list[tuple[str, str]], robots: Robots
    ) -> Iterator[tuple[str, PageOutcome]]:
        def one(item: tuple[str, str]) -> tuple[str, PageOutcome]:
            page_id, url = item
            if not robots.allowed(url):
                return page_id, PageOutcome.skip("blocked by robots.txt")
            ext = url_extension(url)
            if ext in SKIP_EXTENSIONS:
                return page_id, PageOutcome.skip(f"not a page or document ({ext})")
            with self._slot(url, robots.crawl_delay):
                etag, modified = self._validators(page_id)
                return page_id, self.fetcher.fetch(url, etag=etag, last_modified=modified)

        workers = max(1, self.config.concurrency_per_host)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crawl-fetch") as pool:
            yield from pool.map(one, batch)

    def _validators(self, page_id: str) -> tuple[str | None, str | None]:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            page = s.get(WebPage, page_id)
            if page is None or not page.document_id:
                return None, None
            return page.etag, page.last_modified

    def _slot(self, url: str, delay: float) -> _Slot:
        host = urlsplit(url).netloc
        with self._pace:
            sem = self._host_locks.setdefault(
                host, threading.Semaphore(self.config.concurrency_per_host)
            )
        return _Slot(self, host, sem, delay)

    # ---- outcomes -------------------------------------------------------------------

    def _own(self, s: Session, job_id: str) -> CrawlJob:
        job = s.get(CrawlJob, job_id)
        if job is None or job.worker_id != self.worker_id:
            raise JobTakenOverError(job_id)
        return job

    def _record(
        self,
        job_id: str,
        tenant_id: str,
        page_id: str,
        outcome: PageOutcome,
        scope: CrawlScope,
        site: Website,
    ) -> None:
        from app.services.crawl_pages import record_outcome

        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = self._own(s, job_id)
            job.heartbeat_at = utcnow()
            page = s.get(WebPage, page_id)
            if page is None or page.run_id != job_id or page.status != "queued":
                return  # deleted meanwhile, or already recorded before a restart
            record_outcome(self, s, job, page, outcome, scope, site)
        if outcome.document_bytes is not None and self.config.on_document is not None:
            self.config.on_document()

    def _miss(self, s: Session, job: CrawlJob, page: WebPage, reason: str) -> None:
        """One more consecutive miss; the page (and its chunks) go at MISSES_TO_REMOVE."""
        page.misses += 1
        page.run_id = job.id
        if page.misses >= MISSES_TO_REMOVE:
            if page.document_id:
                self.remove_document(s, job.tenant_id, page.document_id)
                job.removed += 1
            s.delete(page)
        else:
            page.status = "failed"
            page.reason = f"{reason} (removed if still missing at the next sync)"
            s.add(page)
        s.add(job)

    def remove_document(self, s: Session, tenant_id: str, document_id: str) -> None:
        if self.config.remove_document is not None:
            self.config.remove_document(s, tenant_id, document_id)

    def _finish(self, job_id: str) -> None:
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            job = self._own(s, job_id)
            site = s.get(Website, job.website_id)
            job.status, job.finished_at, job.error = JobStatus.done, utcnow(), None
            s.add(job)
            if site is not None:
                site.last_sync_at = utcnow()
                site.last_added, site.last_changed = job.added, job.changed
                site.last_removed, site.last_error = job.removed, None
                interval = SCHEDULES.get(site.schedule)
                site.next_sync_at = utcnow() + interval if interval else None
                s.add(site)


class _Slot:
    """At most N requests per host at once, and crawl-delay between starts."""

    def __init__(self, runner: CrawlRunner, host: str, sem: threading.Semaphore, delay: float):
        self.runner, self.host, self.sem, self.delay = runner, host, sem, delay

    def __enter__(self) -> None:
        self.sem.acquire()
        if self.delay:
            with self.runner._pace:
                now = time.monotonic()
                start = max(now, self.runner._next_at.get(self.host, 0.0))
                self.runner._next_at[self.host] = start + self.delay
            time.sleep(max(0.0, start - now))

    def __exit__(self, *exc: object) -> None:
        self.sem.release()


def enqueue_due_syncs(engine: Engine) -> int:
    """Queue a sync for every scheduled website that is due and not already crawling."""
    now = utcnow()
    queued = 0
    with session_scope(engine, system=_CROSS_TENANT) as s:
        busy = select(CrawlJob.website_id).where(col(CrawlJob.status).in_(ACTIVE))
        due = s.exec(
            select(Website).where(
                Website.schedule != "off",
                col(Website.next_sync_at).is_not(None),
                col(Website.next_sync_at) <= now,
                col(Website.id).not_in(busy),
            )
        ).all()
        for site in due:
            s.add(CrawlJob(tenant_id=site.tenant_id, website_id=site.id))
            site.next_sync_at = None  # set again when this sync finishes
            s.add(site)
            queued += 1
    return queued


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


__all__ = [
    "ACTIVE",
    "SCHEDULES",
    "CrawlConfig",
    "CrawlRunner",
    "Document",
    "DocumentStatus",
    "content_hash",
    "enqueue_due_syncs",
]
