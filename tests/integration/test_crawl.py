"""Website crawls on SQLite and PostgreSQL against a real HTTP site on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import NotFoundError, session_scope
from app.models import CrawlJob, Document, IngestJob, JobStatus, WebPage, Website
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import IngestConfig, JobRunner, stored_file
from app.services import accounts, websites
from app.services.vectors import get_store
from app.settings import get_settings
from tests.support.crawl_world import crawl_runner, make_site
from tests.support.http_site import HttpSite


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


@dataclass
class World:
    engine: Engine
    site: HttpSite
    tenant: str
    other: str

    def add(self, path: str = "/", **kw: object) -> str:
        with session_scope(self.engine) as s:
            data = websites.WebsiteInput(url=self.site.base + path, **kw)  # type: ignore[arg-type]
            return websites.create_website(s, self.tenant, data).id

    def crawl(self, **kw: object) -> int:
        return crawl_runner(self.engine, get_settings().files_dir, **kw).drain()

    def pages(self, website_id: str) -> dict[str, tuple[str, str]]:
        with session_scope(self.engine) as s:
            rows = websites.page_rows(s, self.tenant, website_id, limit=10_000)
        base = self.site.base
        return {r["url"].removeprefix(base): (r["status"], r["reason"]) for r in rows}


@pytest.fixture
def world(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "true")
    with session_scope(engine) as s:
        _, a = accounts.sign_up(s, "crawl-a@a.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "crawl-b@b.io", "a-long-password", "B")
    with make_site() as site:
        yield World(engine, site, a.id, b.id)


def _ingest(engine: Engine, embedder: LocalEmbedder) -> int:
    settings = get_settings()
    runner = JobRunner(
        engine,
        get_store(),
        embedder,
        IngestConfig(files_dir=settings.files_dir, max_upload_bytes=settings.max_upload_bytes),
    )
    return runner.drain()


def test_crawl_indexes_exactly_the_right_pages(world: World, embedder: LocalEmbedder) -> None:
    website_id = world.add()
    assert world.crawl() == 1
    _ingest(world.engine, embedder)
    pages = world.pages(website_id)
    indexed = sorted(u for u, (st, _) in pages.items() if st == "indexed")
    assert indexed == [
        "/",
        "/chain-start",
        "/docs/faq",
        "/docs/install",
        "/docs/manual.txt",
        "/docs/pricing",
    ]
    assert pages["/docs/install-copy"] == (
        "skipped",
        f"same content as {world.site.base}/docs/install",
    )
    assert pages["/private/secret"] == ("skipped", "blocked by robots.txt")
    assert pages["/loop-a"] == ("failed", "The redirects loop.")
    assert pages["/big"][0] == "skipped" and "larger than 10 MB" in pages["/big"][1]
    assert pages["/slow"][0] == "failed" and "too long" in pages["/slow"][1]
    assert pages["/download/tool"] == (
        "skipped",
        "not a page or document (application/octet-stream)",
    )
    assert pages["https://elsewhere.example/partner"] == ("skipped", "off-site link")
    # Nothing disallowed or off-site was requested; each page once.
    assert world.site.hits("/private/secret") == 0
    for path in ("/", "/docs/install", "/docs/install-copy", "/docs/faq"):
        assert world.site.hits(path) == 1
    # Chunks carry their page URL (the redirect chain's final address), tenant-scoped.
    with session_scope(world.engine) as s:
        docs = s.exec(select(Document).where(Document.tenant_id == world.tenant)).all()
        by_url = {d.source_url: d for d in docs}
    moved = by_url[f"{world.site.base}/docs/moved"]
    assert moved.title == "Moved page" and moved.status == "ready"
    hits, _ = get_store().scroll(world.tenant, limit=200)
    assert {h.url for h in hits} == set(by_url)
    assert get_store().scroll(world.other, limit=10)[0] == []
    with session_scope(world.engine) as s:
        view = websites.website_view(
            s, world.tenant, websites.get_website(s, world.tenant, website_id)
        )
    assert view["status"] == "done" and view["last_added"] == 6 and view["pages"]["indexed"] == 6


def test_resync_unchanged_changed_and_removed(world: World, embedder: LocalEmbedder) -> None:
    from tests.support.crawl_world import article, conditional, etagged

    paths = [f"/kb/{i}" for i in range(20)]
    body = "".join(f'<a href="{p}">{p}</a>' for p in paths)
    world.site.routes["/kb/"] = etagged(
        article("Knowledge base", "All the articles.", paths) + body
    )
    for i, p in enumerate(paths):
        world.site.routes[p] = etagged(article(f"Article {i}", f"Article number {i} says {i * 7}."))
        conditional(world.site, p)
    conditional(world.site, "/kb/")
    website_id = world.add("/kb/", scope="prefix")
    world.crawl()
    _ingest(world.engine, embedder)
    with session_scope(world.engine) as s:
        assert len(s.exec(select(Document).where(Document.source == "web")).all()) == 21

    def sync() -> CrawlJob:
        with session_scope(world.engine) as s:
            job_id = websites.sync_now(s, world.tenant, website_id).id
        world.crawl()
        with session_scope(world.engine) as s:
            return s.get(CrawlJob, job_id)

    before = len(world.site.requests)
    job = sync()
    assert (job.added, job.changed, job.removed, job.unchanged) == (0, 0, 0, 21)
    page_requests = [p for p, _ in world.site.requests[before:] if p.startswith("/kb/")]
    assert len(page_requests) == 21  # one request per page
    assert _ingest(world.engine, embedder) == 0  # nothing embedded

    world.site.routes["/kb/3#static"] = etagged(
        article("Article 3", "Article three was rewritten.")
    )
    del world.site.routes["/kb/7"], world.site.routes["/kb/8"]
    job = sync()
    assert (job.changed, job.removed) == (1, 0)
    assert _ingest(world.engine, embedder) == 1
    pages = world.pages(website_id)
    assert pages["/kb/7"][0] == "failed" and "HTTP 404" in pages["/kb/7"][1]
    job = sync()
    assert job.removed == 2 and "/kb/7" not in world.pages(website_id)
    with session_scope(world.engine) as s:
        urls = {d.source_url for d in s.exec(select(Document).where(Document.source == "web"))}
        site = s.get(Website, website_id)
        assert (site.last_removed, site.last_changed) == (2, 0)
    assert f"{world.site.base}/kb/7" not in urls and len(urls) == 19
    hits, _ = get_store().scroll(world.tenant, limit=500)
    assert any("rewritten" in h.text for h in hits)
    assert not any(h.url and h.url.endswith(("/kb/7", "/kb/8")) for h in hits)


def test_cancel_delete_and_tenancy(world: World, embedder: LocalEmbedder) -> None:
    website_id = world.add()
    with session_scope(world.engine) as s:
        for call in (websites.get_website, websites.sync_now, websites.cancel):
            with pytest.raises(NotFoundError):
                call(s, world.other, website_id)
        job = websites.cancel(s, world.tenant, website_id)
        assert job is not None and job.status == JobStatus.cancelled
    assert world.crawl() == 0  # nothing left to run
    with session_scope(world.engine) as s:
        websites.sync_now(s, world.tenant, website_id)
    world.crawl()
    _ingest(world.engine, embedder)
    files = get_settings().files_dir
    with session_scope(world.engine) as s:
        doc_ids = [d.id for d in s.exec(select(Document).where(Document.source == "web"))]
        assert doc_ids and all(stored_file(files, world.tenant, d).exists() for d in doc_ids)
        with pytest.raises(NotFoundError):
            websites.delete_website(s, world.other, website_id, store=get_store())
        websites.delete_website(s, world.tenant, website_id, store=get_store())
    with session_scope(world.engine) as s:
        assert s.exec(select(WebPage)).all() == []
        assert s.exec(select(Document)).all() == []
        assert s.exec(select(IngestJob)).all() == []
    assert get_store().scroll(world.tenant, limit=10)[0] == []
    assert not any(stored_file(files, world.tenant, d).exists() for d in doc_ids)
