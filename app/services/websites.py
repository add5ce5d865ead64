"""Websites as knowledge: add (with a preview), list, sync now, schedule, cancel, delete.

Used by the dashboard and the REST API alike; every read and write is tenant-scoped. The
crawl itself runs in `app.services.crawl` workers (durable CrawlJob rows).
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from app.db import NotFoundError, TenantScope, get_engine
from app.models import CrawlJob, Document, JobStatus, Tenant, Tier, WebPage, Website, utcnow
from app.rag.web import CrawlScope, normalize_url, url_extension
from app.services import audit
from app.services.crawl import ACTIVE, SCHEDULES, CrawlConfig, CrawlRunner
from app.services.crawl_fetch import PageFetcher
from app.services.documents import delete_document
from app.services.outbound import OutboundClient, OutboundError, check_url, policy_from_settings
from app.settings import Settings, get_settings

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "startup: requeue orphaned crawl jobs of every workspace"

SCOPES = ("host", "subdomains", "prefix")
PREVIEW_SIZE = 20
MAX_PATTERNS = 20


class WebsiteError(ValueError):
    status_code = 422


@dataclass
class WebsiteInput:
    url: str
    sitemap_url: str | None = None
    scope: str = "host"
    include: list[str] | None = None
    exclude: list[str] | None = None
    max_pages: int | None = None
    max_depth: int = 5
    schedule: str = "off"


def page_cap(session: Session, tenant_id: str, settings: Settings | None = None) -> int:
    settings = settings or get_settings()
    tenant = session.get(Tenant, tenant_id)
    paid = tenant is not None and tenant.tier == Tier.paid
    return settings.crawl_max_pages_paid if paid else settings.crawl_max_pages_free


def _clean(session: Session, tenant_id: str, data: WebsiteInput) -> dict[str, Any]:
    url = (data.url or "").strip()
    sitemap = (data.sitemap_url or "").strip() or None
    if url and url_extension(url) in (".xml", ".gz") and not sitemap:
        sitemap = url  # a sitemap given as the start: crawl from its site's root
    for value in filter(None, (url, sitemap)):
        try:
            check_url(value)
        except OutboundError as exc:
            raise WebsiteError(exc.reason) from exc
    start = normalize_url(url)
    if start is None:
        raise WebsiteError("Enter the address of a website, e.g. https://docs.example.com/")
    if sitemap and start == normalize_url(sitemap):
        parts = start.split("/", 3)
        start = "/".join(parts[:3]) + "/"
    if data.scope not in SCOPES:
        raise WebsiteError("Scope must be host, subdomains or prefix.")
    if data.schedule not in SCHEDULES:
        raise WebsiteError("Schedule must be off, daily or weekly.")
    cap = page_cap(session, tenant_id)
    max_pages = data.max_pages or min(500, cap)
    if not 1 <= max_pages <= cap:
        raise WebsiteError(f"Maximum pages must be between 1 and {cap} on this plan.")
    if not 0 <= data.max_depth <= 20:
        raise WebsiteError("Maximum depth must be between 0 and 20.")

    def patterns(values: list[str] | None) -> list[str]:
        out = [p.strip()[:200] for p in (values or []) if p and p.strip()]
        if len(out) > MAX_PATTERNS:
            raise WebsiteError(f"At most {MAX_PATTERNS} patterns.")
        return out

    return {
        "start_url": start,
        "sitemap_url": normalize_url(sitemap) if sitemap else None,
        "scope": data.scope,
        "include": patterns(data.include),
        "exclude": patterns(data.exclude),
        "max_pages": max_pages,
        "max_depth": data.max_depth,
        "schedule": data.schedule,
    }


def create_website(session: Session, tenant_id: str, data: WebsiteInput) -> Website:
    """Save the website and queue its first crawl."""
    scope = TenantScope(session, tenant_id)
    values = _clean(session, tenant_id, data)
    same = session.exec(
        scope.select(Website).where(Website.start_url == values["start_url"])
    ).first()
    if same is not None:
        raise WebsiteError("This website is already in your knowledge base.")
    site = scope.add(Website(**values))
    session.flush()
    scope.add(CrawlJob(website_id=site.id))
    return site


def update_schedule(session: Session, tenant_id: str, website_id: str, schedule: str) -> Website:
    site = TenantScope(session, tenant_id).get(Website, website_id)
    if schedule not in SCHEDULES:
        raise WebsiteError("Schedule must be off, daily or weekly.")
    site.schedule = schedule
    interval = SCHEDULES[schedule]
    site.next_sync_at = (site.last_sync_at or utcnow()) + interval if interval else None
    session.add(site)
    return site


def get_website(session: Session, tenant_id: str, website_id: str) -> Website:
    return TenantScope(session, tenant_id).get(Website, website_id)


def list_websites(session: Session, tenant_id: str) -> list[Website]:
    return TenantScope(session, tenant_id).all(Website, order_by=col(Website.created_at).desc())


def current_job(session: Session, tenant_id: str, website_id: str) -> CrawlJob | None:
    """The website's latest job (running, queued or finished)."""
    scope = TenantScope(session, tenant_id)
    query = scope.select(CrawlJob).where(CrawlJob.website_id == website_id)
    return session.exec(query.order_by(col(CrawlJob.created_at).desc()).limit(1)).first()


def sync_now(session: Session, tenant_id: str, website_id: str) -> CrawlJob:
    """Queue a re-sync (or return the one already queued or running)."""
    site = get_website(session, tenant_id, website_id)
    job = current_job(session, tenant_id, site.id)
    if job is not None and job.status in ACTIVE and not job.cancel_requested:
        return job
    return TenantScope(session, tenant_id).add(CrawlJob(website_id=site.id))


def cancel(session: Session, tenant_id: str, website_id: str) -> CrawlJob | None:
    site = get_website(session, tenant_id, website_id)
    job = current_job(session, tenant_id, site.id)
    if job is None or job.status not in ACTIVE:
        return job
    if job.status == JobStatus.queued and not job.seeded:
        job.status, job.finished_at = JobStatus.cancelled, utcnow()
    else:
        job.cancel_requested = True  # the worker stops at its next batch
    session.add(job)
    return job


def delete_website(
    session: Session,
    tenant_id: str,
    website_id: str,
    *,
    store: Any,
    settings: Settings | None = None,
    actor: audit.Actor | None = None,
) -> None:
    """The website, its pages, their Documents, chunks and stored files (one audit event)."""
    scope = TenantScope(session, tenant_id)
    site = scope.get(Website, website_id)
    doc_ids = [
        d
        for d in session.exec(
            scope.select(WebPage)
            .where(WebPage.website_id == site.id)
            .with_only_columns(WebPage.document_id)
        )
        if d
    ]
    for job in scope.all(
        CrawlJob, CrawlJob.website_id == site.id, col(CrawlJob.status).in_(ACTIVE)
    ):
        job.cancel_requested = True
        session.add(job)
    session.flush()
    for doc_id in doc_ids:
        with contextlib.suppress(NotFoundError):
            delete_document(
                session, tenant_id, doc_id, store=store, settings=settings, audited=False
            )
    audit.record(
        session, tenant_id, actor, "website.deleted", "website", site.id,
        before={"start_url": site.start_url, "pages": len(doc_ids)},
    )  # fmt: skip
    session.delete(site)  # pages and jobs cascade


# ---- reading the progress ----------------------------------------------------------


def page_status(page: WebPage, doc: Document | None) -> tuple[str, str | None]:
    """The status a person sees: a fetched page is `indexed` once its Document is ready."""
    if page.status == "fetched" and doc is not None:
        if doc.status == "ready":
            return "indexed", None
        if doc.status == "failed":
            return "failed", doc.error
    return page.status, page.reason


def page_rows(
    session: Session, tenant_id: str, website_id: str, *, status: str = "", limit: int = 200
) -> list[dict[str, Any]]:
    scope = TenantScope(session, tenant_id)
    site = scope.get(Website, website_id)
    pages = list(
        session.exec(
            scope.select(WebPage)
            .where(WebPage.website_id == site.id)
            .order_by(WebPage.depth, WebPage.created_at, WebPage.id)
            .limit(5000)
        )
    )
    ids = [p.document_id for p in pages if p.document_id]
    docs = {d.id: d for d in session.exec(scope.select(Document).where(col(Document.id).in_(ids)))}
    rows = []
    for p in pages:
        shown, reason = page_status(p, docs.get(p.document_id or ""))
        if status and shown != status:
            continue
        rows.append(
            {"id": p.id, "url": p.url, "status": shown, "reason": reason or "", "depth": p.depth}
        )
    return rows[:limit]


def counts(session: Session, tenant_id: str, website_id: str) -> dict[str, int]:
    """Pages by the status a person sees, in one grouped query (the page polls it)."""
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    out = {k: 0 for k in ("queued", "fetched", "indexed", "skipped", "failed")}
    query = (
        select(WebPage.status, Document.status, func.count())
        .select_from(WebPage)
        .join(Document, col(WebPage.document_id) == col(Document.id), isouter=True)
        .where(WebPage.tenant_id == tenant_id, WebPage.website_id == website_id)
        .group_by(WebPage.status, Document.status)
    )
    for page_state, doc_state, n in session.exec(query):
        shown = page_state
        if page_state == "fetched" and doc_state in ("ready", "failed"):
            shown = "indexed" if doc_state == "ready" else "failed"
        out[shown] = out.get(shown, 0) + int(n)
    return out


def website_view(session: Session, tenant_id: str, site: Website) -> dict[str, Any]:
    job = current_job(session, tenant_id, site.id)
    state = "idle"
    if job is not None:
        state = "cancelling" if job.cancel_requested and job.status in ACTIVE else str(job.status)
    return {
        "id": site.id,
        "url": site.start_url,
        "sitemap_url": site.sitemap_url,
        "scope": site.scope,
        "include": list(site.include),
        "exclude": list(site.exclude),
        "max_pages": site.max_pages,
        "max_depth": site.max_depth,
        "schedule": site.schedule,
        "status": state,
        "last_sync_at": site.last_sync_at.isoformat() if site.last_sync_at else None,
        "next_sync_at": site.next_sync_at.isoformat() if site.next_sync_at else None,
        "last_added": site.last_added,
        "last_changed": site.last_changed,
        "last_removed": site.last_removed,
        "pages": counts(session, tenant_id, site.id),
        "created_at": site.created_at.isoformat(),
    }


# ---- preview and workers --------------------------------------------------------------


def preview(session: Session, tenant_id: str, data: WebsiteInput) -> list[str]:
    """The first URLs a crawl would fetch: the start URL, then the sitemap's, else links."""
    values = _clean(session, tenant_id, data)
    site = Website(tenant_id=tenant_id, **values)
    runner_cfg = _config(get_settings())
    scope = CrawlScope(site.start_url, site.scope, site.include, site.exclude)
    with OutboundClient(runner_cfg.policy) as client:
        fetcher = PageFetcher(client, runner_cfg)
        robots = fetcher.robots(site.start_url)
        urls = [site.start_url]
        sitemap, _ok = fetcher.sitemap_pages(site, robots, scope)
        urls += [u for u in sitemap if u not in urls]
        if len(urls) < PREVIEW_SIZE:
            outcome = fetcher.fetch(site.start_url, etag=None, last_modified=None)
            if outcome.kind == "fail":
                raise WebsiteError(f"{site.start_url}: {outcome.reason}")
            urls += [u for u in outcome.links if scope.refusal(u) is None and u not in urls]
    return [u for u in urls if robots.allowed(u)][:PREVIEW_SIZE]


def _remove_document(session: Session, tenant_id: str, document_id: str) -> None:
    from app.services.vectors import get_store

    with contextlib.suppress(NotFoundError):
        delete_document(session, tenant_id, document_id, store=get_store())


def _config(settings: Settings) -> CrawlConfig:
    from app.services.ingestion import wake_workers

    return CrawlConfig(
        files_dir=settings.files_dir,
        policy=policy_from_settings(settings),
        max_file_bytes=settings.max_upload_bytes,
        concurrency_per_host=settings.crawl_concurrency_per_host,
        remove_document=_remove_document,
        on_document=wake_workers,
    )


def make_crawl_runner(
    settings: Settings | None = None, engine: Engine | None = None
) -> CrawlRunner:
    return CrawlRunner(engine or get_engine(), _config(settings or get_settings()))


_pool: Any = None
_lock = threading.Lock()


def start_crawl_workers(settings: Settings | None = None) -> None:
    """One crawl thread per process (fetching is I/O; indexing runs on the ingest workers)."""
    global _pool
    from app.rag.ingest import WorkerPool

    settings = settings or get_settings()
    with _lock:
        if _pool is not None or settings.ingest_workers == 0:
            return
        if settings.is_embedded:
            _requeue_orphans(get_engine())
        _pool = WorkerPool(lambda: make_crawl_runner(settings), threads=1, poll_s=5.0)  # type: ignore[arg-type, return-value]
        _pool.start()


def _requeue_orphans(engine: Engine) -> None:
    from sqlalchemy import update

    from app.db import session_scope

    with session_scope(engine, system=_CROSS_TENANT) as s:
        s.exec(  # type: ignore[call-overload]
            update(CrawlJob)
            .where(CrawlJob.status == JobStatus.running)
            .values(status=JobStatus.queued, worker_id=None, next_attempt_at=utcnow())
        )


def wake_crawl_workers() -> None:
    if _pool is not None:
        _pool.wake()


def stop_crawl_workers() -> None:
    global _pool
    with _lock:
        if _pool is not None:
            _pool.stop()
            _pool = None


def count_websites(session: Session, tenant_id: str) -> int:
    q = TenantScope(session, tenant_id).select(Website).with_only_columns(func.count())
    return int(session.exec(q.order_by(None)).one())


__all__ = ["WebsiteError", "WebsiteInput", "create_website", "select"]
