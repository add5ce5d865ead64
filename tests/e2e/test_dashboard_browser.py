"""The dashboard as a newcomer clicks through it (issue 12): dynamic pages opened by clicks
and back/forward, the channel filter, transcripts drawn as markdown, the widget editor's
unsaved-changes guard, stacked tables on phones, the full-height sidebar, and axe-core on
every page in light and dark."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlmodel import select

from app.db import TenantScope, make_engine, session_scope
from app.models import Document, DocumentStatus, User
from app.rag.answer_types import Source, Usage
from app.rag.chat import TurnResult
from app.services import accounts, api_keys, conversations, widgets
from tests.e2e.axe import serious_axe_violations
from tests.e2e.conftest import AppServer, shot
from tests.e2e.helpers import sign_up

pytestmark = pytest.mark.e2e

EMAIL = "owner@clicks.io"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 800}
MARKDOWN_ANSWER = (
    "> The espresso costs $6.95. Standard shipping is free on orders of $45\n\n"
    "**Opening hours**\n\n- Monday to Friday\n- Saturday\n\nUse `code BREW10`."
)


@dataclass
class Turn:
    question: str
    answer: str
    channel: str = "web"
    answered: bool = True


TURNS = {
    "espresso": Turn("How much is the espresso?", MARKDOWN_ANSWER),
    "student": Turn("Is there a student discount?", "Sorry, I don't know.", answered=False),
    "student2": Turn("Do you have a student discount?", "Sorry, I don't know.", answered=False),
    "api": Turn("What are your opening hours?", "Monday to Friday [1].", channel="api"),
    "test": Turn("Testing from the dashboard", "Hello [1].", channel="dashboard"),
}


def _seed(app_server: AppServer) -> dict[str, str]:
    """Four conversations (web, API, dashboard), a document, an API key; returns their ids."""
    engine = make_engine(f"sqlite:///{app_server.data_dir / 'chatconnect.db'}")
    ids: dict[str, str] = {}
    try:
        with session_scope(engine) as s:
            user = s.exec(select(User).where(User.email == EMAIL)).one()
            tenant_id = accounts.primary_membership(s, user.id).tenant_id
            widget = widgets.create_widget(s, tenant_id, "Coffee shop")
            TenantScope(s, tenant_id).add(
                Document(
                    title="Price list.csv", content_hash="e2e-prices", status=DocumentStatus.ready
                )
            )
            api_keys.create_key(s, tenant_id, "Shop backend", ["chat"])
            s.flush()
            now = datetime.now(UTC) - timedelta(hours=1)
            for seq, (key, t) in enumerate(TURNS.items()):
                at = now + timedelta(minutes=seq)
                conv, _ = conversations.get_or_start_conversation(
                    s,
                    tenant_id,
                    conversation_id=None,
                    widget_id=widget.id if t.channel != "api" else None,
                    channel=t.channel,
                    host_url="https://shop.example/menu" if t.channel == "web" else "",
                )
                conv.started_at = at
                source = Source(
                    n=1,
                    document_id="doc",
                    title="Price list.csv",
                    text="Espresso,6.95",
                    score=0.9,
                    page=None,
                    section=None,
                )
                result = TurnResult(
                    answer=t.answer,
                    sources=[source] if t.answered else [],
                    model="extractive",
                    provider="extractive",
                    usage=Usage(tokens_in=0, tokens_out=0),
                    cost_usd=0.0,
                    ttft_ms=10,
                    latency_ms=20,
                    answered=t.answered,
                    query=t.question,
                )
                q, a = conversations.record_turn(
                    s, tenant_id, conv, t.question, result, new_conversation=True
                )
                q.created_at, a.created_at = at, at + timedelta(milliseconds=1)
                conv.last_message_at = at
                ids[key] = conv.id
            ids["widget"] = widget.id
    finally:
        engine.dispose()
    return ids


def _nav(page: Page, label: str) -> None:
    """Client-side navigation through the sidebar (never page.goto)."""
    page.locator("#sidebar nav a", has_text=label).click()


def _expect_transcript(page: Page, conversation_id: str, question: str) -> None:
    expect(page).to_have_url(re.compile(rf"/conversations/{conversation_id}/?$"), timeout=15_000)
    expect(page.locator("#transcript")).to_contain_text(question, timeout=15_000)
    expect(page.get_by_text("Conversation not found")).to_have_count(0)


def _landmarks(page: Page, name: str) -> list[str]:
    """Problems: not one <main>, not one <h1>, an unnamed theme toggle, axe findings."""
    problems = []
    if page.locator("main").count() != 1:
        problems.append(f"{name}: {page.locator('main').count()} <main> elements")
    if page.locator("h1").count() != 1:
        problems.append(f"{name}: h1s {page.locator('h1').all_inner_texts()}")
    if not page.get_by_role("button", name="Switch between light and dark theme").count():
        problems.append(f"{name}: the theme toggle has no accessible name")
    for v in serious_axe_violations(page, name):
        targets = [n["target"] for n in v["nodes"]][:4]
        problems.append(f"{name}: axe {v['id']} ({v['impact']}) {targets}")
    return problems


@dataclass
class Owner:
    ids: dict[str, str]
    storage: dict  # the signed-in browser state (session cookie)


@pytest.fixture(scope="module")
def owner(app_server: AppServer, browser) -> Owner:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_up(page, app_server.base_url, EMAIL, "Clicks Coffee")
    ids = _seed(app_server)
    storage = context.storage_state()
    context.close()
    return Owner(ids, storage)  # type: ignore[arg-type]


def _signed_in(browser, owner: Owner, viewport: dict = DESKTOP):  # type: ignore[no-untyped-def]
    return browser.new_context(viewport=viewport, storage_state=owner.storage)


def test_dynamic_pages_open_by_click_and_history(
    app_server: AppServer, browser, owner: Owner
) -> None:  # type: ignore[no-untyped-def]
    base, ids = app_server.base_url, owner.ids
    context = _signed_in(browser, owner)
    page = context.new_page()
    page.goto(f"{base}/overview")

    # Overview's recent conversations -> transcript, by a click.
    expect(page.locator(".recent-conversation")).to_have_count(5, timeout=30_000)
    page.locator(".recent-conversation", has_text="How much is the espresso?").click()
    _expect_transcript(page, ids["espresso"], "How much is the espresso?")

    # Conversations list -> another transcript; back, forward, back again.
    _nav(page, "Conversations")
    expect(page.locator(".conversation-row")).to_have_count(5, timeout=15_000)
    page.locator(".conversation-link", has_text="Is there a student discount?").click()
    _expect_transcript(page, ids["student"], "Is there a student discount?")
    page.go_back()
    expect(page.locator(".conversation-row")).to_have_count(5, timeout=15_000)
    page.go_back()
    _expect_transcript(page, ids["espresso"], "How much is the espresso?")
    page.go_forward()
    expect(page.locator(".conversation-row")).to_have_count(5, timeout=15_000)
    page.go_forward()
    _expect_transcript(page, ids["student"], "Is there a student discount?")
    # Transcript -> list -> a third transcript: never the previous conversation's messages.
    page.get_by_role("link", name="All conversations").click()
    page.locator(".conversation-link", has_text="What are your opening hours?").click()
    _expect_transcript(page, ids["api"], "What are your opening hours?")
    expect(page.locator("#transcript")).not_to_contain_text("student discount")

    # Analytics: the two ways of asking about a student discount are one question (grouped
    # by meaning, in the background), and its link opens the newest conversation.
    _nav(page, "Analytics")
    expect(page.locator("#unanswered-questions tbody tr").first).to_be_visible(timeout=30_000)
    expect(page.locator("#questions-grouping")).to_have_count(0, timeout=120_000)
    row = page.locator("#unanswered-questions tbody tr", has_text="student discount")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("2")
    expect(row).to_contain_text("Also asked as: Is there a student discount?")
    shot(page, "dash-analytics-grouped-questions")
    row.locator("a").click()
    _expect_transcript(page, ids["student2"], "Do you have a student discount?")

    # Widgets list -> editor (/widgets/<id>), back, forward.
    _nav(page, "Widgets")
    page.locator(".widget-card a", has_text="Edit").first.click()
    expect(page.locator("#editor-heading")).to_have_text("Coffee shop", timeout=15_000)
    page.go_back()
    expect(page.locator(".widget-card")).to_have_count(1, timeout=15_000)
    page.go_forward()
    expect(page.locator("#editor-heading")).to_have_text("Coffee shop", timeout=15_000)
    assert f"/widgets/{ids['widget']}" in page.url
    context.close()


def test_conversations_channels_and_markdown_transcript(
    app_server: AppServer, browser, owner: Owner
) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    context = _signed_in(browser, owner)
    page = context.new_page()
    page.goto(f"{base}/overview")

    _nav(page, "Conversations")
    rows = page.locator(".conversation-row")
    expect(rows).to_have_count(5, timeout=15_000)
    headers = page.locator("thead th").all_inner_texts()
    assert headers[:5] == ["Conversation", "Channel", "Msgs", "Feedback", "Unanswered"], headers
    student = rows.filter(has_text="Is there a student discount?")
    expect(student.locator("td").nth(4)).to_contain_text("1")  # the Unanswered column
    expect(student.locator("td").nth(3)).not_to_contain_text("1")  # not under Feedback
    for label, key in (("API", "api"), ("Dashboard tests", "test"), ("Visitors (website)", "")):
        page.click("#conv-channel")
        page.get_by_role("option", name=label, exact=True).click()
        if key:
            expect(rows).to_have_count(1, timeout=15_000)
            expect(rows.first).to_contain_text(TURNS[key].question)
        else:
            expect(rows).to_have_count(3, timeout=15_000)
    shot(page, "dash-conversations-channel-filter")
    page.click("#conv-channel")
    page.get_by_role("option", name="All channels").click()
    expect(rows).to_have_count(5, timeout=15_000)

    # The transcript draws the answer's markdown: a quote, bold, a list, code, both prices.
    page.locator(".conversation-link", has_text="How much is the espresso?").click()
    answer = page.locator("#transcript .answer-md").first
    expect(answer.locator("blockquote")).to_contain_text(
        "The espresso costs $6.95. Standard shipping is free on orders of $45"
    )
    expect(answer.locator("strong")).to_have_text("Opening hours")
    expect(answer.locator("li")).to_have_count(2)
    expect(answer.locator("code")).to_have_text("code BREW10")
    assert "> " not in answer.inner_text()
    assert answer.locator(".katex, math").count() == 0
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(300)
        shot(page, f"dash-transcript-markdown-{scheme}")
    context.close()


def test_widget_editor_guards_unsaved_changes(app_server: AppServer, browser, owner: Owner) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    context = _signed_in(browser, owner)
    page = context.new_page()
    page.goto(f"{base}/widgets/{owner.ids['widget']}")
    expect(page.locator("#editor-heading")).to_have_text("Coffee shop", timeout=30_000)
    expect(page.locator("#preview-status")).to_contain_text("Saved")
    frame = page.frame_locator("#widget-preview")
    expect(frame.get_by_text("Preview", exact=True)).to_be_visible(timeout=30_000)
    expect(frame.get_by_text("not saved")).to_have_count(0)

    page.fill("#widget-greeting", "Welcome to the coffee shop!")
    expect(page.locator("#preview-status")).to_contain_text("Unsaved changes", timeout=15_000)
    expect(page.locator("#widget-editor")).to_have_attribute("data-dirty", "true")

    # Leaving by a sidebar link asks; "Cancel" keeps the editor and the typed text.
    asked: list[str] = []

    def dismiss(dialog) -> None:  # type: ignore[no-untyped-def]
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    _nav(page, "Overview")
    page.wait_for_timeout(500)
    assert asked and "unsaved changes" in asked[0]
    assert "/widgets/" in page.url
    expect(page.locator("#widget-greeting")).to_have_value("Welcome to the coffee shop!")

    # The "All widgets" link asks too; a reload asks through beforeunload.
    page.once("dialog", dismiss)
    page.click("#back-to-widgets")
    page.wait_for_timeout(500)
    assert len(asked) == 2 and "/widgets/" in page.url

    # Save: the badge says saved, the preview reloads without any "not saved" label, and
    # the toast is not over the preview's input.
    page.click("#save-widget")
    toast = page.get_by_text("Widget saved.")
    expect(toast).to_be_visible(timeout=15_000)
    expect(page.locator("#preview-status")).to_contain_text("Saved")
    expect(page.locator("#widget-editor")).to_have_attribute("data-dirty", "false")
    expect(frame.get_by_text("Welcome to the coffee shop!")).to_be_visible(timeout=30_000)
    expect(frame.get_by_text("not saved")).to_have_count(0)
    preview = page.locator("#widget-preview").bounding_box()
    box = toast.bounding_box()
    assert preview and box
    input_top = preview["y"] + preview["height"] - 90  # the chat's input row
    assert box["y"] + box["height"] < input_top or box["y"] > preview["y"] + preview["height"], (
        box,
        preview,
    )
    shot(page, "dash-editor-saved")

    # Nothing unsaved: leaving does not ask.
    _nav(page, "Overview")
    expect(page).to_have_url(re.compile(r"/overview/?$"), timeout=15_000)
    assert len(asked) == 2
    context.close()


PAGES = [
    ("overview", "/overview", "#kpi-grid"),
    ("widgets", "/widgets", ".widget-card"),
    ("widget-editor", "/widgets/{widget}", "#editor-heading"),
    ("knowledge", "/knowledge", ".doc-row"),
    ("conversations", "/conversations", ".conversation-row"),
    ("transcript", "/conversations/{espresso}", ".message"),
    ("analytics", "/analytics", ".recharts-wrapper"),
    ("api-keys", "/api-keys", ".key-row"),
    ("settings", "/settings", "#tab-workspace"),
]


def test_every_page_accessible_light_and_dark(app_server: AppServer, browser, owner: Owner) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    assert httpx.get(f"{base}/favicon.ico").status_code == 200
    context = _signed_in(browser, owner)
    page = context.new_page()
    problems: list[str] = []
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name, path, ready in PAGES:
            page.goto(base + path.format(**owner.ids))
            expect(page.locator(ready).first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(400)
            problems += _landmarks(page, f"{name}-{scheme}")
        page.goto(f"{base}/settings")
        for tab in ("providers", "members", "account"):
            page.click(f"#tab-{tab}")
            page.wait_for_timeout(300)
            problems += _landmarks(page, f"settings-{tab}-{scheme}")
        # The phone layout: the mobile bar's menu button and theme toggle.
        page.set_viewport_size(PHONE)
        page.goto(f"{base}/overview")
        expect(page.get_by_role("button", name="Open navigation")).to_be_visible(timeout=30_000)
        expect(page.locator("#kpi-grid")).to_be_visible(timeout=30_000)
        problems += _landmarks(page, f"overview-phone-{scheme}")
        page.set_viewport_size(DESKTOP)
    # Signed out: login and signup.
    anonymous = browser.new_context(viewport=DESKTOP)
    page = anonymous.new_page()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        for name in ("login", "signup"):
            page.goto(f"{base}/{name}")
            expect(page.locator("h1")).to_be_visible(timeout=30_000)
            problems += _landmarks(page, f"{name}-{scheme}")
    anonymous.close()
    context.close()
    assert not problems, "\n".join(problems)


def test_phone_tables_stack_and_sidebar_runs_full_height(
    app_server: AppServer, browser, owner: Owner
) -> None:  # type: ignore[no-untyped-def]
    base = app_server.base_url
    context = _signed_in(browser, owner)
    page = context.new_page()

    # Desktop: on a page taller than the window the sidebar column reaches the bottom.
    page.goto(f"{base}/analytics")
    expect(page.locator(".recharts-wrapper").first).to_be_visible(timeout=30_000)
    heights = page.evaluate(
        "() => ({doc: document.documentElement.scrollHeight, win: window.innerHeight,"
        " side: document.getElementById('sidebar').getBoundingClientRect().height})"
    )
    assert heights["doc"] > heights["win"] + 100, heights  # a long page
    assert heights["side"] >= heights["doc"] - 1, heights
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(300)
    shot(page, "dash-sidebar-scrolled")

    # Phones: the four tables are stacked cards, nothing wider than the screen.
    page.set_viewport_size(PHONE)
    tables = [
        ("/conversations", "#main table", ".conversation-row", "Channel"),
        ("/api-keys", "#keys-table", ".key-row", "Prefix"),
        ("/knowledge", "#doc-table", ".doc-row", "Chunks"),
        ("/settings", "#members-table", ".member-row", "Joined"),
    ]
    for path, table, row, label in tables:
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            page.goto(base + path)
            if path == "/settings":
                page.click("#tab-members")
            expect(page.locator(row).first).to_be_visible(timeout=30_000)
            page.wait_for_timeout(300)
            assert page.locator(f"{table} thead").first.is_hidden()
            display = page.locator(row).first.evaluate("e => getComputedStyle(e).display")
            assert display == "block", (path, display)
            # Really on screen: not clipped by a collapsed wrapper (the point hits the row).
            page.locator(row).first.scroll_into_view_if_needed()
            hit = page.locator(row).first.evaluate(
                "e => { const b = e.children[0].getBoundingClientRect();"
                " const h = document.elementFromPoint(b.x + 4, b.y + b.height / 2);"
                " return !!h && e.contains(h); }"
            )
            assert hit, f"{path}: the first row is not visible"
            table_box = page.locator(table).first.bounding_box()
            row_box = page.locator(row).first.bounding_box()
            assert table_box and row_box and table_box["height"] >= row_box["height"], (
                path,
                table_box,
                row_box,
            )
            labels = page.locator(row).first.evaluate(
                "e => [...e.children].map(c => getComputedStyle(c, '::before').content)"
            )
            assert f'"{label}"' in labels, (path, labels)
            wide = page.evaluate(
                "[...document.querySelectorAll('#main *')].filter(e => e.getClientRects().length"
                " && e.getBoundingClientRect().right > window.innerWidth + 1).length"
            )
            assert wide == 0, f"{path}: {wide} elements past the right edge at 375 px"
            shot(page, f"dash-phone{path.replace('/', '-')}-{scheme}")
    # Knowledge tabs wrap instead of being cut off.
    page.goto(f"{base}/knowledge")
    tab = page.locator("#tab-test")
    expect(tab).to_be_visible(timeout=30_000)
    box = tab.bounding_box()
    assert box and box["x"] + box["width"] <= PHONE["width"], box
    context.close()


def test_startup_log_is_short_and_clean(app_server: AppServer) -> None:
    """No Reflex deprecation, no "Page … is being redefined", no Node version warning;
    the banner tells a newcomer where to go."""
    full = app_server.log.read_text(errors="replace")
    assert "ChatConnect is running" in full
    # The start-up: everything up to the end of the banner (later lines are requests').
    end = full.index("ChatConnect is running")
    log = full[: full.index("Answers", end) + 200]
    assert f"{app_server.base_url}/signup" in log
    for noise in ("is being redefined", "DeprecationWarning", "deprecated", "out of date"):
        assert noise not in log, f"start-up log contains {noise!r}"


class _Ollama(BaseHTTPRequestHandler):
    """A local OpenAI-compatible server like Ollama: /v1/models and streaming chat."""

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def do_GET(self) -> None:
        if self.path.split("?")[0] != "/v1/models":
            self.send_error(404)
            return
        body = json.dumps({"data": [{"id": "llama3.2:latest"}, {"id": "qwen2.5:7b"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        model = request.get("model", "")
        chunks = [
            {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "OK"}}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1}},
        ]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for chunk in chunks:
            data = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": model}
            self.wfile.write(f"data: {json.dumps({**data, **chunk})}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


def test_offline_answers_notice_and_provider_models(
    app_server: AppServer, browser, owner: Owner
) -> None:  # type: ignore[no-untyped-def]
    """No provider: overview and editor say answers are quoted passages and lead to the
    providers tab; a local Ollama's models fill the default-model list; the plan switch says
    billing is not connected."""
    base = app_server.base_url
    ollama = ThreadingHTTPServer(("127.0.0.1", 0), _Ollama)
    threading.Thread(target=ollama.serve_forever, daemon=True).start()
    context = _signed_in(browser, owner)
    page = context.new_page()
    try:
        page.goto(f"{base}/widgets/{owner.ids['widget']}")
        expect(page.locator("#editor-offline-answers")).to_contain_text(
            "quoted passages", timeout=30_000
        )
        _nav(page, "Overview")
        notice = page.locator("#offline-answers")
        expect(notice).to_contain_text("Connect OpenAI, Anthropic, Gemini or a local Ollama")
        shot(page, "dash-overview-offline-notice")
        page.click("#offline-answers-connect")
        expect(page.locator("#tab-providers")).to_have_attribute(
            "data-state", "active", timeout=15_000
        )
        expect(page.locator("#models-empty")).to_be_visible(timeout=15_000)
        page.click("#default-model")
        expect(page.get_by_role("option")).to_have_count(1)  # only "Automatic" for now
        page.keyboard.press("Escape")

        # Connect a local Ollama: its models become the default-model choices.
        page.fill("#cred-compat_base_url", f"http://127.0.0.1:{ollama.server_address[1]}/v1")
        page.click("#cred-save-openai_compatible")
        expect(page.locator("#cred-status-openai_compatible")).to_have_text(
            "Set (no key)", timeout=15_000
        )
        expect(page.locator("#models-empty")).to_have_count(0, timeout=15_000)  # listed
        page.click("#default-model")
        option = page.get_by_role(
            "option", name="llama3.2:latest · OpenAI-compatible (Ollama, vLLM)"
        )
        expect(option).to_be_visible(timeout=15_000)
        option.click()
        page.click("#default-model-save")
        expect(page.get_by_text("Default model saved.")).to_be_visible(timeout=15_000)
        page.click("#cred-test-openai_compatible")
        expect(page.locator("#cred-test-result-openai_compatible")).to_contain_text(
            "Connected to OpenAI-compatible: llama3.2:latest", timeout=30_000
        )
        shot(page, "dash-settings-providers-ollama")
        page.reload()
        page.click("#tab-providers")
        expect(page.locator("#default-model")).to_contain_text("llama3.2:latest", timeout=15_000)

        # With a provider, the notice is gone.
        _nav(page, "Overview")
        expect(page.locator("#kpi-grid")).to_be_visible(timeout=15_000)
        expect(page.locator("#offline-answers")).to_have_count(0)

        page.goto(f"{base}/settings")
        expect(page.locator("#plan-billing-note")).to_contain_text("Billing is not connected")
    finally:
        ollama.shutdown()
        context.close()


def test_analytics_axes_and_empty_range(app_server: AppServer, browser, owner: Owner) -> None:  # type: ignore[no-untyped-def]
    """Zero series get one 0 tick (not 0-4); every day chart has the same x ticks; a range
    without questions does not claim they were all answered."""
    base = app_server.base_url
    context = _signed_in(browser, owner)
    page = context.new_page()
    page.goto(f"{base}/analytics")
    expect(page.locator("#chart-cost .recharts-wrapper")).to_be_visible(timeout=30_000)
    # Recharts 3 draws tick labels in z-index layers (not inside .recharts-yAxis): y labels
    # are the right-anchored ones, x labels the centred ones.
    labels = (
        "(sel, anchor) => [...document.querySelectorAll(sel + ' .recharts-cartesian-axis-tick-value')]"  # noqa: E501
        ".filter(t => t.getAttribute('text-anchor') === anchor)"
    )
    ticks = f"(sel) => ({labels})(sel, 'end').map(t => t.textContent)"
    for chart in ("#chart-cost", "#chart-tokens", "#chart-messages"):  # drawn after measuring
        page.wait_for_function(f"({ticks})('{chart}').length > 0", timeout=15_000)
    assert page.evaluate(ticks, "#chart-cost") == ["$0"]  # the offline answerer costs nothing
    assert page.evaluate(ticks, "#chart-tokens") == ["0"]
    assert len(page.evaluate(ticks, "#chart-messages")) > 1  # real data keeps its scale
    # Same day labels at the same place (relative to each chart) in all four charts.
    x_ticks = (
        f"(sel) => ({labels})(sel, 'middle').map(t => [t.textContent,"
        " Math.round(t.getBoundingClientRect().x"
        " - t.closest('.recharts-wrapper').getBoundingClientRect().x)])"
    )
    positions = [
        page.evaluate(x_ticks, f"#chart-{c}")
        for c in ("conversations", "messages", "tokens", "cost")
    ]
    assert positions[0] and all(p == positions[0] for p in positions), positions

    day = (datetime.now(UTC) - timedelta(days=200)).date().isoformat()
    page.fill("#range-from", day)
    page.fill("#range-to", day)
    expect(page.locator("#kpi-messages")).to_have_text("0", timeout=15_000)
    card = page.locator("#unanswered-questions")
    expect(card).to_contain_text("No questions in this range yet.")
    expect(card).not_to_contain_text("confident answer")
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.wait_for_timeout(300)
        shot(page, f"dash-analytics-empty-range-{scheme}")
    context.close()
