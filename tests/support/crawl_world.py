"""A test website (robots.txt, sitemap index, gzip sitemap, redirects, a loop, a 20 MB page,
a slow page, a binary, duplicates, an off-site link) and crawl runners pointed at it."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

from sqlalchemy import Engine

from app.services.crawl import CrawlConfig, CrawlRunner
from app.services.outbound import OutboundPolicy
from app.services.websites import _remove_document
from tests.support.http_site import HttpSite, Route, html, redirect


def article(title: str, body: str, links: list[str] | None = None) -> str:
    nav = " ".join(f'<a href="{href}">{href}</a>' for href in (links or []))
    return (
        f"<html><head><title>{title}</title></head><body><nav>{nav}</nav><main><h1>{title}</h1>"
        f"<p>{body}</p><h2>Details</h2><p>{body} This paragraph adds the details a reader of "
        f"the {title} page needs to follow it step by step.</p></main>"
        "<footer>Copyright 2026 Example Corp. All rights reserved.</footer></body></html>"
    )


def etagged(body: str) -> Route:
    """An HTML page that answers 304 to a matching If-None-Match."""
    tag = '"' + hashlib.sha1(body.encode()).hexdigest()[:16] + '"'
    return 200, {"Content-Type": "text/html; charset=utf-8", "ETag": tag}, body.encode()


def conditional(site: HttpSite, path: str) -> None:
    """Wrap a static route so it honours If-None-Match (what real servers do)."""
    status, headers, body = site.routes[path]  # type: ignore[misc]

    def route(handler):  # type: ignore[no-untyped-def]
        current = site.routes.get(path + "#static") or (status, headers, body)
        if handler.headers.get("If-None-Match") == current[1].get("ETag"):
            return 304, {"ETag": current[1]["ETag"]}, b""
        return current

    site.routes[path + "#static"] = (status, headers, body)
    site.routes[path] = route


def make_site() -> HttpSite:
    site = HttpSite()
    b = site.base
    install = article(
        "Install guide", "Run the installer with administrator rights; it takes five minutes."
    )
    site.routes.update(
        {
            "/robots.txt": (
                200,
                {"Content-Type": "text/plain"},
                f"User-agent: *\nDisallow: /private/\nSitemap: {b}/sitemap_index.xml\n".encode(),
            ),
            "/sitemap_index.xml": html(
                '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{b}/sitemap-pages.xml</loc></sitemap>"
                f"<sitemap><loc>{b}/sitemap-more.xml.gz</loc></sitemap></sitemapindex>"
            ),
            "/sitemap-pages.xml": _urlset(
                b, ["/", "/docs/install", "/docs/pricing", "/private/secret"]
            ),
            "/sitemap-more.xml.gz": (
                200,
                {"Content-Type": "application/gzip"},
                gzip.compress(
                    _urlset(b, ["/docs/faq", "/chain-start", "/loop-a", "/big", "/slow"])[2]
                ),
            ),
            "/": html(
                article(
                    "Welcome to Example Docs",
                    "Example Docs explain how to install, price and run the Example server.",
                    [
                        "/docs/install",
                        "/docs/install-copy",
                        "https://elsewhere.example/partner",
                        "/docs/manual.txt",
                        "/private/secret",
                        "/download/tool",
                    ],
                )
            ),
            "/docs/install": html(install),
            "/docs/install-copy": html(install),
            "/docs/pricing": html(
                article("Pricing", "The team plan costs 49 euros per month per workspace.")
            ),
            "/docs/faq": html(
                article("FAQ", "Backups run every night at two o'clock and are kept for 30 days.")
            ),
            "/docs/manual.txt": (
                200,
                {"Content-Type": "text/plain"},
                b"Operator manual. Restart the Example server with the restart command "
                b"after an upgrade.",
            ),
            "/private/secret": html(article("Secret", "Nobody should crawl this page.")),
            "/chain-start": redirect("/chain-2", 301),
            "/chain-2": redirect("/docs/moved"),
            "/docs/moved": html(
                article("Moved page", "Log files live in the var log example folder.")
            ),
            "/loop-a": redirect("/loop-b"),
            "/loop-b": redirect("/loop-a"),
            "/big": html("<p>" + "x" * (20 * 1024 * 1024) + "</p>"),
            "/slow": (-1, {}, article("Slow", "This page trickles in far too slowly.").encode()),
            "/download/tool": (
                200,
                {"Content-Type": "application/octet-stream"},
                b"\x7fELF\x02\x01" * 100,
            ),
        }
    )
    return site


def _urlset(base: str, paths: list[str]) -> Route:
    body = "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths)
    return html(f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{body}</urlset>')


def crawl_config(files_dir: Path, **policy: object) -> CrawlConfig:
    values: dict = {"allow_private": True, "total_timeout_s": 1.5, "read_timeout_s": 1.0}
    values.update(policy)
    return CrawlConfig(
        files_dir=files_dir,
        policy=OutboundPolicy(**values),
        max_file_bytes=5 << 20,
        remove_document=_remove_document,
    )


def crawl_runner(engine: Engine, files_dir: Path, **kw: object) -> CrawlRunner:
    worker_id = kw.pop("worker_id", None)
    stale = kw.pop("stale_after_s", None)
    config = crawl_config(files_dir, **kw)
    if stale is not None:
        config.stale_after_s = float(stale)  # type: ignore[arg-type]
    return CrawlRunner(engine, config, worker_id=worker_id)  # type: ignore[arg-type]
