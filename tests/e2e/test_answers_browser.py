"""Offline answers in the embedded chat, as a visitor sees them: identifiers from technical
documentation shown exactly as written (issue 11 item 7), and the answer arriving sentence
by sentence instead of in one paint (issue 12 item 8).

The real app (`app_server`) ingests a guide full of identifiers; a host page on another
127.0.0.1 port embeds the widget. No timing is asserted: the streaming test records what
the page shows while the answer streams and checks the order of those states.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from app.db import make_engine, session_scope
from app.services import accounts, documents, widgets
from app.settings import Settings
from tests.e2e.conftest import shot
from tests.e2e.loader_fixtures import Origin
from tests.support.embed_world import EmbedWorld, wait_ready

pytestmark = pytest.mark.e2e
expect = pytest.importorskip("playwright.sync_api").expect

GUIDE = """# Python classes: a practical guide

## Identifiers

The identifiers __init__, except*, d[key], **kwargs and a_b_c are quoted exactly as
written in this guide.

## Truth values

An object is false when its class defines a __bool__ method that returns False.

## Context managers

The with statement calls __enter__ when the block starts. It calls __exit__ when the block
ends, even if the block raises. If __exit__ returns a true value, the exception is
suppressed.
"""
IDENTIFIERS = ["__init__", "except*", "d[key]", "**kwargs", "a_b_c"]


def _host(path: str) -> tuple[str, str] | None:
    if path != "/":
        return None
    return "text/html", (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Docs</title></head>"
        "<body><h1>Python guide</h1>"
        '<script src="{{APP}}/embed/widget.js" data-widget-id="{{WIDGET}}" async></script>'
        "</body></html>"
    )


@pytest.fixture(scope="module")
def world(app_server: Any) -> Iterator[SimpleNamespace]:
    origins: dict[str, str] = {"APP": app_server.base_url}
    host = Origin(_host, origins)
    settings = Settings(data_dir=app_server.data_dir)
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "owner-quotes@py-guide.io", "a-long-password-1", "Guide")
        widget = widgets.create_widget(
            s,
            tenant.id,
            "Docs",
            appearance={"title": "Guide Bot"},
            allowed_domains=[host.url.removeprefix("http://")],
        )
        doc = documents.create_document(
            s, tenant.id, filename="python-guide.md", data=GUIDE.encode(), settings=settings
        )
        seeded = EmbedWorld(engine, tenant.id, widget.id, doc.id)
    origins["WIDGET"] = seeded.widget_id
    wait_ready(seeded)
    yield SimpleNamespace(host=host.url, seeded=seeded)
    host.close()
    engine.dispose()


@pytest.fixture(scope="module")
def frame(browser: Any, world: SimpleNamespace) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(world.host + "/")
    page.locator("chatconnect-widget").locator("button.bubble").click()
    inner = page.frame_locator("chatconnect-widget iframe")
    expect(inner.locator("#cc-input")).to_be_editable(timeout=60_000)
    yield SimpleNamespace(page=page, inner=inner)
    context.close()


def _ask(frame: SimpleNamespace, question: str, n: int) -> Any:
    frame.inner.locator("#cc-input").fill(question)
    frame.inner.locator("#cc-input").press("Enter")
    answer = frame.inner.locator(".cc-answer").nth(n)
    expect(answer).to_be_visible(timeout=60_000)
    return answer


def test_identifiers_are_shown_exactly_as_written(frame: SimpleNamespace) -> None:
    answer = _ask(frame, "Which identifiers are quoted exactly as written?", 0)
    for name in IDENTIFIERS:
        expect(answer.locator("code", has_text=name).first).to_have_text(name)
    text = answer.inner_text()
    for name in IDENTIFIERS:
        assert name in text, (name, text)
    assert "\\" not in text  # no markdown escape shows through
    expect(answer.locator("strong")).to_have_count(0)
    expect(answer.locator("em")).to_have_count(0)

    second = _ask(frame, "When is an object false?", 1)
    expect(second.locator("code", has_text="__bool__").first).to_have_text("__bool__")
    expect(second.locator("strong")).to_have_count(0)
    shot(frame.page, "answers-identifiers")


def test_answer_streams_sentence_by_sentence(frame: SimpleNamespace) -> None:
    inner = next(f for f in frame.page.frames if "/embed/" in f.url)
    # Every distinct text the streaming bubble shows, in order.
    inner.evaluate(
        """() => { window.__states = [];
        new MutationObserver(() => { const s = document.getElementById('cc-streaming');
          const t = s ? s.textContent.replace(/\\s+/g, ' ').trim() : '';
          const last = window.__states[window.__states.length - 1];
          if (t && t !== last) window.__states.push(t); })
        .observe(document.body, {subtree: true, childList: true, characterData: true}); }"""
    )
    answer = _ask(frame, "What happens when the with statement calls __exit__?", 2)
    second_quote = "It calls __exit__ when the block ends"
    expect(answer).to_contain_text(second_quote)
    final = " ".join(answer.inner_text().split())
    states: list[str] = inner.evaluate("window.__states")
    # Several partial answers were painted before the final one, each growing the last.
    assert len(states) >= 3, states
    for before, after in itertools.pairwise(states):
        assert after.startswith(before[: len(before) - 4]), (before, after)
        assert len(after) > len(before)
    first_quote = "The with statement calls __enter__ when the block starts."
    assert states[0] == "From our documentation:", states  # the lead-in, painted alone
    assert any(first_quote in s and second_quote not in s for s in states), states
    assert first_quote in final and second_quote in final
    shot(frame.page, "answers-streamed")
