"""Web pages as LlamaIndex `Document`s, and the pure rules of a polite crawl.

Nothing here touches the network or the database: the crawl service fetches (through the
SSRF-guarded outbound client) and hands the bytes in.

- `WebPageReader` (a `BaseReader`): fetched HTML -> main text with trafilatura (navigation,
  footers, cookie banners and scripts dropped) -> one `Document` per heading section, with
  the page's title, the heading as `section` and the page `url` in the metadata. Other
  accepted files (PDF, DOCX, TXT, MD) are parsed by the sandboxed file reader, also with
  the `url`.
- `page_markdown`: a page's Documents as Markdown (front-matter title + headings), the form
  a crawled page is stored and (re-)indexed in, so a model switch re-indexes it like a file.
- URL normalization (fragments, default ports, canonical links), link discovery, scope and
  include/exclude rules, sitemaps (index files and gzip too) and robots.txt.
"""

from __future__ import annotations

import fnmatch
import gzip
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.robotparser import RobotFileParser

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document, NodeRelationship, RelatedNodeInfo
from lxml import etree
from lxml import html as lxml_html

from app.rag.readers import HIDDEN_KEYS, SandboxedFileReader, section_document_id

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
# Linked files the sandboxed parser reads; anything else is skipped as "not a document".
FILE_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "text/x-markdown": ".md",
}
FILE_EXTENSIONS = frozenset({".pdf", ".docx", ".txt", ".md", ".markdown"})
# Links whose extension says they are not pages nor accepted files: not even requested.
_SKIPPED = ".png .jpg .jpeg .gif .webp .svg .ico .css .js .mjs .json .zip .gz .tgz .rar .7z"
_SKIPPED += " .mp3 .mp4 .webm .avi .mov .woff .woff2 .ttf .otf .exe .dmg .iso .bin .apk .xls"
SKIP_EXTENSIONS = frozenset([*_SKIPPED.split(), ".xlsx", ".ppt", ".pptx", ".csv"])
SITEMAP_MAX_URLS = 50_000


# ---- URLs -----------------------------------------------------------------------------


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Absolute, fragment-free, lower-case scheme/host, no default port; None if not http(s)."""
    try:
        full = urljoin(base, url.strip()) if base else url.strip()
        parts = urlsplit(full)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port and port != (443 if scheme == "https" else 80):
        host = f"{host}:{port}"
    path = parts.path or "/"
    if "/." in path:  # resolve ./ and ../ while keeping a trailing slash
        trailing = path.endswith("/")
        path = posixpath.normpath(path)
        path = path + "/" if trailing and not path.endswith("/") else path
        path = "/" + path.lstrip("/")
    return urlunsplit((scheme, host, path, parts.query, ""))


def url_extension(url: str) -> str:
    return posixpath.splitext(urlsplit(url).path)[1].lower()


def file_name_for(url: str, content_type: str) -> str:
    """A file name the sandboxed parser accepts, from the URL or the content type."""
    name = posixpath.basename(urlsplit(url).path) or "index"
    ext = posixpath.splitext(name)[1].lower()
    if ext not in FILE_EXTENSIONS:
        name = name + FILE_TYPES.get(content_type, ".txt")
    return name[-150:]


@dataclass
class HtmlLinks:
    links: list[str]
    canonical: str | None
    noindex: bool = False
    nofollow: bool = False


def html_links(data: bytes, url: str) -> HtmlLinks:
    """Links (normalized, in page order), canonical URL and robots meta of an HTML page."""
    try:
        root = lxml_html.fromstring(data)
    except (etree.ParserError, ValueError):
        return HtmlLinks([], None)
    base = url
    for href in root.xpath("//base/@href")[:1]:
        base = urljoin(url, str(href))
    canonical = None
    for href in root.xpath("//link[translate(@rel,'CANONICAL','canonical')='canonical']/@href"):
        canonical = normalize_url(str(href), base)
        break
    robots = " ".join(str(c) for c in root.xpath("//meta[@name='robots']/@content")).lower()
    links: list[str] = []
    seen: set[str] = set()
    for a in root.xpath("//a[@href]"):
        if "nofollow" in str(a.get("rel") or "").lower():
            continue
        found = normalize_url(str(a.get("href")), base)
        if found and found not in seen:
            seen.add(found)
            links.append(found)
    return HtmlLinks(links, canonical, "noindex" in robots, "nofollow" in robots)


# ---- scope ----------------------------------------------------------------------------


@dataclass
class CrawlScope:
    """Which URLs belong to a website: host / host and subdomains / path prefix, then the
    include patterns (any must match, when given) and the exclude patterns (none may)."""

    start_url: str
    mode: str = "host"  # host | subdomains | prefix
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        parts = urlsplit(self.start_url)
        self.host = (parts.hostname or "").lower()
        self.netloc = parts.netloc.lower()
        self.root = self.host.removeprefix("www.")
        path = parts.path or "/"
        self.prefix = path if path.endswith("/") else path.rsplit("/", 1)[0] + "/"

    def refusal(self, url: str) -> str | None:
        """Why `url` is outside the website, or None when it is in."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if self.mode == "subdomains":
            if host != self.root and not host.endswith("." + self.root):
                return "off-site link"
        elif parts.netloc.lower() != self.netloc:
            return "off-site link"
        if self.mode == "prefix" and not (parts.path or "/").startswith(self.prefix):
            return "outside the path prefix"
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        if self.include and not any(_matches(p, url, target) for p in self.include):
            return "not matched by the include patterns"
        if any(_matches(p, url, target) for p in self.exclude):
            return "excluded by a pattern"
        return None


def _matches(pattern: str, url: str, path: str) -> bool:
    """Glob (`/docs/*`, `*.pdf`) against the path or the whole URL; `re:` for a regex."""
    pattern = pattern.strip()
    if not pattern:
        return False
    if pattern.startswith("re:"):
        try:
            return re.search(pattern[3:], url) is not None
        except re.error:
            return False
    return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(url, pattern)


# ---- sitemaps and robots.txt ----------------------------------------------------------


@dataclass
class Sitemap:
    pages: list[str]
    sitemaps: list[str]  # children of a sitemap index


def parse_sitemap(data: bytes, url: str) -> Sitemap:
    """A sitemap or sitemap index (gzip-compressed or not); plain-text URL lists too."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.GzipFile(fileobj=_Limited(data)).read(64 * 1024 * 1024)
    pages: list[str] = []
    children: list[str] = []
    stripped = data.lstrip()
    if not stripped.startswith(b"<"):
        for line in data.decode("utf-8", "replace").splitlines()[:SITEMAP_MAX_URLS]:
            if found := normalize_url(line.strip(), url):
                pages.append(found)
        return Sitemap(pages, [])
    if b"<!ENTITY" in stripped[:4096]:
        return Sitemap([], [])  # entity tricks (billion laughs, XXE) have no place in a sitemap
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(stripped, parser)
    except etree.XMLSyntaxError:
        return Sitemap([], [])
    is_index = etree.QName(root).localname == "sitemapindex"
    for loc in root.iter("{*}loc"):
        text = (loc.text or "").strip()
        found = normalize_url(text, url) if text else None
        if found:
            (children if is_index else pages).append(found)
        if len(pages) + len(children) >= SITEMAP_MAX_URLS:
            break
    return Sitemap(pages, children)


class _Limited:
    """A file over bytes (gzip reads from it)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self.data) if n < 0 else self.pos + n
        out = self.data[self.pos : end]
        self.pos += len(out)
        return out


class Robots:
    """robots.txt rules for our user agent (allow-all when missing or unreadable)."""

    def __init__(self, text: str | None, user_agent: str) -> None:
        self.user_agent = user_agent.split("/", 1)[0]  # "ChatConnectBot"
        self.parser = RobotFileParser()
        self.parser.parse((text or "").splitlines())
        self.sitemaps = list(self.parser.site_maps() or []) if text else []
        self._delay = _crawl_delay(text or "", self.user_agent.lower())

    def allowed(self, url: str) -> bool:
        return self.parser.can_fetch(self.user_agent, url)

    @property
    def crawl_delay(self) -> float:
        return self._delay


def _crawl_delay(text: str, agent: str) -> float:
    """Crawl-delay of our group, else of `*` (urllib's parser drops fractional values)."""
    found: dict[str, float] = {}
    agents: list[str] = []
    in_rules = False
    for raw in text.splitlines():
        key, _, value = raw.split("#", 1)[0].partition(":")
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.lower())
        elif key in ("allow", "disallow", "crawl-delay"):
            in_rules = True
            if key == "crawl-delay":
                try:
                    delay = max(0.0, min(float(value), 60.0))
                except ValueError:
                    continue
                for name in agents:
                    found.setdefault(name, delay)
    mine = next((d for name, d in found.items() if name != "*" and name in agent), None)
    return mine if mine is not None else found.get("*", 0.0)


# ---- the reader -----------------------------------------------------------------------


def extract_main_text(data: bytes) -> tuple[str, str | None]:
    """(Markdown of the main text, page title) by trafilatura."""
    import trafilatura

    text = trafilatura.extract(
        data,
        output_format="markdown",
        include_tables=True,
        include_links=False,
        include_images=False,
        include_comments=False,
        favor_recall=True,
    )
    meta = trafilatura.extract_metadata(data)
    return text or "", (meta.title if meta is not None else None)


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_sections(markdown: str) -> Iterator[tuple[str | None, str]]:
    """(heading, text) per heading section of trafilatura's Markdown."""
    heading: str | None = None
    buf: list[str] = []
    for line in markdown.splitlines():
        m = _HEADING.match(line)
        if m:
            if "".join(buf).strip():
                yield heading, "\n".join(buf).strip()
            heading, buf = m.group(2).strip() or heading, []
        else:
            buf.append(line)
    if "".join(buf).strip():
        yield heading, "\n".join(buf).strip()


class WebPageReader(BaseReader):
    """Fetched bytes of one URL -> section `Document`s carrying the page `url`."""

    def __init__(self, files: SandboxedFileReader | None = None) -> None:
        self.files = files

    def lazy_load_data(  # type: ignore[override]
        self,
        data: bytes,
        url: str,
        content_type: str = "text/html",
        *,
        tenant_id: str,
        document_id: str,
    ) -> Iterable[Document]:
        if content_type in HTML_TYPES:
            markdown, title = extract_main_text(data)
            sections = list(markdown_sections(markdown))
            title = (title or next((h for h, _ in sections if h), None) or url)[:300]
            for i, (heading, text) in enumerate(sections):
                yield _document(i, text, heading, None, title, url, tenant_id, document_id)
            return
        if self.files is None:
            raise ValueError(f"{content_type} needs the sandboxed file reader")
        parsed = self.files.parse(data, file_name_for(url, content_type))
        for i, section in enumerate(parsed.sections):
            yield _document(
                i,
                section.text,
                section.section,
                section.page,
                parsed.title or url,
                url,
                tenant_id,
                document_id,
                kind=parsed.kind,
            )

    def load_data(self, *args: Any, **kwargs: Any) -> list[Document]:  # type: ignore[override]
        return list(self.lazy_load_data(*args, **kwargs))


def _document(
    index: int,
    text: str,
    section: str | None,
    page: int | None,
    title: str,
    url: str,
    tenant_id: str,
    document_id: str,
    kind: str = "html",
) -> Document:
    doc = Document(
        id_=section_document_id(document_id, index),
        text=text,
        metadata={
            "tenant_id": tenant_id,
            "document_id": document_id,
            "title": title,
            "page": page,
            "section": section,
            "kind": kind,
            "url": url,
        },
        excluded_embed_metadata_keys=list(HIDDEN_KEYS),
        excluded_llm_metadata_keys=list(HIDDEN_KEYS),
    )
    doc.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=document_id)
    return doc


def page_markdown(documents: Iterable[Document]) -> str:
    """A page's sections as one Markdown file: title in front matter, a heading per section."""
    docs = list(documents)
    if not docs:
        return ""
    title = str(docs[0].metadata.get("title") or "").replace("\n", " ").strip()
    out = [f'---\ntitle: "{title}"\n---', ""] if title else []
    for doc in docs:
        if doc.metadata.get("section"):
            out += [f"## {doc.metadata['section']}", ""]
        out += [doc.text.strip(), ""]
    return "\n".join(out).strip() + "\n"
