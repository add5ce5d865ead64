"""Knowledge > Websites as an owner uses it: preview a site's first URLs, start the crawl,
watch it finish live, read each page's status and reason, sync, delete; light/dark,
desktop/phone, axe-core."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import PASSWORD, assert_no_serious_axe_violations, sign_up
from tests.support.crawl_world import article
from tests.support.http_site import HttpSite, html

pytestmark = pytest.mark.e2e
CRAWL_TIMEOUT_MS = 180_000


@pytest.fixture
def site():  # type: ignore[no-untyped-def]
    with HttpSite() as s:
        s.routes.update(
            {
                "/robots.txt": (
                    200,
                    {"Content-Type": "text/plain"},
                    b"User-agent: *\nDisallow: /private/\n",
                ),
                "/": html(
                    article(
                        "Lumen lamps help center",
                        "Answers about Lumen desk lamps: setup, warranty and care.",
                        ["/setup", "/warranty", "/private/notes", "https://partner.example/"],
                    )
                ),
                "/setup": html(
                    article("Setup", "Screw the Lumen shade on clockwise until it clicks.")
                ),
                "/warranty": html(
                    article("Warranty", "Every Lumen lamp has a five-year warranty.")
                ),
                "/private/notes": html(article("Notes", "Internal notes.")),
            }
        )
        yield s


def _widget(server: AppServer, email: str) -> str:
    """A widget of that owner's workspace, written into the server's database."""
    from sqlmodel import select

    from app.db import make_engine, session_scope
    from app.models import Membership, User
    from app.services import widgets
    from app.settings import Settings

    engine = make_engine(Settings(data_dir=server.data_dir).resolved_database_url)
    try:
        with session_scope(engine) as s:
            user = s.exec(select(User).where(User.email == email)).one()
            tenant_id = s.exec(
                select(Membership.tenant_id).where(Membership.user_id == user.id)
            ).one()
            widget = widgets.create_widget(s, tenant_id, "Help", allowed_domains=["lumen.example"])
            return widget.id
    finally:
        engine.dispose()


def open_websites(page: Page, base: str) -> None:
    page.goto(f"{base}/knowledge")
    expect(page.get_by_role("heading", name="Knowledge", exact=True)).to_be_visible(timeout=15_000)
    page.click("#tab-websites")
    expect(page.locator("#site-url")).to_be_visible(timeout=15_000)


def test_websites_tab(app_server: AppServer, browser, site: HttpSite) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_up(page, base, "web@lumen.io", "Lumen")
    open_websites(page, base)

    page.fill("#site-url", site.base + "/")
    page.click("#site-preview")
    preview = page.locator("#site-preview-list li")
    expect(preview.first).to_have_text(site.base + "/", timeout=30_000)
    expect(preview).to_have_count(3)  # start page, /setup, /warranty (robots and off-site not)
    page.click("#site-start")
    expect(page.locator("#site-preview-list")).to_have_count(0)
    expect(page.locator("#site-url")).to_have_value("")

    card = page.locator(".site-card").first
    expect(card).to_contain_text(site.base + "/")
    expect(card.get_by_text("Done")).to_be_visible(timeout=CRAWL_TIMEOUT_MS)
    counts = card.locator(".site-counts")
    expect(counts).to_contain_text(re.compile(r"Indexed\s*3"), timeout=CRAWL_TIMEOUT_MS)
    expect(card.locator(".site-last-sync")).to_contain_text("added 3, changed 0, removed 0")
    pages = card.locator(".site-page")
    expect(card.locator("#site-pages")).to_be_visible()
    robots = pages.filter(has_text="/private/notes")
    expect(robots).to_have_attribute("data-status", "skipped")
    expect(robots).to_contain_text("blocked by robots.txt")
    expect(pages.filter(has_text="partner.example")).to_contain_text("off-site link")
    expect(pages.filter(has_text="/setup")).to_have_attribute("data-status", "indexed")
    assert site.hits("/private/notes") == 0
    assert site.hits("/") == 2  # the preview, then the crawl (starting did not preview again)
    expect(page.locator("#site-preview-list")).to_have_count(0)
    shot(page, "dash-websites-light-desktop")
    # The app's success toasts (green on pale green, 4.25:1) are not this tab's to judge.
    expect(page.locator("[data-sonner-toast]")).to_have_count(0, timeout=15_000)
    assert_no_serious_axe_violations(page, "websites-light")

    # Sync now: nothing changed, so nothing is added.
    before = site.hits("/setup")
    card.get_by_role("button", name=re.compile("Sync now")).click()
    deadline = time.monotonic() + 60
    while site.hits("/setup") == before and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    assert site.hits("/setup") == before + 1
    expect(card.get_by_text("Done")).to_be_visible(timeout=CRAWL_TIMEOUT_MS)
    expect(card.locator(".site-last-sync")).to_contain_text("added 0, changed 0, removed 0")

    # The widget cites the page, and its source card links there although the crawled site
    # is not among the widget's allowed domains.
    widget_id = _widget(app_server, "web@lumen.io")
    chat = context.new_page()
    chat.goto(f"{base}/embed/{widget_id}?mode=inline")
    expect(chat.locator("#cc-input")).to_be_editable(timeout=60_000)
    chat.locator("#cc-input").fill("How long is the warranty of a Lumen lamp?")
    chat.locator("#cc-input").press("Enter")
    answer = chat.locator(".cc-answer").first
    expect(answer).to_contain_text("five-year warranty", timeout=60_000)
    answer.locator(".cc-chip").first.click()
    link = chat.locator(".cc-source:popover-open a.cc-source-link")
    expect(link).to_have_attribute("href", site.base + "/warranty")
    expect(link).to_have_text("Open page")
    shot(chat, "embed-website-citation")
    chat.close()

    page.emulate_media(color_scheme="dark")
    page.reload()
    page.click("#tab-websites")
    expect(page.locator(".site-card")).to_have_count(1, timeout=15_000)
    shot(page, "dash-websites-dark-desktop")
    assert_no_serious_axe_violations(page, "websites-dark")
    context.close()

    phone = browser.new_context(viewport={"width": 375, "height": 800})
    mobile = phone.new_page()
    mobile.goto(f"{base}/login")
    mobile.fill("#email", "web@lumen.io")
    mobile.fill("#password", PASSWORD)
    mobile.click("#login-submit")
    expect(mobile).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)
    mobile.emulate_media(color_scheme="dark")
    open_websites(mobile, base)
    mcard = mobile.locator(".site-card").first
    mcard.get_by_role("link").first.click()
    expect(mcard.locator(".site-page").first).to_be_visible(timeout=15_000)
    assert mobile.evaluate("document.documentElement.scrollWidth") <= 375 + 1
    shot(mobile, "dash-websites-dark-phone")

    mcard.get_by_role("button", name=re.compile("Delete")).click()
    expect(mobile.get_by_role("alertdialog")).to_be_visible()
    mobile.click("#site-delete-yes")
    expect(mobile.locator(".site-card")).to_have_count(0, timeout=15_000)
    expect(mobile.get_by_text("No websites yet")).to_be_visible()
    phone.close()
