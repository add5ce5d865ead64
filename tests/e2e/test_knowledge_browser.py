"""Knowledge page, as a new owner uses it: upload three files at once (one refused with a
clear reason while the others ingest live), search, sort, re-index, delete with a
confirmation, paste text, add a Q&A pair, test retrieval; light/dark, desktop/phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import PASSWORD, sign_up

pytestmark = pytest.mark.e2e

GUIDE = b"""# Espresso guide

Descale the Aurora 3000 machine every two months with citric acid tablets.

## Milk

Steam milk to 65 degrees Celsius for a silky microfoam.
"""
FAQ = b"question,answer\nDo you ship abroad?,Yes to thirty countries\nReturn window?,Thirty days\n"
BINARY = bytes(range(256)) * 40  # not a document format: refused by content, not by name
INGEST_TIMEOUT_MS = 180_000


def row(page: Page, title: str):  # type: ignore[no-untyped-def]
    return page.locator("tr.doc-row").filter(has=page.locator(".doc-title", has_text=title))


def confirm(page: Page) -> None:
    expect(page.get_by_role("alertdialog")).to_be_visible()
    page.click("#confirm-yes")
    expect(page.get_by_role("alertdialog")).to_have_count(0)


def test_knowledge_main_flow(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_up(page, base, "kb@acme.io", "Acme Knowledge")
    page.goto(f"{base}/knowledge")
    expect(page.get_by_role("heading", name="Knowledge", exact=True)).to_be_visible(timeout=15_000)
    expect(page.get_by_text("No documents yet")).to_be_visible(timeout=15_000)

    # Three files in one go; the binary one is refused with its reason, the others ingest.
    page.locator("input[type=file]").set_input_files(
        [
            {"name": "guide.md", "mimeType": "text/markdown", "buffer": GUIDE},
            {"name": "faq.csv", "mimeType": "text/csv", "buffer": FAQ},
            {"name": "photo.exe", "mimeType": "application/octet-stream", "buffer": BINARY},
        ]
    )
    expect(page.locator("#upload-submit")).to_contain_text("Upload 3 files")
    page.click("#upload-submit")
    refused = page.locator('.upload-row[data-name="photo.exe"]')
    expect(refused).to_have_attribute("data-stage", "refused", timeout=30_000)
    expect(refused.locator(".upload-error")).to_contain_text("Unsupported")
    shot(page, "dash-knowledge-progress-light-desktop")
    # Live: both reach "ready" in the upload list and the table without a reload.
    for name in ("guide.md", "faq.csv"):
        expect(page.locator(f'.upload-row[data-name="{name}"]')).to_have_attribute(
            "data-stage", "ready", timeout=INGEST_TIMEOUT_MS
        )
    expect(row(page, "guide")).to_have_attribute("data-status", "ready")
    expect(row(page, "faq")).to_have_attribute("data-status", "ready")
    # Titled from the file's own first heading, not its name (the CSV has none: its name).
    expect(row(page, "guide").locator(".doc-title")).to_have_text("Espresso guide")
    expect(page.locator("#doc-count")).to_have_text("1-2 of 2")
    shot(page, "dash-knowledge-light-desktop")

    # Search by title, then sort by title both ways.
    page.fill("#doc-search", "gui")
    expect(page.locator("tr.doc-row")).to_have_count(1, timeout=10_000)
    page.fill("#doc-search", "")
    expect(page.locator("tr.doc-row")).to_have_count(2, timeout=10_000)
    page.click("#sort-title")
    expect(page.locator("tr.doc-row .doc-title").first).to_have_text("Espresso guide")
    page.click("#sort-title")
    expect(page.locator("tr.doc-row .doc-title").first).to_have_text("faq")

    # Re-index asks first, then the document goes through ingestion again to ready.
    page.get_by_role("button", name="Re-index Espresso guide").click()
    confirm(page)
    expect(page.get_by_text("Queued for re-indexing.")).to_be_visible()
    expect(row(page, "guide")).to_have_attribute("data-status", "ready", timeout=INGEST_TIMEOUT_MS)

    # Delete: cancel keeps it, confirm removes it.
    page.get_by_role("button", name="Delete faq").click()
    expect(page.get_by_role("alertdialog")).to_contain_text("Delete this document?")
    page.get_by_role("button", name="Cancel").click()
    expect(row(page, "faq")).to_have_count(1)
    page.get_by_role("button", name="Delete faq").click()
    confirm(page)
    expect(row(page, "faq")).to_have_count(0, timeout=10_000)

    # Pasted text: inline error when empty, then it becomes a document that ingests.
    page.click("#tab-text")
    page.click("#paste-submit")
    expect(page.locator("#paste-error")).to_contain_text("Paste some text first")
    page.fill("#paste-title", "Opening hours")
    page.fill("#paste-text", "The Lisbon showroom opens at 9:30 on weekdays and closes at 18:00.")
    page.click("#paste-submit")
    expect(row(page, "Opening hours")).to_have_attribute(
        "data-status", "ready", timeout=INGEST_TIMEOUT_MS
    )

    # A Q&A pair.
    page.click("#tab-qa")
    page.click("#qa-new")
    page.fill("#qa-question", "Do you offer gift cards?")
    page.fill("#qa-answer", "Yes, from 20 to 200 euros, in the online shop.")
    page.click("#qa-save")
    expect(page.locator(".qa-pair")).to_contain_text("Do you offer gift cards?")
    expect(page.get_by_text("Q&A pair added.")).to_be_visible()

    # Test retrieval: scored chunks and the answer the widget would give.
    page.click("#tab-test")
    page.fill("#test-question", "How often should I descale the machine?")
    page.click("#test-submit")
    chunks = page.locator("#test-chunks .chunk")
    expect(chunks.first).to_be_visible(timeout=60_000)
    expect(chunks.first).to_contain_text("guide")
    expect(chunks.first.locator(".chunk-score")).to_contain_text("rank 1.000")
    # The raw cosine beside the normalized rank: a plain number well below the 1.000 rank.
    relevance = chunks.first.locator(".chunk-relevance")
    expect(relevance).to_have_text(re.compile(r"^relevance (0\.\d\d|—)$"))
    assert relevance.inner_text() != "relevance 1.00"
    expect(page.locator("#test-answer")).to_contain_text("every two months")
    # The cited chunk's preview highlights the sentence the answer quotes.
    quote = page.locator("#test-chunks .chunk-quote")
    expect(quote).to_have_count(1)
    expect(quote).to_contain_text("every two months with citric acid")
    shot(page, "dash-knowledge-test-light-desktop")

    # Dark mode, and the phone width, for every tab worth seeing.
    page.click("#tab-documents")
    page.emulate_media(color_scheme="dark")
    page.reload()
    expect(row(page, "guide")).to_be_visible(timeout=15_000)
    shot(page, "dash-knowledge-dark-desktop")
    page.click("#tab-test")
    shot(page, "dash-knowledge-test-dark-desktop")
    context.close()

    phone = browser.new_context(viewport={"width": 375, "height": 800}, storage_state=None)
    mobile = phone.new_page()
    mobile.goto(f"{base}/login")
    mobile.fill("#email", "kb@acme.io")
    mobile.fill("#password", PASSWORD)
    mobile.click("#login-submit")
    expect(mobile).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)
    mobile.goto(f"{base}/knowledge")
    expect(row(mobile, "guide")).to_be_visible(timeout=15_000)
    shot(mobile, "dash-knowledge-light-phone")
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    mobile.emulate_media(color_scheme="dark")
    mobile.reload()
    expect(row(mobile, "guide")).to_be_visible(timeout=15_000)
    shot(mobile, "dash-knowledge-dark-phone")
    phone.close()


BIG_NAME, SMALL_NAME = "catalogue.md", "appendix.txt"
BIG_BYTES = 3 * 1024 * 1024  # well below MAX_UPLOAD_MB (25), seconds to send when throttled
SMALL_BYTES = 1024 * 1024
UPLOAD_BYTES_PER_S = 512 * 1024
INGESTING = {"queued", "parsing", "chunking", "embedding", "indexing"}
PARTIAL = re.compile(r"^([1-9]|[1-9]\d)%$")
# Records every state of the upload rows as {name: [stage, percent]}, so the order of what
# the page showed can be asserted afterwards without racing it.
RECORD_ROWS = """() => {
  window.__rows = [];
  let last = "";
  const note = () => {
    const snap = {};
    for (const row of document.querySelectorAll(".upload-row")) {
      const pct = row.querySelector(".upload-percent");
      snap[row.getAttribute("data-name")] = [
        row.getAttribute("data-stage"), pct ? parseInt(pct.textContent, 10) : null,
      ];
    }
    const text = JSON.stringify(snap);
    if (text !== last && Object.keys(snap).length) window.__rows.push(snap);
    last = text;
  };
  new MutationObserver(note).observe(document.body, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
}"""


def filler_text(title: str, size: int) -> bytes:
    """A few MB of Markdown: 40 distinct sections repeated. Repeated chunks embed once (the
    embedding cache), so ingestion stays quick on a busy machine; the upload is what is big."""
    block = "".join(
        f"## {title} part {i}\n\nThe service manual for part {i} lists "
        + " ".join(f"item{i}-{j}" for j in range(80))
        + ".\n\n"
        for i in range(40)
    ).encode()
    return (f"# {title}\n\n".encode() + block * (size // len(block) + 1))[:size]


def _throttle(cdp, upload_bytes_per_s: int) -> None:  # type: ignore[no-untyped-def]
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": upload_bytes_per_s,
        },
    )


def test_knowledge_upload_progress_throttled(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    """Two files (3 MB, then 1 MB) over a slow uplink: each row shows the upload stage with
    its own share of the request's progress (the first fills before the second starts),
    then the ingestion stages, then Ready."""
    base = app_server.base_url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_up(page, base, "big@acme.io", "Acme Catalogue")
    page.goto(f"{base}/knowledge")
    expect(page.get_by_text("No documents yet")).to_be_visible(timeout=15_000)

    page.locator("input[type=file]").set_input_files(
        [
            {
                "name": BIG_NAME,
                "mimeType": "text/markdown",
                "buffer": filler_text("Parts catalogue", BIG_BYTES),
            },
            {
                "name": SMALL_NAME,
                "mimeType": "text/plain",
                "buffer": filler_text("Appendix", SMALL_BYTES),
            },
        ]
    )
    expect(page.locator("#upload-submit")).to_contain_text("Upload 2 files")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    _throttle(cdp, UPLOAD_BYTES_PER_S)  # Chromium throttles the upload body (XHR progress)
    page.evaluate(RECORD_ROWS)
    page.click("#upload-submit")

    # Mid-upload: the first file's row is uploading with a percentage strictly between 0
    # and 100, and shows how much of it was sent.
    big = page.locator(f'.upload-row[data-name="{BIG_NAME}"]')
    small = page.locator(f'.upload-row[data-name="{SMALL_NAME}"]')
    expect(big.locator(".upload-percent")).to_have_text(PARTIAL, timeout=30_000)
    expect(big).to_have_attribute("data-stage", "uploading")
    expect(big).to_contain_text("of 3.0 MB sent")
    shot(page, "dash-knowledge-uploading-light-desktop")
    expect(small.locator(".upload-percent")).to_have_text(PARTIAL, timeout=60_000)
    expect(small).to_have_attribute("data-stage", "uploading")
    expect(big).to_have_attribute("data-stage", "uploading")
    shot(page, "dash-knowledge-uploading-second-light-desktop")
    expect(small).not_to_have_attribute("data-stage", "uploading", timeout=60_000)
    _throttle(cdp, -1)
    for locator in (big, small):
        expect(locator).to_have_attribute("data-stage", "ready", timeout=INGEST_TIMEOUT_MS)
    expect(row(page, "catalogue")).to_have_attribute("data-status", "ready")
    expect(row(page, "appendix")).to_have_attribute("data-status", "ready")

    snaps: list[dict[str, list]] = page.evaluate("window.__rows")
    for name in (BIG_NAME, SMALL_NAME):
        seen: list[list] = []
        for snap in snaps:  # what this row showed, each change once
            if name in snap and (not seen or seen[-1] != snap[name]):
                seen.append(snap[name])
        stages = [stage for stage, _ in seen]
        percents = [p for stage, p in seen if stage == "uploading" and p is not None]
        assert stages[0] == "uploading", seen
        assert any(0 < p < 100 for p in percents), seen
        assert percents == sorted(percents), f"{name}: upload progress went backwards: {seen}"
        first_ingesting = next(i for i, stage in enumerate(stages) if stage in INGESTING)
        assert set(stages[:first_ingesting]) == {"uploading"}, seen
        assert set(stages[first_ingesting:-1]) <= INGESTING and stages[-1] == "ready", seen
    # Files go in order within the request: the second starts once the first is all sent.
    both = [
        s for s in snaps if s.get(BIG_NAME, [""])[0] == s.get(SMALL_NAME, [""])[0] == "uploading"
    ]
    assert any(0 < s[BIG_NAME][1] < 100 and s[SMALL_NAME][1] == 0 for s in both), snaps
    assert any(s[BIG_NAME][1] == 100 and 0 < s[SMALL_NAME][1] < 100 for s in both), snaps
    assert all(s[SMALL_NAME][1] == 0 for s in both if s[BIG_NAME][1] < 100), snaps
    context.close()
