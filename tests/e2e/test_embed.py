"""The embeddable chat as a website owner uses it: the real app (`app_server`), a host site
on another 127.0.0.1 port that is in the widget's allowed domains, and one that is not.

One seed for the module (workspace, widget, an uploaded guide the server ingests, a Q&A
pair full of prices); the tests then run in order: chat -> feedback -> reload restores -> new
conversation; phone width; the blocked origin; hostile host CSS; a disabled widget; a
foreign websocket; prices and code shown as written; feedback buttons and axe-core checks
in light and dark.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.db import session_scope
from app.models import Conversation, Message
from app.services import qa, widgets
from app.state.embed import EmbedState
from tests.e2e.conftest import shot
from tests.e2e.helpers import assert_no_serious_axe_violations
from tests.e2e.loader_fixtures import Origin
from tests.support.embed_world import seed, wait_ready

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect

QUESTION = "What water temperature should I brew with?"
PRICE_QUESTION = "How much do the brewers cost?"
# A Q&A answer with everything that used to be drawn as maths or code-highlighted.
PRICE_ANSWER = (
    "The Kalita Wave costs $6.95. Standard shipping is free on orders of $45. "
    "Gift cards start at $10 and go up to $100.\n\n"
    "Tips are welcome in any currency, even $\n\n"
    "A literal \\$ sign, code `$HOME/beans` and:\n\n"
    "```\ntotal = $6.95 + $45\n```"
)
PRICE_SHOWN = [
    "The Kalita Wave costs $6.95. Standard shipping is free on orders of $45. "
    "Gift cards start at $10 and go up to $100.",
    "Tips are welcome in any currency, even $",
    "A literal $ sign, code $HOME/beans and:",
    "total = $6.95 + $45",
]

# Aggressive global rules a real theme (or a careless one) might ship.
HOSTILE_CSS = """
* { all: unset !important; font-family: "Comic Sans MS" !important; }
html, body { display: block !important; background: #fef08a !important; }
div, button, iframe, span { display: none !important; width: 1px !important;
  height: 1px !important; position: static !important; opacity: .1 !important;
  transform: rotate(45deg) scale(.2) !important; border-radius: 0 !important; }
chatconnect-widget { display: none !important; }
:root { --cc-color: red !important; }
"""


def _host_route(hostile: bool):  # type: ignore[no-untyped-def]
    def route(path: str) -> tuple[str, str] | None:
        if path != "/":
            return None
        style = f"<style>{HOSTILE_CSS}</style>" if hostile else ""
        body = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Host</title>{style}</head><body><h1>Acme Coffee</h1>"
            "<p>A website that embeds the ChatConnect snippet.</p>"
            '<script src="{{APP}}/embed/widget.js" data-widget-id="{{WIDGET}}" async></script>'
            "</body></html>"
        )
        return "text/html", body

    return route


@pytest.fixture(scope="module")
def world(app_server: Any) -> Iterator[SimpleNamespace]:
    origins: dict[str, str] = {"APP": app_server.base_url}
    allowed = Origin(_host_route(False), origins)
    hostile = Origin(_host_route(True), origins)
    blocked = Origin(_host_route(False), origins)
    port = allowed.url.rsplit(":", 1)[1]
    hostile_port = hostile.url.rsplit(":", 1)[1]
    seeded = seed(
        app_server.data_dir,
        [f"127.0.0.1:{port}", f"127.0.0.1:{hostile_port}"],
        email="owner-e2e@acme-coffee.io",
    )
    origins["WIDGET"] = seeded.widget_id
    with session_scope(seeded.engine) as s:
        off = widgets.create_widget(s, seeded.tenant_id, "Switched off", enabled=False)
        off_id = off.id
        qa.create_pair(s, seeded.tenant_id, PRICE_QUESTION, PRICE_ANSWER)
    wait_ready(seeded)
    yield SimpleNamespace(
        app=app_server.base_url,
        allowed=allowed.url,
        hostile=hostile.url,
        blocked=blocked.url,
        seeded=seeded,
        off_widget=off_id,
    )
    for origin in (allowed, hostile, blocked):
        origin.close()
    seeded.engine.dispose()


@pytest.fixture(scope="module")
def visitor(browser: Any) -> Iterator[Any]:
    """One visitor (one browser context = one localStorage) across the ordered tests."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def _frame(page: Any) -> Any:
    return page.frame_locator("chatconnect-widget iframe")


def _open_chat(page: Any, url: str) -> Any:
    page.goto(url)
    bubble = page.locator("chatconnect-widget").locator("button.bubble")
    expect(bubble).to_be_visible()
    if bubble.get_attribute("aria-expanded") != "true":
        bubble.click()
    frame = _frame(page)
    expect(frame.locator("#cc-input")).to_be_editable(timeout=60_000)
    return frame


def _conversation(world: SimpleNamespace) -> Conversation:
    with session_scope(world.seeded.engine) as s:
        rows = s.exec(
            select(Conversation).where(Conversation.widget_id == world.seeded.widget_id)
        ).all()
        assert len(rows) == 1, rows
        return rows[0]


def test_chat_streams_an_answer_with_citations_and_stores_feedback(
    world: SimpleNamespace, visitor: Any
) -> None:
    frame = _open_chat(visitor, world.allowed + "/")
    expect(frame.locator("#cc-title")).to_have_text("Barista Bot")
    expect(frame.locator("#cc-greeting")).to_contain_text("Ask me about brewing")
    expect(frame.locator(".cc-starter")).to_have_text(["How do you ship?"])
    shot(visitor, "embed-open")

    # Record whether partial answer text was on screen before the final message.
    inner = next(f for f in visitor.frames if "/embed/" in f.url)
    inner.evaluate(
        """() => { window.__partials = [];
        new MutationObserver(() => { const s = document.getElementById('cc-streaming');
          if (s && s.textContent.trim()) window.__partials.push(s.textContent.trim()); })
        .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
    )
    frame.locator("#cc-input").fill(QUESTION)
    expect(frame.locator("#cc-counter")).to_have_text(f"{len(QUESTION)} / 2000")
    frame.locator("#cc-input").press("Enter")
    answer = frame.locator(".cc-answer").first
    expect(answer).to_contain_text("92 and 96 degrees", timeout=60_000)
    partials = inner.evaluate("window.__partials")
    assert partials, "no streamed text was shown before the answer was complete"
    chip = answer.locator(".cc-chip").first
    expect(chip).to_contain_text("Acme Coffee brewing guide")
    chip.click()
    expect(frame.locator(".cc-source:popover-open .cc-passage")).to_contain_text(
        "between 92 and 96 degrees"
    )
    shot(visitor, "embed-answer-citation")
    visitor.keyboard.press("Escape")  # closes the popover (focus is in the frame)...
    expect(frame.locator(".cc-source:popover-open")).to_have_count(0)
    bubble = visitor.locator("chatconnect-widget").locator("button.bubble")
    expect(bubble).to_have_attribute("aria-expanded", "true")  # ...and not the chat

    up = answer.locator(".cc-thumb-up")
    up.click()
    expect(up).to_have_attribute("aria-pressed", "true")
    message_id = answer.get_attribute("data-message-id")
    with session_scope(world.seeded.engine) as s:
        stored = s.get(Message, message_id)
        assert stored is not None and stored.feedback == 1

    conversation = _conversation(world)
    assert conversation.channel == "web"
    assert len(conversation.visitor_id) >= 20
    assert conversation.host_url == world.allowed + "/"
    assert "Chrome" in conversation.user_agent
    assert conversation.message_count == 2


def test_reload_restores_history_then_new_conversation(
    world: SimpleNamespace, visitor: Any
) -> None:
    visitor.reload()
    frame = _open_chat(visitor, world.allowed + "/")  # the loader remembers "open"
    answer = frame.locator(".cc-answer").first
    expect(frame.locator(".cc-q")).to_have_text([QUESTION])
    expect(answer).to_contain_text("92 and 96 degrees")
    expect(answer.locator(".cc-thumb-up")).to_have_attribute("aria-pressed", "true")
    shot(visitor, "embed-restored")

    frame.locator("#cc-new").click()
    expect(frame.locator(".cc-answer")).to_have_count(0)
    expect(frame.locator(".cc-starter")).to_have_count(1)
    frame.locator(".cc-starter").click()
    expect(frame.locator(".cc-answer").first).to_contain_text("Tuesday", timeout=60_000)
    with session_scope(world.seeded.engine) as s:
        rows = s.exec(
            select(Conversation).where(Conversation.widget_id == world.seeded.widget_id)
        ).all()
    assert len(rows) == 2
    assert len({r.visitor_id for r in rows}) == 1  # same visitor, fresh conversation

    # Escape inside the frame asks the loader to close the panel.
    frame.locator("#cc-input").focus()
    visitor.keyboard.press("Escape")
    expect(visitor.locator("chatconnect-widget").locator("button.bubble")).to_have_attribute(
        "aria-expanded", "false"
    )


def test_full_screen_on_a_phone(world: SimpleNamespace, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    try:
        frame = _open_chat(page, world.allowed + "/")
        box = page.locator("chatconnect-widget iframe").bounding_box()
        assert box is not None and box["width"] >= 370 and box["height"] >= 700
        expect(frame.locator("#cc-close")).to_be_visible()
        expect(frame.locator("#cc-send")).to_be_visible()
        page.screenshot(path=str(_artifact("embed-phone")))
    finally:
        context.close()


def test_an_origin_not_in_allowed_domains_gets_no_chat(
    world: SimpleNamespace, browser: Any
) -> None:
    policy = httpx.get(f"{world.app}/embed/{world.seeded.widget_id}").headers[
        "content-security-policy"
    ]
    port = world.allowed.rsplit(":", 1)[1]
    assert policy.startswith(f"frame-ancestors 'self' {world.app} 127.0.0.1:{port}")
    assert world.blocked.removeprefix("http://") not in policy

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    try:
        page.goto(world.blocked + "/")
        # The loader asks the app (config.json) and draws nothing: no bubble, no frame.
        for _ in range(100):
            if any("ChatConnect" in m for m in messages):
                break
            page.wait_for_timeout(100)
        page.wait_for_timeout(500)
        expect(page.locator("chatconnect-widget")).to_have_count(0)
        assert len(page.frames) == 1
        said = [m for m in messages if "ChatConnect" in m]
        host = world.blocked.removeprefix("http://")
        assert said == [
            f'warning: [ChatConnect] widget "{world.seeded.widget_id}" is not allowed on '
            f'{world.blocked}, so no chat is shown. Add "{host}" to the widget\'s allowed '
            "domains in the ChatConnect dashboard."
        ], said
        shot(page, "embed-blocked-origin")
    finally:
        context.close()


def test_host_css_cannot_restyle_the_bubble(world: SimpleNamespace, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(world.hostile + "/")
        bubble = page.locator("chatconnect-widget").locator("button.bubble")
        expect(bubble).to_be_visible()
        box = bubble.bounding_box()
        assert box is not None
        assert round(box["width"]) == 56 and round(box["height"]) == 56
        assert 1280 - (box["x"] + box["width"]) == pytest.approx(20, abs=2)  # bottom-right
        assert 800 - (box["y"] + box["height"]) == pytest.approx(20, abs=2)
        style = bubble.evaluate(
            "b => { const s = getComputedStyle(b); return [s.borderRadius, s.backgroundColor,"
            " s.opacity, s.transform]; }"
        )
        assert style[0] == "50%"
        assert style[1] == "rgb(194, 65, 12)"  # the widget's #c2410c before it was ever opened
        assert style[2] == "1" and style[3] in ("none", "matrix(1, 0, 0, 1, 0, 0)")
        bubble.click()
        frame = _frame(page)
        expect(frame.locator("#cc-input")).to_be_editable(timeout=60_000)
        expect(bubble).to_have_css("background-color", "rgb(194, 65, 12)")
        panel = page.locator("chatconnect-widget iframe").bounding_box()
        assert panel is not None and panel["width"] >= 360 and panel["height"] >= 500
        shot(page, "embed-hostile-css")
    finally:
        context.close()


def test_disabled_widget_shows_unavailable_and_accepts_nothing(
    world: SimpleNamespace, browser: Any
) -> None:
    context = browser.new_context(viewport={"width": 420, "height": 640})
    page = context.new_page()
    try:
        page.goto(f"{world.app}/embed/{world.off_widget}?mode=inline")
        expect(page.locator("#cc-unavailable")).to_have_text("This chat is unavailable")
        expect(page.locator("#cc-input")).to_have_count(0)
        shot(page, "embed-unavailable")
    finally:
        context.close()
    with session_scope(world.seeded.engine) as s:
        assert not s.exec(
            select(Conversation).where(Conversation.widget_id == world.off_widget)
        ).all()


def test_widget_switched_off_after_the_page_opened_answers_nothing(
    world: SimpleNamespace, browser: Any
) -> None:
    """A turn reads the widget itself (the page keeps only its workspace): a widget
    switched off while a visitor's page is open takes no further question."""
    with session_scope(world.seeded.engine) as s:
        later = widgets.create_widget(s, world.seeded.tenant_id, "Switched off later").id
    context = browser.new_context(viewport={"width": 420, "height": 640})
    page = context.new_page()
    try:
        page.goto(f"{world.app}/embed/{later}?mode=inline")
        expect(page.locator("#cc-input")).to_be_editable(timeout=60_000)
        with session_scope(world.seeded.engine) as s:
            widgets.update_widget(s, world.seeded.tenant_id, later, enabled=False)
        page.locator("#cc-input").fill(QUESTION)
        page.locator("#cc-input").press("Enter")
        expect(page.locator("#cc-unavailable")).to_have_text(
            "This chat is unavailable", timeout=30_000
        )
    finally:
        context.close()
    with session_scope(world.seeded.engine) as s:
        assert not s.exec(select(Conversation).where(Conversation.widget_id == later)).all()


def test_websocket_refuses_a_foreign_origin(world: SimpleNamespace, browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(world.blocked + "/")
        ws_url = re.sub(r"^http", "ws", world.app) + "/_event/?EIO=4&transport=websocket"
        outcome = page.evaluate(
            """url => new Promise(done => { const ws = new WebSocket(url);
              ws.onopen = () => { ws.close(); done('open'); };
              ws.onerror = () => done('refused'); setTimeout(() => done('timeout'), 8000); })""",
            ws_url,
        )
        assert outcome == "refused"
    finally:
        context.close()


def _artifact(name: str):  # type: ignore[no-untyped-def]
    from tests.e2e.conftest import ARTIFACTS

    return ARTIFACTS / f"{name}.png"


def test_dashboard_preview_applies_posted_settings_for_the_owner_only(
    world: SimpleNamespace, browser: Any
) -> None:
    from tests.e2e.helpers import sign_up

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        sign_up(page, world.app, "preview-owner@acme-coffee.io", "Preview Co")
        from app.models import Membership, User

        with session_scope(world.seeded.engine) as s:
            user = s.exec(select(User).where(User.email == "preview-owner@acme-coffee.io")).one()
            tenant_id = s.exec(select(Membership).where(Membership.user_id == user.id)).one()
            own = widgets.create_widget(s, tenant_id.tenant_id, "Previewed")
            own_id = own.id

        def preview(widget_id: str) -> Any:
            page.evaluate(
                """src => { document.getElementById('pv')?.remove();
                const f = document.createElement('iframe'); f.id = 'pv'; f.src = src;
                f.style = 'position:fixed;right:0;top:0;width:380px;height:600px;z-index:9999';
                document.body.appendChild(f); }""",
                f"/embed/{widget_id}?mode=inline&preview=1",
            )
            frame = page.frame_locator("#pv")
            expect(frame.locator("#cc-input")).to_be_editable(timeout=60_000)
            page.wait_for_timeout(500)
            page.evaluate(
                """() => document.getElementById('pv').contentWindow.postMessage({
                  type: 'chatconnect:preview', settings: {title: 'Live title',
                  primary_color: '#16a34a', greeting: 'Edited greeting',
                  starter_questions: ['Edited starter']}}, location.origin)"""
            )
            return frame

        frame = preview(own_id)
        expect(frame.locator("#cc-title")).to_have_text("Live title")
        expect(frame.locator("#cc-greeting")).to_have_text("Edited greeting")
        expect(frame.locator(".cc-starter")).to_have_text(["Edited starter"])
        expect(frame.locator("#cc-send")).to_have_css("background-color", "rgb(22, 163, 74)")
        shot(page, "embed-preview")
        # Another workspace's widget: not a preview, the posted settings are ignored.
        frame = preview(world.seeded.widget_id)
        page.wait_for_timeout(1500)
        expect(frame.locator("#cc-title")).to_have_text("Barista Bot")
    finally:
        context.close()


class _SocketRelay:
    """The page's websocket routed through Playwright to the real server: what the page
    sends is recorded (`sent`), or dropped while `dropping`, as a dead connection would."""

    def __init__(self) -> None:
        self.links: list[tuple[Any, Any]] = []  # (page side, server side) per connection
        self.sent: list[str] = []
        self.dropping = False

    def __call__(self, ws: Any) -> None:
        server = ws.connect_to_server()
        self.links.append((ws, server))

        def up(message: Any) -> None:
            if not self.dropping:
                self.sent.append(message if isinstance(message, str) else "")
                server.send(message)

        ws.on_message(up)
        server.on_message(ws.send)

    def to_page(self, frame: str) -> None:
        self.links[-1][0].send(frame)

    def close(self) -> None:
        """The connection closes: the page notices and reconnects (through the relay)."""
        for side in self.links[-1]:
            side.close()


def _inline_chat(
    browser: Any,
    world: SimpleNamespace,
    scheme: str,
    scripts: list[str] | None = None,
    relay: _SocketRelay | None = None,
) -> tuple[Any, Any]:
    """The chat page on its own (as in an inline embed), in a fresh visitor's browser;
    `scripts` collects the URL of every script the page loads; `relay` carries its
    websocket."""
    context = browser.new_context(viewport={"width": 420, "height": 720}, color_scheme=scheme)
    context.set_default_timeout(30_000)
    page = context.new_page()
    if scripts is not None:
        page.on("request", lambda r: r.resource_type == "script" and scripts.append(r.url))
    if relay is not None:
        page.route_web_socket(re.compile(r"/_event/"), relay)
    host = world.allowed + "/"
    page.goto(f"{world.app}/embed/{world.seeded.widget_id}?mode=inline&host={host}")
    expect(page.locator("#cc-input")).to_be_editable(timeout=60_000)
    return context, page


def _ask(page: Any, question: str) -> Any:
    page.locator("#cc-input").fill(question)
    page.locator("#cc-input").press("Enter")
    answer = page.locator(".cc-answer").last
    expect(answer.locator(".cc-thumb-up")).to_be_visible(timeout=60_000)
    return answer


def test_prices_and_code_show_exactly_as_written(world: SimpleNamespace, browser: Any) -> None:
    scripts: list[str] = []
    context, page = _inline_chat(browser, world, "light", scripts)
    try:
        answer = _ask(page, PRICE_QUESTION)
        body = answer.locator(".cc-md")
        blocks = body.locator(":scope > p, :scope > pre")
        expect(blocks).to_have_count(len(PRICE_SHOWN) + 1)  # + the "[1]" citation
        assert [t.strip() for t in blocks.all_inner_texts()][: len(PRICE_SHOWN)] == PRICE_SHOWN
        expect(body.locator("code")).to_have_text(["$HOME/beans", "total = $6.95 + $45"])
        # No maths, no highlighter: no KaTeX markup, no token spans in the code block.
        assert body.locator(".katex, math, pre span").count() == 0
        # The component's own styles apply (a wrapped, tinted code block).
        expect(body.locator("pre")).to_have_css("white-space", "pre-wrap")
        assert body.locator("pre").evaluate("e => getComputedStyle(e).backgroundColor") not in (
            "rgba(0, 0, 0, 0)",
            "transparent",
        )
        shot(page, "embed-prices")
    finally:
        context.close()
    loaded = [u.rsplit("/", 1)[-1] for u in scripts]
    assert loaded, "no scripts seen"
    for library in ("katex", "highlight", "prism", "refractor", "markdown", "remark", "micromark"):
        assert not [name for name in loaded if library in name.lower()], (library, loaded)


def _rgba(value: str) -> tuple[float, float, float, float]:
    numbers = [float(n) for n in value[value.index("(") + 1 : value.index(")")].split(",")]
    return (*numbers[:3], numbers[3] if len(numbers) == 4 else 1.0)  # type: ignore[return-value]


def _over(top: tuple[float, ...], under: tuple[float, ...]) -> tuple[float, float, float]:
    a = top[3]
    return tuple(top[i] * a + under[i] * (1 - a) for i in range(3))  # type: ignore[return-value]


def _contrast(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    def lum(c: tuple[float, ...]) -> float:
        ch = [v / 255 for v in c[:3]]
        ch = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in ch]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_feedback_buttons_and_accessibility(
    world: SimpleNamespace, browser: Any, scheme: str
) -> None:
    context, page = _inline_chat(browser, world, scheme)
    try:
        assert page.evaluate("document.documentElement.classList.contains('dark')") is (
            scheme == "dark"
        )
        assert_no_serious_axe_violations(page, f"embed-empty-{scheme}")
        answer = _ask(page, QUESTION)
        for button in (answer.locator(".cc-thumb-up"), answer.locator(".cc-thumb-down")):
            box = button.bounding_box()
            assert box is not None and box["width"] >= 32 and box["height"] >= 32, box
            icon, fill, *behind = button.evaluate(
                """b => { const out = [getComputedStyle(b.querySelector('svg')).color];
                for (let e = b; e; e = e.parentElement)
                  out.push(getComputedStyle(e).backgroundColor);
                return out; }"""
            )
            surface: tuple[float, ...] = (255.0, 255.0, 255.0, 1.0)  # the browser's canvas
            for layer in reversed([fill, *behind]):
                surface = (*_over(_rgba(layer), surface), 1.0)
            # WCAG 1.4.11: the icon against its button, and the button against the page.
            assert _contrast(_over(_rgba(icon), surface), surface) >= 4.5, (scheme, icon, behind)
            assert _rgba(fill)[3] > 0  # a visible button, not a bare faint glyph
        answer.locator(".cc-thumb-down").click()
        expect(answer.locator(".cc-thumb-down")).to_have_attribute("aria-pressed", "true")
        answer.locator(".cc-chip").first.click()
        expect(page.locator(".cc-source:popover-open .cc-passage")).to_be_visible()
        shot(page, f"embed-a11y-{scheme}")
        assert_no_serious_axe_violations(page, f"embed-answer-popover-{scheme}")
        page.keyboard.press("Escape")
        expect(page.locator(".cc-source:popover-open .cc-passage")).to_have_count(
            0
        )  # closing animation done
        assert_no_serious_axe_violations(page, f"embed-answer-{scheme}")
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_host_page_with_the_bubble_passes_axe(
    world: SimpleNamespace, browser: Any, scheme: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(world.allowed + "/")
        bubble = page.locator("chatconnect-widget").locator("button.bubble")
        expect(bubble).to_be_visible()
        assert_no_serious_axe_violations(page, f"host-bubble-closed-{scheme}")
        bubble.click()
        expect(_frame(page).locator("#cc-input")).to_be_editable(timeout=60_000)
        assert_no_serious_axe_violations(page, f"host-bubble-open-{scheme}")
        chat = next(f for f in page.frames if "/embed/" in f.url)
        assert_no_serious_axe_violations(chat, f"embed-in-bubble-{scheme}")
    finally:
        context.close()


def test_unavailable_page_passes_axe(world: SimpleNamespace, browser: Any) -> None:
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 420, "height": 640}, color_scheme=scheme)
        page = context.new_page()
        try:
            page.goto(f"{world.app}/embed/{world.off_widget}?mode=bubble")
            expect(page.locator("#cc-unavailable")).to_be_visible(timeout=60_000)
            assert_no_serious_axe_violations(page, f"embed-unavailable-{scheme}")
        finally:
            context.close()


def test_no_source_chips_under_i_dont_know(world: SimpleNamespace, browser: Any) -> None:
    """A question the guide cannot answer gets the refusal and no citation chips; a
    question it can answer still shows its chip (a widget of its own: its own visitor)."""
    with session_scope(world.seeded.engine) as s:
        other = widgets.create_widget(s, world.seeded.tenant_id, "Chips check")
        widget_id = other.id
    context = browser.new_context(viewport={"width": 420, "height": 760})
    context.set_default_timeout(30_000)
    page = context.new_page()
    try:
        page.goto(f"{world.app}/embed/{widget_id}?mode=inline")
        expect(page.locator("#cc-input")).to_be_editable(timeout=60_000)
        page.locator("#cc-input").fill("Do you sell mountain bicycles?")
        page.locator("#cc-input").press("Enter")
        refusal = page.locator(".cc-answer").first
        expect(refusal).to_contain_text("couldn't find", timeout=60_000)
        expect(page.locator("#cc-input")).to_be_editable(timeout=60_000)
        page.wait_for_timeout(500)  # anything late (a chip) would show by now
        expect(refusal.locator(".cc-chip")).to_have_count(0)
        shot(page, "embed-idk-no-chips")

        page.locator("#cc-input").fill(QUESTION)
        page.locator("#cc-input").press("Enter")
        answer = page.locator(".cc-answer").nth(1)
        expect(answer).to_contain_text("92 and 96 degrees", timeout=60_000)
        chips = answer.locator(".cc-chip")
        expect(chips.first).to_contain_text("Acme Coffee brewing guide")
        cited = set(re.findall(r"\[(\d+)\]", answer.inner_text()))
        assert chips.count() == len(cited) >= 1  # one chip per cited passage
        expect(refusal.locator(".cc-chip")).to_have_count(0)
        shot(page, "embed-answer-after-idk")
    finally:
        context.close()


def _status_delta(status: str) -> str:
    """The socket.io frame the server sends when the chat's status changes."""
    field = str(EmbedState.status).rsplit(".", 1)[-1]  # the name the page's reducer knows
    delta = {"delta": {EmbedState.get_full_name(): {field: status}}}
    return "42/_event," + json.dumps(["event", delta])


def test_a_question_sent_while_the_page_reloads_its_state_is_not_dropped(
    world: SimpleNamespace, browser: Any
) -> None:
    """A reconnect can land on a fresh server state (another process, after the first one
    died): the page reads "loading" until `load` has run there. The visitor's Enter in that
    moment used to hit a disabled box and vanish; it is now sent and waits for the load.
    The "loading" frame is injected into the real websocket (Playwright's route), as such a
    reconnect delivers it, so the moment is not left to a race."""
    relay = _SocketRelay()
    context, page = _inline_chat(browser, world, "light", relay=relay)
    try:
        root, box = page.locator("#cc-root"), page.locator("#cc-input")
        box.fill(PRICE_QUESTION)
        expect(page.locator("#cc-counter")).to_contain_text(f"{len(PRICE_QUESTION)} /")
        relay.to_page(_status_delta("loading"))
        expect(root).to_have_attribute("data-status", "loading")
        expect(box).not_to_be_editable()  # typing waits for the load: a reload cannot wipe it
        before = len(relay.sent)
        box.press("Enter")
        page.wait_for_timeout(500)
        submits = [m for m in relay.sent[before:] if "embed_state.submit" in m]
        assert len(submits) == 1, relay.sent[before:]
        relay.to_page(_status_delta("ready"))  # the load finished
        expect(page.locator(".cc-q")).to_have_count(1, timeout=30_000)
        expect(page.locator(".cc-q").last).to_contain_text(PRICE_QUESTION)
        expect(page.locator(".cc-answer")).to_have_count(1, timeout=60_000)
        expect(page.locator(".cc-answer").last).to_contain_text("$6.95")
        expect(box).to_be_editable()
        expect(box).to_have_value("")
    finally:
        context.close()


def test_a_starter_question_sent_into_a_dead_connection_is_offered_again(
    world: SimpleNamespace, browser: Any
) -> None:
    """A starter chip (or "Ask again") clicked into a connection that died without the page
    noticing: the page recorded its question first, so the reconnect offers it again. The
    dead connection is the real websocket routed through Playwright, dropping what the page
    sends, then closed."""
    relay = _SocketRelay()
    context, page = _inline_chat(browser, world, "light", relay=relay)

    def connection_dies() -> None:
        page.wait_for_timeout(500)
        assert page.locator(".cc-q").count() == 0  # nothing reached a server
        relay.dropping = False
        relay.close()

    try:
        relay.dropping = True
        page.locator(".cc-starter", has_text="How do you ship?").click()
        connection_dies()
        banner = page.locator("#cc-banner")
        expect(banner).to_contain_text("connection was lost", timeout=45_000)
        assert len(relay.links) >= 2  # the page reconnected through the route

        # "Ask again" records its question too (cleared here, so only the button writes it).
        page.evaluate("localStorage.removeItem('cc_pending')")
        relay.dropping = True
        page.locator("#cc-ask-again").click()
        pending = page.evaluate("JSON.parse(localStorage.getItem('cc_pending') || 'null')")
        assert pending == {"q": "How do you ship?", "w": world.seeded.widget_id}
        connection_dies()
        expect(banner).to_contain_text("connection was lost", timeout=45_000)
        expect(page.locator("#cc-ask-again")).to_be_visible()

        page.locator("#cc-ask-again").click()  # a live connection now: answered
        expect(page.locator(".cc-answer")).to_have_count(1, timeout=60_000)
        expect(page.locator(".cc-q")).to_have_text(["How do you ship?"])
        expect(banner).to_have_count(0)
        saved = page.evaluate("JSON.parse(localStorage.getItem('cc_conversations') || '{}')")
        with session_scope(world.seeded.engine) as s:
            query = select(Message).where(Message.conversation_id == saved[world.seeded.widget_id])
            rows = sorted(s.exec(query).all(), key=lambda m: m.created_at)
        assert [(m.role, m.text if m.role == "user" else "") for m in rows] == [
            ("user", "How do you ship?"),
            ("assistant", ""),
        ]  # asked once: the dropped sends never reached a server
    finally:
        context.close()
