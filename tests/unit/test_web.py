"""Pure crawl rules and the web page reader (no network)."""

from __future__ import annotations

import gzip

from app.rag.web import (
    CrawlScope,
    Robots,
    WebPageReader,
    html_links,
    normalize_url,
    page_markdown,
    parse_sitemap,
)

PAGE = b"""<html><head><title>Install guide - Acme Docs</title>
<link rel="canonical" href="/docs/install"></head><body>
<nav><a href="/">Home</a> <a href="/pricing#plans">Pricing</a> <a href="https://other.test/x">Out</a></nav>
<div class="cookie-banner">We use cookies. Accept all cookies to continue.</div>
<main><h1>Install guide</h1>
<p>To install Acme, download the installer from the portal and run it with administrator
rights. The installation takes about five minutes on a typical machine.</p>
<h2>Requirements</h2><p>Acme needs 4 GB of memory and 2 GB of free disk space on Windows
or Linux machines, and a database it can reach over the network.</p>
<a href="../docs/./guide.pdf#page=2">Guide</a> <a rel="nofollow" href="/login">Log in</a>
</main><footer>Copyright 2026 Acme. Privacy policy. Terms of service.</footer>
<script>var tracking = "secret";</script></body></html>"""


def test_normalize_url() -> None:
    assert normalize_url("HTTP://Docs.Example.COM:80/a#frag") == "http://docs.example.com/a"
    assert normalize_url("https://x.test:443") == "https://x.test/"
    assert normalize_url("https://x.test:8443/a/../b/./c/") == "https://x.test:8443/b/c/"
    assert normalize_url("/p?q=1#x", "https://x.test/a/b") == "https://x.test/p?q=1"
    assert normalize_url("mailto:a@b.c") is None
    assert normalize_url("javascript:void(0)") is None


def test_links_canonical_and_nofollow() -> None:
    found = html_links(PAGE, "https://acme.test/docs/install?ref=nav")
    assert found.canonical == "https://acme.test/docs/install"
    assert "https://acme.test/pricing" in found.links
    assert "https://other.test/x" in found.links
    assert "https://acme.test/docs/guide.pdf" in found.links
    assert "https://acme.test/login" not in found.links


def test_scope_modes_and_patterns() -> None:
    host = CrawlScope("https://docs.acme.test/guide/")
    assert host.refusal("https://docs.acme.test/other") is None
    assert host.refusal("https://blog.acme.test/") == "off-site link"
    subs = CrawlScope("https://www.acme.test/", mode="subdomains")
    assert subs.refusal("https://blog.acme.test/x") is None
    assert subs.refusal("https://acme.test.evil.test/") == "off-site link"
    prefix = CrawlScope("https://acme.test/docs/intro", mode="prefix")
    assert prefix.refusal("https://acme.test/docs/x") is None
    assert prefix.refusal("https://acme.test/blog/x") == "outside the path prefix"
    rules = CrawlScope("https://acme.test/", include=["/docs/*"], exclude=["*.pdf", "re:draft"])
    assert rules.refusal("https://acme.test/docs/a") is None
    assert rules.refusal("https://acme.test/blog") == "not matched by the include patterns"
    assert rules.refusal("https://acme.test/docs/a.pdf") == "excluded by a pattern"
    assert rules.refusal("https://acme.test/docs/draft-1") == "excluded by a pattern"


def test_sitemaps_index_gzip_and_text() -> None:
    index = b"""<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <sitemap><loc>https://acme.test/s1.xml</loc></sitemap><sitemap><loc>/s2.xml.gz</loc></sitemap>
    </sitemapindex>"""
    parsed = parse_sitemap(index, "https://acme.test/sitemap.xml")
    assert parsed.sitemaps == ["https://acme.test/s1.xml", "https://acme.test/s2.xml.gz"]
    urlset = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
    <url><loc>https://acme.test/a#x</loc></url>
    <url><loc> https://acme.test/b </loc></url></urlset>"""
    zipped = parse_sitemap(gzip.compress(urlset), "https://acme.test/s2.xml.gz")
    assert zipped.pages == ["https://acme.test/a", "https://acme.test/b"]
    assert parse_sitemap(b"https://acme.test/t\n", "https://acme.test/s.txt").pages == [
        "https://acme.test/t"
    ]
    bomb = b'<!DOCTYPE x [<!ENTITY e "boom">]><urlset><url><loc>&e;</loc></url></urlset>'
    assert parse_sitemap(bomb, "https://acme.test/s").pages == []


def test_robots_rules_delay_and_sitemaps() -> None:
    robots = Robots(
        "User-agent: *\nDisallow: /private/\nCrawl-delay: 2\nSitemap: https://acme.test/sm.xml\n",
        "ChatConnectBot/0.1 (+https://chat.test)",
    )
    assert robots.allowed("https://acme.test/docs") and not robots.allowed(
        "https://acme.test/private/x"
    )
    assert robots.crawl_delay == 2.0 and robots.sitemaps == ["https://acme.test/sm.xml"]
    ours = Robots("User-agent: ChatConnectBot\nDisallow: /\n", "ChatConnectBot/0.1")
    assert not ours.allowed("https://acme.test/a")
    assert Robots(None, "ChatConnectBot/0.1").allowed("https://acme.test/a")
    mixed = "User-agent: *\nCrawl-delay: 5\n\nUser-agent: chatconnectbot\nCrawl-delay: 0.5\n"
    assert Robots(mixed, "ChatConnectBot/0.1").crawl_delay == 0.5
    assert Robots(mixed, "OtherBot/1").crawl_delay == 5.0


def test_reader_keeps_main_text_sections_and_url() -> None:
    docs = WebPageReader().load_data(
        PAGE, "https://acme.test/docs/install", "text/html", tenant_id="t1", document_id="d1"
    )
    text = "\n".join(d.text for d in docs)
    assert "five minutes" in text and "4 GB of memory" in text
    for noise in ("cookies", "Copyright", "tracking", "Pricing"):
        assert noise not in text
    assert [d.metadata["section"] for d in docs] == ["Install guide", "Requirements"]
    assert {d.metadata["url"] for d in docs} == {"https://acme.test/docs/install"}
    assert docs[0].metadata["title"] == "Install guide"
    assert "url" in docs[0].excluded_embed_metadata_keys
    md = page_markdown(docs)
    assert md.startswith('---\ntitle: "Install guide"\n---') and "## Requirements" in md
