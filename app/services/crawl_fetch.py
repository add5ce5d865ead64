"""One page's fetch and extraction, and a website's robots.txt and sitemaps (no database).

Runs on the crawl's fetch threads: the request goes through the SSRF-guarded outbound
client; HTML is reduced to its main text by `app.rag.web.WebPageReader` here, so the
database transaction that records the outcome stays short.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.rag.web import (
    FILE_EXTENSIONS,
    FILE_TYPES,
    HTML_TYPES,
    CrawlScope,
    Robots,
    WebPageReader,
    file_name_for,
    html_links,
    normalize_url,
    page_markdown,
    parse_sitemap,
    url_extension,
)
from app.services.outbound import (
    BlockedURLError,
    FetchTimeoutError,
    OutboundClient,
    OutboundError,
    TooLargeError,
    TooManyRedirectsError,
)

if TYPE_CHECKING:
    from app.models import Website
    from app.services.crawl import CrawlConfig

MAX_SITEMAPS = 50
MAX_NOTES = 100  # out-of-scope sitemap entries recorded as skipped, per run


@dataclass
class PageOutcome:
    kind: str  # ok | unchanged | gone | skip | fail
    reason: str | None = None
    final_url: str | None = None
    links: list[str] = field(default_factory=list)
    canonical: str | None = None
    noindex: bool = False
    nofollow: bool = False
    document_bytes: bytes | None = None  # what is stored and indexed (Markdown or the file)
    filename: str = "page.md"
    title: str = ""
    text_hash: str = ""
    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def skip(cls, reason: str) -> PageOutcome:
        return cls("skip", reason)

    @classmethod
    def fail(cls, reason: str) -> PageOutcome:
        return cls("fail", reason)


class PageFetcher:
    def __init__(self, client: OutboundClient, config: CrawlConfig) -> None:
        self.client = client
        self.config = config
        self.reader = WebPageReader()

    def robots(self, start_url: str) -> Robots:
        parts = urlsplit(start_url)
        try:
            res = self.client.get(f"{parts.scheme}://{parts.netloc}/robots.txt")
            text = res.content.decode("utf-8", "replace") if res.status == 200 else None
        except OutboundError:
            text = None
        return Robots(text, self.client.policy.user_agent)

    def sitemap_pages(
        self, site: Website, robots: Robots, scope: CrawlScope, refused: list | None = None
    ) -> tuple[list[str], bool]:
        """In-scope page URLs of the website's sitemaps (index files followed), and whether
        a sitemap was read at all (only then can a page be "dropped from the sitemap").
        Out-of-scope ones go to `refused` as (url, reason)."""
        todo = [site.sitemap_url] if site.sitemap_url else list(robots.sitemaps)
        seen: set[str] = set()
        pages: list[str] = []
        read_any = False
        while todo and len(seen) < MAX_SITEMAPS:
            url = normalize_url(todo.pop(0) or "")
            if not url or url in seen:
                continue
            seen.add(url)
            try:
                res = self.client.get(url)
            except OutboundError:
                continue
            if res.status != 200:
                continue
            read_any = True
            parsed = parse_sitemap(res.content, res.url)
            todo.extend(parsed.sitemaps)
            for page in parsed.pages:
                why = scope.refusal(page)
                if why is None and page not in pages:
                    pages.append(page)
                elif why is not None and refused is not None and len(refused) < MAX_NOTES:
                    refused.append((page, why))
        return pages, read_any

    def fetch(self, url: str, *, etag: str | None, last_modified: str | None) -> PageOutcome:
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            res = self.client.get(url, headers=headers)
        except TooLargeError as exc:
            return PageOutcome.skip(exc.reason)
        except TooManyRedirectsError as exc:
            return PageOutcome.fail(exc.reason)
        except FetchTimeoutError as exc:
            return PageOutcome.fail(exc.reason)
        except BlockedURLError as exc:
            return PageOutcome.fail(f"Refused: {exc.reason}")
        except OutboundError as exc:
            return PageOutcome.fail(exc.reason)
        validators = {
            "etag": res.headers.get("etag"),
            "last_modified": res.headers.get("last-modified"),
        }
        if res.status == 304:
            return PageOutcome("unchanged", **validators)
        if res.status in (404, 410):
            return PageOutcome("gone", f"HTTP {res.status}")
        if res.status >= 400 or res.status < 200:
            return PageOutcome.fail(f"HTTP {res.status}")
        final = normalize_url(res.url) or url
        ctype = res.content_type
        ext = url_extension(final)
        if ctype in HTML_TYPES or (not ctype and res.content.lstrip()[:1] == b"<"):
            return self._html(res.content, final, validators)
        if ctype in FILE_TYPES or (
            ctype in ("", "application/octet-stream", "text/plain") and ext in FILE_EXTENSIONS
        ):
            if not res.content.strip():
                return PageOutcome.skip("empty file")
            name = file_name_for(final, ctype)
            return PageOutcome(
                "ok",
                final_url=final,
                document_bytes=res.content,
                filename=name,
                title=name.rsplit(".", 1)[0],
                text_hash=hashlib.sha256(res.content).hexdigest(),
                **validators,
            )
        return PageOutcome.skip(f"not a page or document ({ctype or 'unknown type'})")

    def _html(self, data: bytes, final: str, validators: dict) -> PageOutcome:
        found = html_links(data, final)
        outcome = PageOutcome(
            "ok",
            final_url=final,
            links=found.links,
            canonical=found.canonical,
            noindex=found.noindex,
            nofollow=found.nofollow,
            **validators,
        )
        docs = self.reader.load_data(data, final, "text/html", tenant_id="-", document_id="-")
        markdown = page_markdown(docs)
        if not markdown.strip():
            outcome.reason = "no main text found"
            return outcome
        outcome.document_bytes = markdown.encode("utf-8")
        outcome.title = str(docs[0].metadata.get("title") or final)[:300]
        outcome.text_hash = hashlib.sha256(outcome.document_bytes).hexdigest()
        return outcome
