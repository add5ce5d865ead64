"""Recording one fetched page: its status, discovered links and Document, in one transaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, col, func, select

from app.models import CrawlJob, Document, IngestJob, JobStatus, WebPage, Website, utcnow
from app.rag.ingest import stored_file
from app.rag.web import CrawlScope
from app.services.crawl_fetch import PageOutcome
from app.services.documents import _write_atomically

if TYPE_CHECKING:
    from app.services.crawl import CrawlRunner

MAX_NOTES_PER_PAGE = 20  # skipped-link notes (off-site, too deep...) recorded per page


def record_outcome(
    runner: CrawlRunner,
    s: Session,
    job: CrawlJob,
    page: WebPage,
    o: PageOutcome,
    scope: CrawlScope,
    site: Website,
) -> None:
    page.fetched_at = utcnow()
    s.add(page)
    s.add(job)
    if o.kind in ("skip", "fail"):
        page.status = "skipped" if o.kind == "skip" else "failed"
        page.reason = (o.reason or "")[:500]
        return
    if o.kind == "gone":
        if page.document_id:
            runner._miss(s, job, page, o.reason or "gone")
        else:
            page.status, page.reason = "failed", o.reason
        return
    page.misses = 0
    page.etag, page.last_modified = o.etag or page.etag, o.last_modified or page.last_modified
    if o.kind == "unchanged":
        page.status, page.reason = "fetched", None
        job.unchanged += 1
        return
    final = o.final_url or page.url
    if final != page.url:
        why = scope.refusal(final)
        if why:
            _skip(page, f"redirects to an {why}: {final}")
            return
        other = _page(s, site.id, final)
        if other is not None and other.id != page.id:
            _skip(page, f"redirects to {final}, which is crawled as its own page")
            return
    if not o.nofollow and page.depth < site.max_depth:
        _discover(s, job, page, o.links, scope, site)
    if o.canonical and o.canonical not in (page.url, final) and not scope.refusal(o.canonical):
        if _page(s, site.id, o.canonical) is None and _room(s, site):
            s.add(_new_page(site, job, o.canonical, page.depth))
        _skip(page, f"its canonical URL is {o.canonical}")
        return
    if o.noindex:
        _skip(page, "marked noindex")
        return
    if o.document_bytes is None:
        _skip(page, o.reason or "no main text found")
        return
    _store(runner, s, job, page, o, site)


def _skip(page: WebPage, reason: str) -> None:
    page.status, page.reason = "skipped", reason[:500]


def _page(s: Session, website_id: str, url: str) -> WebPage | None:
    return s.exec(
        select(WebPage).where(WebPage.website_id == website_id, WebPage.url == url)
    ).first()


def _room(s: Session, site: Website) -> bool:
    """Fewer than max_pages pages are (or will be) crawled."""
    counted = s.exec(
        select(func.count())
        .select_from(WebPage)
        .where(WebPage.website_id == site.id, WebPage.status != "skipped")
    ).one()
    return int(counted) < site.max_pages


def _new_page(site: Website, job: CrawlJob, url: str, depth: int, **kw: object) -> WebPage:
    return WebPage(
        tenant_id=site.tenant_id, website_id=site.id, url=url, depth=depth, run_id=job.id, **kw
    )


def _discover(
    s: Session, job: CrawlJob, page: WebPage, links: list[str], scope: CrawlScope, site: Website
) -> None:
    if not links:
        return
    known = set(
        s.exec(
            select(WebPage.url).where(
                WebPage.website_id == site.id, col(WebPage.url).in_(links[:2000])
            )
        )
    )
    notes = 0
    room = _room(s, site)
    for link in links[:2000]:
        if link in known or link == page.url:
            continue
        known.add(link)
        why = scope.refusal(link)
        if why is None and not room:
            why = "over the website's page limit"
        if why is not None:
            if notes < MAX_NOTES_PER_PAGE:
                s.add(_new_page(site, job, link, page.depth + 1, status="skipped", reason=why))
                notes += 1
            continue
        s.add(_new_page(site, job, link, page.depth + 1))
        s.flush()
        room = _room(s, site)


def _store(
    runner: CrawlRunner, s: Session, job: CrawlJob, page: WebPage, o: PageOutcome, site: Website
) -> None:
    """Add, change or keep the page's Document; an identical text elsewhere is a duplicate."""
    doc = s.get(Document, page.document_id) if page.document_id else None
    page.status, page.reason = "fetched", None
    if doc is not None and doc.content_hash == o.text_hash:
        job.unchanged += 1
        page.content_hash = o.text_hash
        return
    twin = s.exec(
        select(Document).where(
            Document.tenant_id == site.tenant_id, Document.content_hash == o.text_hash
        )
    ).first()
    if twin is not None and (doc is None or twin.id != doc.id):
        _skip(page, f"same content as {twin.source_url or twin.title}")
        if doc is not None:
            runner.remove_document(s, site.tenant_id, doc.id)
            page.document_id = None
        return
    data = o.document_bytes or b""
    kind = o.filename.rsplit(".", 1)[-1].lower() if "." in o.filename else "md"
    if doc is None:
        doc = Document(tenant_id=site.tenant_id, title=o.title, source="web", content_hash="")
        job.added += 1
    else:
        job.changed += 1
    doc.title, doc.filename, doc.kind = (o.title or page.url)[:300], o.filename[:300], kind
    doc.content_hash, doc.size_bytes, doc.source_url = (
        o.text_hash,
        len(data),
        o.final_url or page.url,
    )
    doc.status, doc.progress, doc.error, doc.step = "queued", 0, None, "Waiting for a worker"
    path = stored_file(runner.config.files_dir, site.tenant_id, doc.id)
    _write_atomically(path, data)
    doc.storage_path = str(path.relative_to(runner.config.files_dir))
    s.add(doc)
    s.flush()
    busy = s.exec(
        select(IngestJob.id).where(
            IngestJob.document_id == doc.id, IngestJob.status == JobStatus.queued
        )
    ).first()
    if busy is None:
        s.add(IngestJob(tenant_id=site.tenant_id, document_id=doc.id))
    page.document_id, page.content_hash = doc.id, o.text_hash
