"""Website crawls on SQLite and PostgreSQL against a real HTTP site on loopback."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import NotFoundError, session_scope
from app.models import AuditEvent, CrawlJob, Document, IngestJob, JobStatus, WebPage, Website
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import IngestConfig, JobRunner, stored_file
from app.services import accounts, websites
from app.services.vectors import get_store
from app.settings import get_settings
from tests.support.crawl_world import crawl_runner, make_site
from tests.support.http_site import HttpSite, html


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
    with session_scope(world.engine) as s:  # one audit event for the site, none per page
        events = s.exec(select(AuditEvent).where(AuditEvent.tenant_id == world.tenant)).all()
    deletions = [e for e in events if e.action.endswith(".deleted")]
    assert [(e.action, e.target_id) for e in deletions] == [("website.deleted", website_id)]
    assert deletions[0].diff["pages"]["before"] == len(doc_ids)


def test_per_host_concurrency_and_crawl_delay(world: World) -> None:
    from tests.support.crawl_world import article

    if world.engine.dialect.name != "sqlite":
        pytest.skip("the request pacing does not depend on the database")

    paths = [f"/p/{i}" for i in range(6)]
    for i, p in enumerate(paths):
        world.site.routes[p] = html_slow(article(f"Page {i}", f"Page {i} of the paced site."))
    world.site.routes["/p/"] = html_slow(article("Index", "Index of the paced site.", paths))
    website_id = world.add("/p/", scope="prefix")
    world.crawl()  # no crawl-delay: up to 2 requests at once, never more
    assert world.site.max_inflight == 2
    world.site.routes["/robots.txt"] = (200, {}, b"User-agent: *\nCrawl-delay: 0.25\n")
    world.site.starts.clear()
    with session_scope(world.engine) as s:
        websites.sync_now(s, world.tenant, website_id)
    world.crawl()
    starts = sorted(world.site.starts[1:])  # after robots.txt
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # Measured where the server sees them, so allow some scheduling jitter.
    assert len(starts) == 7 and min(gaps) >= 0.2, gaps


def html_slow(body: str):  # type: ignore[no-untyped-def]
    import time

    def route(_handler):  # type: ignore[no-untyped-def]
        time.sleep(0.3)  # long enough for a third request to overlap if one were sent
        return 200, {"Content-Type": "text/html"}, body.encode()

    return route


@pytest.mark.slow
def test_kill_9_mid_crawl_then_resume_crawls_each_page_once(world: World) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.support.crawl_world import article

    if world.engine.dialect.name != "sqlite":
        pytest.skip("one backend is enough for the process-kill path (the claim SQL is shared)")
    paths = [f"/k/{i}" for i in range(24)]
    for i, p in enumerate(paths):
        world.site.routes[p] = html_slow(article(f"Kill {i}", f"Kill test page {i} says {i * 3}."))
    world.site.routes["/k/"] = html_slow(article("Kill index", "Index.", paths))
    website_id = world.add("/k/", scope="prefix")
    root = Path(__file__).resolve().parents[2]
    url = world.engine.url.render_as_string(hide_password=False)
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.crawl_child", url, str(get_settings().files_dir)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            pages = world.pages(website_id)
            done = [u for u, (st, _) in pages.items() if u.startswith("/k/") and st != "queued"]
            if len(done) >= 6:
                break
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    pages = world.pages(website_id)
    assert any(st == "queued" for st, _ in pages.values()), "finished before it was killed"
    # (the sitemap's pages outside /k/ are noted as skipped: outside the path prefix)
    # Another worker takes the job over once the dead one's heartbeat is stale.
    assert world.crawl(stale_after_s=0) == 1
    pages = {u: v for u, v in world.pages(website_id).items() if u.startswith("/k/")}
    assert len(pages) == 25 and {st for st, _ in pages.values()} == {"fetched"}
    with session_scope(world.engine) as s:
        docs = s.exec(select(Document).where(Document.source == "web")).all()
        job = s.exec(select(CrawlJob)).one()
    assert len(docs) == 25 and len({d.source_url for d in docs}) == 25
    assert job.status == JobStatus.done and job.added == 25 and job.attempts == 2
    # Only pages in flight at the kill were fetched twice (at most one batch).
    refetched = [p for p in ["/k/", *paths] if world.site.hits(p) > 1]
    assert len(refetched) <= 8 and all(world.site.hits(p) <= 2 for p in paths)


def test_schedule_sitemap_drops_and_page_limit(world: World) -> None:
    from datetime import timedelta

    from app.models import utcnow
    from tests.support.crawl_world import article
    from tests.support.http_site import html

    def urlset(paths: list[str]) -> tuple[int, dict[str, str], bytes]:
        locs = "".join(f"<url><loc>{world.site.base}{p}</loc></url>" for p in paths)
        return html(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>')

    for name in ("a", "b", "c"):
        world.site.routes[f"/s/{name}"] = html(article(f"Page {name}", f"Sitemap page {name}."))
    world.site.routes["/s/"] = html(article("Start", "Sitemap start page."))
    world.site.routes["/s/sitemap.xml"] = urlset(["/s/a", "/s/b"])
    website_id = world.add(
        "/s/", scope="prefix", sitemap_url=world.site.base + "/s/sitemap.xml", schedule="weekly"
    )
    world.crawl()
    pages = world.pages(website_id)
    assert {u for u, (st, _) in pages.items() if st == "fetched"} == {"/s/", "/s/a", "/s/b"}
    with session_scope(world.engine) as s:
        site = s.get(Website, website_id)
        assert site.next_sync_at is not None
        assert timedelta(days=6) < site.next_sync_at - utcnow() <= timedelta(days=7)
        site.next_sync_at = utcnow() - timedelta(minutes=1)  # due
        site.max_pages = 3  # a new link no longer fits
        s.add(site)
    world.site.routes["/s/sitemap.xml"] = urlset(["/s/a"])  # /s/b dropped from the sitemap
    world.site.routes["/s/"] = html(article("Start", "Sitemap start page.", ["/s/c"]))
    runner = crawl_runner(world.engine, get_settings().files_dir)
    assert runner.run_once() is True  # the scheduler queued the due sync, and it ran
    pages = world.pages(website_id)
    assert pages["/s/b"] == (
        "failed",
        "no longer in the sitemap (removed if still missing at the next sync)",
    )
    assert pages["/s/c"] == ("skipped", "over the website's page limit")
    assert world.site.hits("/s/c") == 0
    assert runner.run_once() is False  # next sync is a week away again
    with session_scope(world.engine) as s:
        websites.sync_now(s, world.tenant, website_id)
    world.crawl()
    assert "/s/b" not in world.pages(website_id)
    with session_scope(world.engine) as s:
        site = s.get(Website, website_id)
        assert site.last_removed == 1
        urls = {d.source_url for d in s.exec(select(Document).where(Document.source == "web"))}
    # With /s/b gone there is room again for the linked page.
    assert urls == {world.site.base + p for p in ("/s/", "/s/a", "/s/c")}


def test_cancel_a_running_crawl(world: World) -> None:
    import threading
    import time

    from tests.support.crawl_world import article

    paths = [f"/c/{i}" for i in range(20)]
    for i, p in enumerate(paths):
        world.site.routes[p] = html_slow(article(f"C {i}", f"Cancel test page {i}."))
    world.site.routes["/c/"] = html(article("C index", "Index.", paths))
    website_id = world.add("/c/", scope="prefix")
    crawler = threading.Thread(target=world.crawl)
    crawler.start()
    deadline = time.monotonic() + 30
    while world.site.hits("/c/0") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    with session_scope(world.engine) as s:
        job = websites.cancel(s, world.tenant, website_id)
        assert job is not None and job.cancel_requested
    crawler.join(30)
    assert not crawler.is_alive()
    pages = {u: v for u, v in world.pages(website_id).items() if u.startswith("/c/")}
    cancelled = [u for u, v in pages.items() if v == ("skipped", "crawl cancelled")]
    fetched = [u for u, (st, _) in pages.items() if st == "fetched"]
    assert cancelled and fetched and len(cancelled) + len(fetched) == 21
    assert sum(world.site.hits(p) for p in paths) == len(fetched) - 1  # the rest never asked
    with session_scope(world.engine) as s:
        view = websites.website_view(
            s, world.tenant, websites.get_website(s, world.tenant, website_id)
        )
    assert view["status"] == "cancelled"
