"""Overview, Conversations and Analytics in a real browser, against seeded traffic.

A new owner signs up (empty checklist, zero KPIs); then turns are written straight into the
server's SQLite database through the services, and the pages must show exactly them.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from app.db import TenantScope, make_engine, session_scope
from app.models import Document, DocumentStatus, QAPair, User
from app.rag.answer_types import Source, Usage
from app.rag.chat import TurnResult
from app.services import accounts, conversations, widgets
from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e

EMAIL = "owner@insights.io"


@dataclass
class Turn:
    days_ago: int
    widget: str
    question: str
    answered: bool = True
    score: float | None = 0.9
    feedback: int | None = None
    cost: float = 0.0012
    conv: str = ""


TURNS = [
    Turn(0, "Support", "How do I reset my password?", feedback=1, conv="a"),
    Turn(0, "Support", "and on mobile?", score=0.3, feedback=-1, conv="a"),
    Turn(1, "Support", "How do I reset my password", conv="b"),
    Turn(2, "Sales", "Do you offer discounts?", answered=False, score=None, cost=0.0, conv="c"),
    Turn(3, "Sales", '=HYPERLINK("http://evil.example")', conv="d"),
    Turn(5, "Support", "How do I reset my password?", conv="e"),
]


def _seed(app_server: AppServer) -> dict[str, str]:
    engine = make_engine(f"sqlite:///{app_server.data_dir / 'chatconnect.db'}")
    ids: dict[str, str] = {}
    try:
        with session_scope(engine) as s:
            user = s.exec(select(User).where(User.email == EMAIL)).one()
            tenant_id = accounts.primary_membership(s, user.id).tenant_id
            made = {n: widgets.create_widget(s, tenant_id, n) for n in ("Support", "Sales")}
            TenantScope(s, tenant_id).add(
                Document(title="Handbook", content_hash="e2e", status=DocumentStatus.ready)
            )
            s.flush()
            started: dict = {}
            now = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
            for seq, t in enumerate(TURNS):
                at = now - timedelta(days=t.days_ago) + timedelta(minutes=seq)
                conv = started.get(t.conv)
                new = conv is None
                if new:
                    conv, _ = conversations.get_or_start_conversation(
                        s,
                        tenant_id,
                        conversation_id=None,
                        widget_id=made[t.widget].id,
                        host_url="https://www.customer-site.example/help",
                    )
                    conv.started_at = at
                    started[t.conv] = conv
                src = [
                    Source(
                        n=1,
                        document_id="doc",
                        title="Handbook",
                        text="Open Settings, then choose Reset password.",
                        score=t.score,
                        page=4,
                        section="Accounts",
                    )
                ]
                result = TurnResult(
                    answer=("Open Settings [1]." if t.answered else "Sorry, I don't know."),
                    sources=src if t.score is not None else [],
                    model="gpt-4o-mini",
                    provider="openai",
                    usage=Usage(tokens_in=120, tokens_out=30),
                    cost_usd=t.cost,
                    ttft_ms=200,
                    latency_ms=900,
                    answered=t.answered,
                    query=t.question,
                )
                q, a = conversations.record_turn(
                    s, tenant_id, conv, t.question, result, new_conversation=new
                )
                q.created_at, a.created_at = at, at + timedelta(milliseconds=1)
                a.feedback = t.feedback
                conv.last_message_at = at
                ids[t.conv] = conv.id
            ids["tenant"] = tenant_id
    finally:
        engine.dispose()
    return ids


def _qa_pairs(app_server: AppServer, tenant_id: str) -> list[QAPair]:
    engine = make_engine(f"sqlite:///{app_server.data_dir / 'chatconnect.db'}")
    try:
        with session_scope(engine) as s:
            return list(s.exec(TenantScope(s, tenant_id).select(QAPair)))
    finally:
        engine.dispose()


def _donut_paths(page: Page) -> list[str]:
    return page.locator("#chart-feedback .recharts-pie-sector path").evaluate_all(
        "els => els.map(e => e.getAttribute('d'))"
    )


def _assert_donut_complete(page: Page) -> None:
    """Charts draw without animation: the donut's three sectors are final as soon as they
    appear (an animated pie grows for ~2 s, so its paths would still change here)."""
    sectors = page.locator("#chart-feedback .recharts-pie-sector path")
    expect(sectors).to_have_count(3, timeout=15_000)
    first = _donut_paths(page)
    page.wait_for_timeout(400)
    assert _donut_paths(page) == first, "the feedback donut was still being drawn"


def _screens(page: Page, base: str, path: str, name: str, ready: str) -> None:
    """Light and dark screenshots at the current viewport."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{base}{path}")
        expect(page.locator(ready).first).to_be_visible(timeout=30_000)
        if name == "analytics":
            _assert_donut_complete(page)
        width = page.viewport_size["width"] if page.viewport_size else 1280
        shot(page, f"dash-{name}-{scheme}-{'phone' if width < 500 else 'desktop'}")
        # Every control stays inside the screen (cards clip, so scrollWidth alone can't tell).
        outside = page.evaluate(
            "[...document.querySelectorAll('input, button, [role=radio]')]"
            ".filter(e => e.getClientRects().length && "
            "e.getBoundingClientRect().right > window.innerWidth + 1).length"
        )
        assert outside == 0, f"{name}: {outside} controls cut off at {width}px"


def test_overview_conversations_and_analytics(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    sign_up(page, base, EMAIL, "Insights Co")

    # A new workspace: the checklist leads, nothing is ticked, KPIs are zeros.
    expect(page.locator("#setup-checklist")).to_be_visible(timeout=30_000)
    expect(page.locator("#steps-done")).to_have_text("0 of 4 done")
    for step in ("widget", "knowledge", "tested", "embedded"):
        expect(page.locator(f"#step-{step}")).to_have_attribute("data-done", "false")
    expect(page.locator("#kpi-conversations")).to_have_text("0")
    expect(page.locator("#kpi-cost")).to_have_text("$0.00")
    expect(page.locator("#recent-empty")).to_be_visible()
    shot(page, "dash-overview-empty-light-desktop")

    ids = _seed(app_server)
    page.reload()
    expect(page.locator("#steps-done")).to_have_text("4 of 4 done", timeout=30_000)
    for step in ("widget", "knowledge", "tested", "embedded"):
        expect(page.locator(f"#step-{step}")).to_have_attribute("data-done", "true")
    expect(page.locator("#kpi-conversations")).to_have_text("5")
    expect(page.locator("#kpi-messages")).to_have_text("12")
    expect(page.locator("#kpi-answered")).to_have_text("83%")  # 5 of 6 answers
    expect(page.locator("#kpi-tokens")).to_have_text("900")
    expect(page.locator("#kpi-cost")).to_have_text("$0.0060")
    expect(page.locator(".recent-conversation")).to_have_count(5)
    page.locator(".recent-conversation").first.click()
    expect(page).to_have_url(re.compile(rf"/conversations/{ids['a']}/?$"), timeout=15_000)

    # Conversations: list, filters, transcript, improve this answer, CSV.
    page.goto(f"{base}/conversations")
    expect(page.locator(".conversation-row")).to_have_count(5, timeout=30_000)
    page.click("#conv-feedback")
    page.get_by_role("option", name="Thumbs down").click()
    expect(page.locator(".conversation-row")).to_have_count(1)
    page.click("#conv-feedback")
    page.get_by_role("option", name="Any feedback or none").click()
    expect(page.locator(".conversation-row")).to_have_count(5)
    page.click("#conv-flagged")  # unanswered (c) + low confidence (a)
    expect(page.locator(".conversation-row")).to_have_count(2)
    page.click("#conv-flagged")
    page.click("#conv-widget")
    page.get_by_role("option", name="Sales").click()
    expect(page.locator(".conversation-row")).to_have_count(2)
    page.click("#conv-widget")
    page.get_by_role("option", name="All widgets").click()
    page.fill("#conv-search", "reset my password")
    page.click("#conv-search-submit")
    expect(page.locator(".conversation-row")).to_have_count(3)
    expect(page.locator("#conv-total")).to_have_text("3 conversations")

    with page.expect_download(timeout=30_000) as download_info:
        page.click("#conv-export")
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert len(rows) == 8 and {r["conversation_id"] for r in rows} == {
        ids["a"],
        ids["b"],
        ids["e"],
    }
    page.fill("#conv-search", "HYPERLINK")
    page.click("#conv-search-submit")
    expect(page.locator(".conversation-row")).to_have_count(1)
    with page.expect_download(timeout=30_000) as download_info:
        page.click("#conv-export")
    text = Path(download_info.value.path()).read_text()
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
    page.fill("#conv-search", "")
    page.click("#conv-search-submit")
    expect(page.locator(".conversation-row")).to_have_count(5)
    shot(page, "conversations-list")

    page.goto(f"{base}/conversations/{ids['a']}")
    expect(page.locator(".message")).to_have_count(4, timeout=30_000)
    expect(page.locator(".source").first).to_contain_text("Handbook")
    expect(page.locator(".source").first).to_contain_text("page 4 · Accounts")
    expect(page.locator("#transcript")).to_contain_text("low confidence")
    expect(page.locator("#transcript")).to_contain_text("gpt-4o-mini")
    page.locator(".improve-answer").nth(1).click()
    expect(page.locator("#improve-question")).to_have_value("and on mobile?")
    expect(page.locator("#improve-answer")).to_have_value("Open Settings [1].")
    page.fill("#improve-answer", "")
    page.click("#improve-save")
    expect(page.locator("#improve-error")).to_contain_text("Both a question and an answer")
    shot(page, "conversations-improve-dialog")
    page.fill("#improve-answer", "On mobile, open the app menu and tap Reset password.")
    page.click("#improve-save")
    expect(page.get_by_text("Q&A pair saved")).to_be_visible(timeout=15_000)
    pairs = _qa_pairs(app_server, ids["tenant"])
    assert [(p.question, p.answer) for p in pairs] == [
        ("and on mobile?", "On mobile, open the app menu and tap Reset password.")
    ]
    shot(page, "conversations-transcript")
    # Another workspace's id, or a made-up one, is simply not found.
    page.goto(f"{base}/conversations/{'0' * 32}")
    expect(page.get_by_text("Conversation not found")).to_be_visible(timeout=30_000)

    # Analytics: figures of the last 7 days match the seed; charts render.
    page.goto(f"{base}/analytics")
    expect(page.locator("#kpi-messages")).to_have_text("12", timeout=30_000)
    page.get_by_role("radio", name="7 days").click()
    expect(page.locator("#kpi-conversations")).to_have_text("5")
    expect(page.locator("#kpi-tokens")).to_have_text("900")
    # Conversations, messages, tokens, cost, feedback and leads per day (human handoff).
    expect(page.locator(".recharts-wrapper")).to_have_count(6, timeout=15_000)
    # One bar per day with messages: days 0, 1, 2, 3, 5 ago.
    expect(page.locator("#chart-messages .recharts-bar-rectangle path")).to_have_count(5)
    expect(page.locator("#feedback-figures")).to_contain_text("Helpful: 1")
    expect(page.locator("#feedback-figures")).to_contain_text("Not helpful: 1")
    expect(page.locator("#feedback-figures")).to_contain_text("No feedback: 4")
    top = page.locator("#top-questions tbody tr").first
    expect(top).to_contain_text("How do I reset my password?")
    expect(top).to_contain_text("3")
    unanswered = page.locator("#unanswered-questions tbody tr")
    expect(unanswered).to_have_count(2)
    expect(page.locator("#unanswered-questions")).to_contain_text("Do you offer discounts?")
    expect(page.locator("#unanswered-questions")).to_contain_text("and on mobile?")
    page.click("#analytics-widget")
    page.get_by_role("option", name="Sales").click()
    expect(page.locator("#kpi-conversations")).to_have_text("2")
    expect(page.locator("#kpi-messages")).to_have_text("4")
    page.click("#analytics-widget")
    page.get_by_role("option", name="All widgets").click()
    # Custom range: only the day 5 days ago.
    day = (datetime.now(UTC) - timedelta(days=5)).date().isoformat()
    page.fill("#range-from", day)
    page.fill("#range-to", day)
    expect(page.locator("#kpi-messages")).to_have_text("2", timeout=15_000)
    expect(page.locator("#kpi-conversations")).to_have_text("1")
    page.get_by_role("radio", name="30 days").click()
    expect(page.locator("#kpi-messages")).to_have_text("12", timeout=15_000)

    # Screenshots: light and dark, desktop and phone, for the three pages.
    transcript = f"/conversations/{ids['a']}"
    for viewport in ({"width": 1280, "height": 900}, {"width": 375, "height": 800}):
        page.set_viewport_size(viewport)
        _screens(page, base, "/overview", "overview", "#kpi-grid")
        _screens(page, base, "/conversations", "conversations", ".conversation-row")
        _screens(page, base, transcript, "transcript", ".message")
        _screens(page, base, "/analytics", "analytics", ".recharts-wrapper")
    # Nothing overflows sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 380
    context.close()
