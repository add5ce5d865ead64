"""The embed loader (embed/widget.js) on its own, in headless Chromium.

Three throwaway origins (see loader_fixtures): the app serves widget.js, per-widget
config.json answers and a stub /embed/<id> page that speaks the postMessage protocol, the
host site embeds the snippet under hostile global CSS, and a foreign site tries to spoof the
protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.loader_fixtures import Origin, app_route, evil_route, host_route

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect

WIDGET_ID = "acme_42"
CONFIG_CYAN = "rgb(8, 145, 178)"  # acme_42's config.json color
SNIPPET_PURPLE = "rgb(124, 58, 237)"  # data-color="#7c3aed" (used only without a config)
CONFIG_GREEN = "rgb(22, 163, 74)"  # the stub's chatconnect:config color
# A 1x1 PNG for the avatar (served by a Playwright route: no network here).
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201a5e1a4a50000000049454e44ae426082"
)

# Records the bubble's look at the moment the widget enters the DOM (before it is painted).
FIRST_PAINT_JS = """
window.__firstPaint = null;
new MutationObserver((_, obs) => {
  const host = document.querySelector('chatconnect-widget');
  const bubble = host && host.shadowRoot && host.shadowRoot.querySelector('.bubble');
  if (!bubble) return;
  const r = bubble.getBoundingClientRect();
  window.__firstPaint = {bg: getComputedStyle(bubble).backgroundColor, x: r.left,
    avatar: !!bubble.querySelector('img.av')};
  obs.disconnect();
}).observe(document, {childList: true, subtree: true});
"""


@pytest.fixture(scope="module")
def sites() -> Iterator[SimpleNamespace]:
    urls: dict[str, str] = {}  # filled below; handlers read it per request
    servers = [
        Origin(app_route, urls),
        Origin(host_route(WIDGET_ID), urls),
        Origin(evil_route, urls),
    ]
    urls.update(APP=servers[0].url, HOST=servers[1].url, EVIL=servers[2].url)
    yield SimpleNamespace(app=servers[0].url, host=servers[1].url, evil=servers[2].url)
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        from tests.conftest import service_missing

        service_missing(f"chromium not found at {CHROMIUM} (make chromium installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium_browser: Any) -> Iterator[Callable[..., Any]]:
    """A page in a fresh context (fresh localStorage); keyword args go to new_context."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = chromium_browser.new_context(**options)
        context.set_default_timeout(10_000)  # a busy 2-core CI box
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def snap(page: Any, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"loader-{name}.png"))


def parts(page: Any) -> SimpleNamespace:
    widget = page.locator("chatconnect-widget")
    return SimpleNamespace(
        widget=widget,
        bubble=widget.locator("button.bubble"),
        panel=widget.locator(".panel"),
        iframe=widget.locator("iframe"),
        dot=widget.locator(".dot"),
    )


def settled_box(locator: Any) -> dict[str, float]:
    """Bounding box once the element's CSS transitions (incl. the bubble's hover zoom,
    mouse moved away first) have finished."""
    locator.page.mouse.move(0, 0)
    locator.evaluate(
        "el => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        ".then(() => Promise.all(el.getAnimations().map(a => a.finished)))"
    )
    return locator.bounding_box()


def chat_frame(w: SimpleNamespace) -> Any:
    frame = w.iframe.element_handle().content_frame()
    frame.wait_for_function("typeof window.send === 'function'")
    return frame


def received(frame: Any, type_: str) -> list[dict[str, Any]]:
    return [m for m in frame.evaluate("received") if m["data"].get("type") == type_]


def round_trip(frame: Any) -> None:
    """Barrier: the loader answers `ready` with `host`; once that arrives, every message
    posted to the host page before it has been handled."""
    before = len(received(frame, "chatconnect:host"))
    frame.evaluate("send('ready')")
    frame.wait_for_function(
        f"received.filter(m => m.data.type === 'chatconnect:host').length > {before}"
    )


def shadow_focus(page: Any) -> str | None:
    return page.evaluate(
        "() => { const a = document.activeElement;"
        " const s = a && a.shadowRoot && a.shadowRoot.activeElement;"
        " return s ? s.tagName + '.' + s.className : a && a.tagName; }"
    )


def test_bubble_panel_and_state(open_page: Callable[..., Any], sites: SimpleNamespace) -> None:
    page = open_page()
    page.add_init_script(FIRST_PAINT_JS)
    page.goto(f"{sites.host}/blank.html")
    baseline = set(page.evaluate("Object.keys(window)"))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: msg.type in ("error", "warning") and errors.append(msg.text))
    page.goto(f"{sites.host}/hostile.html")
    w = parts(page)

    # Two snippet tags, one bubble; untouched by `* { all: unset !important }` and friends.
    expect(w.bubble).to_be_visible()
    expect(w.widget).to_have_count(1)
    new_globals = set(page.evaluate("Object.keys(window)")) - baseline
    assert {k for k in new_globals if not k.isdigit()} == {"ChatConnect"}
    assert w.bubble.bounding_box() == {"x": 1280 - 76, "y": 800 - 76, "width": 56, "height": 56}
    # The widget's own colour from the very first paint (config.json beats data-color).
    assert page.evaluate("window.__firstPaint") == {
        "bg": CONFIG_CYAN,
        "x": 1280 - 76,
        "avatar": False,
    }
    expect(w.bubble).to_have_css("background-color", CONFIG_CYAN)
    expect(w.bubble).to_have_css("border-radius", "50%")
    expect(w.bubble).to_have_attribute("aria-label", "Open chat")
    expect(w.bubble).to_have_attribute("aria-expanded", "false")
    # Above the page's own z-index 2147483646 cookie banner.
    top = page.evaluate("document.elementFromPoint(1280 - 48, 800 - 48).tagName")
    assert top == "CHATCONNECT-WIDGET"
    expect(w.iframe).to_have_count(0)  # lazy: nothing loads before the first open
    snap(page, "closed")

    w.bubble.click()
    expect(w.iframe).to_have_count(1)
    src = urlsplit(w.iframe.get_attribute("src"))
    assert f"{src.scheme}://{src.netloc}" == sites.app
    assert src.path == f"/embed/{WIDGET_ID}"
    assert parse_qs(src.query) == {"host": [page.url], "mode": ["bubble"]}
    expect(w.bubble).to_have_attribute("aria-expanded", "true")
    expect(w.bubble).to_have_attribute("aria-label", "Close chat")
    expect(w.panel).to_be_visible()
    assert w.panel.evaluate("el => getComputedStyle(el).transitionDuration") != "0s"
    assert settled_box(w.panel) == {
        "x": 1280 - 20 - 380,
        "y": 800 - 88 - 600,
        "width": 380,
        "height": 600,
    }
    assert shadow_focus(page) == "IFRAME."
    frame = chat_frame(w)
    frame.wait_for_function("received.some(m => m.data.type === 'chatconnect:open')")
    assert {m["origin"] for m in frame.evaluate("received")} == {sites.host}
    assert {"type": "chatconnect:host", "url": page.url} in [
        m["data"] for m in received(frame, "chatconnect:host")
    ]
    snap(page, "open")

    # The iframe's saved look replaces the snippet's.
    frame.evaluate("send('config')")
    expect(w.bubble).to_have_css("background-color", CONFIG_GREEN)
    expect(w.iframe).to_have_attribute("title", "Acme help")
    expect(w.panel).to_have_attribute("aria-label", "Acme help")
    assert settled_box(w.bubble)["x"] == 20
    assert settled_box(w.panel)["x"] == 20
    snap(page, "config-left")

    # Close from the iframe's own button: focus returns to the bubble.
    frame.click("#close")
    expect(w.panel).to_be_hidden()
    expect(w.bubble).to_have_attribute("aria-expanded", "false")
    assert shadow_focus(page) == "BUTTON.bubble"
    frame.wait_for_function("received.some(m => m.data.type === 'chatconnect:closed')")

    # An assistant message while closed shows the unread dot; opening clears it.
    expect(w.dot).to_be_hidden()
    frame.evaluate("send('message')")
    expect(w.dot).to_be_visible()
    expect(w.bubble).to_have_attribute("aria-describedby", "unread")
    snap(page, "unread")
    w.bubble.click()
    expect(w.panel).to_be_visible()
    expect(w.dot).to_be_hidden()
    frame.evaluate("send('message')")  # while open: no dot
    round_trip(frame)
    expect(w.dot).to_be_hidden()

    # Escape with focus inside the widget closes it.
    w.bubble.focus()
    page.keyboard.press("Escape")
    expect(w.panel).to_be_hidden()

    # Host page API.
    page.evaluate("ChatConnect.open()")
    expect(w.panel).to_be_visible()

    # Open survives a reload (iframe re-created, focus not stolen); so does the saved look.
    page.reload()
    expect(w.iframe).to_have_count(1)
    expect(w.panel).to_be_visible()
    expect(w.bubble).to_have_attribute("aria-expanded", "true")
    assert page.evaluate("document.activeElement.tagName") == "BODY"
    page.evaluate("ChatConnect.close()")
    expect(w.panel).to_be_hidden()

    page.reload()
    expect(w.bubble).to_be_visible()
    # The saved look comes from config.json again, before any iframe exists.
    assert page.evaluate("window.__firstPaint")["bg"] == CONFIG_CYAN
    expect(w.bubble).to_have_css("background-color", CONFIG_CYAN)
    assert settled_box(w.bubble)["x"] == 1280 - 76
    expect(w.panel).to_be_hidden()
    expect(w.iframe).to_have_count(0)
    # Nothing logged into the host page's console (e.g. posts to a not-yet-loaded frame).
    assert [e for e in errors if "favicon" not in e and "404" not in e] == []


def test_fallback_close_until_ready(open_page: Callable[..., Any], sites: SimpleNamespace) -> None:
    """A chat page that never posts `ready` still gets a close button from the loader."""
    page = open_page(viewport={"width": 375, "height": 667})
    page.goto(f"{sites.host}/legacy.html")
    w = parts(page)
    w.bubble.click()
    expect(w.panel).to_be_visible()
    expect(w.widget.locator(".spin")).to_be_hidden()  # hidden once the frame has loaded
    fallback = w.widget.locator(".fallback-close")
    expect(fallback).to_be_visible()
    fallback.click()
    expect(w.panel).to_be_hidden()
    expect(w.bubble).to_be_visible()
    assert shadow_focus(page) == "BUTTON.bubble"


def test_foreign_messages_are_ignored(
    open_page: Callable[..., Any], sites: SimpleNamespace
) -> None:
    page = open_page()
    page.goto(f"{sites.host}/foreign.html")
    w = parts(page)
    w.bubble.click()
    expect(w.panel).to_be_visible()
    stub = chat_frame(w)
    evil = page.frame(url=f"{sites.evil}/evil.html")  # another origin
    rogue = page.frame(url=f"{sites.app}/rogue.html")  # the app's origin, but not our iframe
    assert evil and rogue

    def spoof(name: str) -> None:
        for frame in (evil, rogue):
            frame.evaluate(f"send('{name}')")
        page.evaluate(f"postMessage({{type: 'chatconnect:{name}', role: 'assistant'}}, '*')")

    spoof("close")
    spoof("config")
    round_trip(stub)
    expect(w.panel).to_be_visible()
    expect(w.bubble).to_have_css("background-color", CONFIG_CYAN)
    assert settled_box(w.bubble)["x"] == 1280 - 76

    w.bubble.click()
    expect(w.panel).to_be_hidden()
    spoof("message")
    round_trip(stub)
    expect(w.dot).to_be_hidden()
    stub.evaluate("send('message')")  # control: the real iframe is heard
    expect(w.dot).to_be_visible()

    # If the chat frame navigates to another origin, the loader's posts (targetOrigin = app
    # origin) are dropped, and the frame's own posts fail the origin check.
    w.bubble.click()
    expect(w.panel).to_be_visible()
    stub.click("#leave")
    stub.wait_for_url(f"{sites.evil}/spy.html")
    stub.wait_for_function("typeof window.send === 'function'")
    page.evaluate("ChatConnect.close(); ChatConnect.open()")
    stub.evaluate("send('close')")
    page.wait_for_timeout(300)
    expect(w.panel).to_be_visible()
    assert stub.evaluate("received") == []
    snap(page, "foreign")


def test_inline_mode_fills_target(open_page: Callable[..., Any], sites: SimpleNamespace) -> None:
    page = open_page()
    page.goto(f"{sites.host}/inline.html")
    w = parts(page)
    expect(w.iframe).to_be_visible()
    expect(w.bubble).to_have_count(0)
    target = page.locator("#chat-box").bounding_box()
    assert target["width"] == 640 and target["height"] == 480
    assert w.iframe.bounding_box() == target
    src = urlsplit(w.iframe.get_attribute("src"))
    assert parse_qs(src.query) == {"host": [page.url], "mode": ["inline"]}
    frame = chat_frame(w)
    frame.wait_for_function("received.some(m => m.data.type === 'chatconnect:host')")
    snap(page, "inline")


def test_phone_panel_is_full_screen(open_page: Callable[..., Any], sites: SimpleNamespace) -> None:
    page = open_page(
        viewport={"width": 375, "height": 667},
        is_mobile=True,
        has_touch=True,
        reduced_motion="reduce",
    )
    page.goto(f"{sites.host}/hostile.html")
    w = parts(page)
    expect(w.bubble).to_be_visible()
    assert w.bubble.bounding_box() == {"x": 375 - 76, "y": 667 - 76, "width": 56, "height": 56}
    w.bubble.tap()
    expect(w.panel).to_be_visible()
    assert w.panel.evaluate("el => getComputedStyle(el).transitionDuration") == "0s"
    assert w.panel.bounding_box() == {"x": 0, "y": 0, "width": 375, "height": 667}
    expect(w.bubble).to_be_hidden()  # under the panel; the chat page has its own close
    expect(w.widget.locator(".fallback-close")).to_be_hidden()  # the stub posted `ready`
    snap(page, "phone-open")
    chat_frame(w).click("#close")
    expect(w.panel).to_be_hidden()
    expect(w.bubble).to_be_visible()


def _wait_until(page: Any, condition: Callable[[], bool], timeout_s: float = 10) -> None:
    """Poll a Python-side condition (e.g. on collected console messages)."""
    for _ in range(int(timeout_s * 10)):
        if condition():
            return
        page.wait_for_timeout(100)
    raise AssertionError("condition not met in time")


def _console(page: Any) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    return messages


def test_first_paint_has_the_position_and_avatar(
    open_page: Callable[..., Any], sites: SimpleNamespace
) -> None:
    page = open_page()
    page.route(
        "https://avatars.example/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=PNG_1PX),
    )
    page.add_init_script(FIRST_PAINT_JS)
    page.goto(f"{sites.host}/avatar.html")
    w = parts(page)
    expect(w.bubble).to_be_visible()
    assert page.evaluate("window.__firstPaint") == {
        "bg": "rgb(190, 18, 60)",
        "x": 20,
        "avatar": True,
    }
    avatar = w.bubble.locator("img.av")
    expect(avatar).to_be_visible()
    assert avatar.get_attribute("src") == "https://avatars.example/ada.png"
    assert avatar.get_attribute("alt") == ""  # the button's label names it
    assert avatar.bounding_box() == {"x": 20, "y": 800 - 76, "width": 56, "height": 56}
    expect(w.bubble.locator("svg.c")).to_be_hidden()
    snap(page, "avatar")
    w.bubble.click()  # open: the avatar gives way to the close cross
    expect(avatar).to_be_hidden()
    expect(w.bubble.locator("svg.x")).to_be_visible()


def test_avatar_that_fails_to_load_falls_back_to_the_icon(
    open_page: Callable[..., Any], sites: SimpleNamespace
) -> None:
    page = open_page()
    page.route("https://avatars.example/**", lambda route: route.fulfill(status=404))
    page.goto(f"{sites.host}/avatar.html")
    w = parts(page)
    expect(w.bubble).to_be_visible()
    expect(w.bubble.locator("img.av")).to_have_count(0)
    expect(w.bubble.locator("svg.c")).to_be_visible()


@pytest.mark.parametrize(
    ("page_name", "says"),
    [
        ("elsewhere", 'widget "elsewhere" is not allowed on {host}, so no chat is shown'),
        ("gone", 'widget "gone" does not exist or is switched off, so no chat is shown'),
    ],
)
def test_refused_origin_or_missing_widget_shows_nothing(
    open_page: Callable[..., Any], sites: SimpleNamespace, page_name: str, says: str
) -> None:
    page = open_page()
    messages = _console(page)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{sites.host}/{page_name}.html")
    expected = "[ChatConnect] " + says.format(host=sites.host)
    _wait_until(page, lambda: any("ChatConnect" in m for m in messages))
    page.wait_for_timeout(300)  # anything else would come right after
    expect(page.locator("chatconnect-widget")).to_have_count(0)
    chatconnect = [m for m in messages if "ChatConnect" in m]
    assert len(chatconnect) == 1, chatconnect  # one clear message, nothing else
    assert chatconnect[0].startswith("warning: " + expected), chatconnect
    if page_name == "elsewhere":
        assert f'Add "{sites.host.removeprefix("http://")}"' in chatconnect[0]
    chat_pages = [u for u in requested if f"/embed/{page_name}" in u and "config.json" not in u]
    assert chat_pages == []  # no chat page was ever requested
    assert page.evaluate("typeof ChatConnect.open") == "function"
    page.evaluate("ChatConnect.open()")  # the host page API stays harmless
    expect(page.locator("chatconnect-widget")).to_have_count(0)
    snap(page, f"refused-{page_name}")


def test_unreachable_config_falls_back_to_the_snippet_look(
    open_page: Callable[..., Any], sites: SimpleNamespace
) -> None:
    page = open_page()
    messages = _console(page)
    page.goto(f"{sites.host}/broken.html")
    w = parts(page)
    expect(w.bubble).to_be_visible()
    expect(w.bubble).to_have_css("background-color", SNIPPET_PURPLE)
    assert settled_box(w.bubble)["x"] == 20  # data-position="left"
    _wait_until(page, lambda: any("could not load the settings" in m for m in messages))


def test_open_is_remembered_briefly_in_this_tab_only(
    open_page: Callable[..., Any], sites: SimpleNamespace
) -> None:
    page = open_page()
    page.goto(f"{sites.host}/hostile.html")
    w = parts(page)
    w.bubble.click()
    expect(w.panel).to_be_visible()

    # Another page of the site shortly after, in the same tab: still open.
    page.goto(f"{sites.host}/blank.html")
    page.goto(f"{sites.host}/hostile.html")
    expect(w.panel).to_be_visible()
    expect(w.bubble).to_have_attribute("aria-expanded", "true")

    # A new tab starts closed.
    other = page.context.new_page()
    other.goto(f"{sites.host}/hostile.html")
    expect(parts(other).bubble).to_be_visible()
    expect(parts(other).panel).to_be_hidden()
    expect(parts(other).iframe).to_have_count(0)
    other.close()

    # Three minutes later (the state's timestamp moved back): closed, nothing loaded.
    page.evaluate(
        """id => { const k = 'chatconnect:' + id, v = JSON.parse(sessionStorage.getItem(k));
        v.at -= 3 * 60 * 1000; sessionStorage.setItem(k, JSON.stringify(v)); }""",
        WIDGET_ID,
    )
    page.reload()
    expect(w.bubble).to_be_visible()
    expect(w.panel).to_be_hidden()
    expect(w.iframe).to_have_count(0)
    # Nothing is left in localStorage (older loaders kept "open" there for good).
    assert page.evaluate(f"localStorage.getItem('chatconnect:{WIDGET_ID}')") is None


def test_phone_never_reopens_full_screen_by_itself(
    open_page: Callable[..., Any], sites: SimpleNamespace
) -> None:
    page = open_page(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page.goto(f"{sites.host}/hostile.html")
    w = parts(page)
    w.bubble.tap()
    expect(w.panel).to_be_visible()
    page.reload()  # seconds later, same tab
    expect(w.bubble).to_be_visible()
    expect(w.panel).to_be_hidden()
    expect(w.iframe).to_have_count(0)
    snap(page, "phone-after-reload")


def test_open_called_while_the_config_loads_opens_the_bubble_when_it_appears(
    open_page: Callable[..., Any], sites: SimpleNamespace
) -> None:
    page = open_page()
    page.goto(f"{sites.host}/slow.html", wait_until="commit")
    page.wait_for_function("typeof window.ChatConnect === 'object'")
    expect(page.locator("chatconnect-widget")).to_have_count(0)  # config still on its way
    page.evaluate("ChatConnect.open()")  # e.g. the site's own "Chat with us" button
    w = parts(page)
    expect(w.panel).to_be_visible()
    expect(w.bubble).to_have_attribute("aria-expanded", "true")
    expect(w.iframe).to_have_count(1)
