"""The offline answerer through the REST API: identifiers quoted as written, answers
streamed sentence by sentence, and a stored confidence the low-confidence filter can use
(issue 11 items 7 and 9, issue 12 item 8)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from markdown_it import MarkdownIt
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import Message
from app.rag.extractive import LEAD_IN
from app.services import accounts, documents, widgets
from app.services.analytics import LOW_CONFIDENCE_SCORE, low_confidence_condition
from app.services.api_keys import create_key
from app.services.cache import reset_cache
from app.services.limits import reset_rate_limiter
from tests.api.v1_world import auth, client_for, drain

V1 = "/api/v1"
GUIDE = """# Python classes: a practical guide

## Creating instances

When a class is called, Python first calls __new__ to create the object and then calls
__init__ to initialise it. The __init__ method must return None.

## Function arguments

A parameter written as **kwargs collects extra keyword arguments into a dict. Names such
as a_b_c are passed as keyword arguments.

## Container access

The expression d[key] calls __getitem__ on the container. When a dict subclass defines
__missing__, d[key] calls it for a missing key instead of raising KeyError.

## Exception groups

An except* clause matches the exceptions of a group that have the given type. A try
statement cannot mix except and except* clauses.

## Truth values

An object is false when its class defines a __bool__ method that returns False.
"""


@dataclass
class Guide:
    widget: str
    key: str


@pytest.fixture
def guide(engine: Engine) -> Iterator[Guide]:
    reset_cache()
    reset_rate_limiter()
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "quotes@x.io", "a-long-password", "Q")
        widget = widgets.create_widget(s, tenant.id, "Docs")
        documents.create_document(s, tenant.id, filename="python-guide.md", data=GUIDE.encode())
        key = create_key(s, tenant.id, "chat", ["chat"]).secret
        ids = widget.id, key
    drain(engine)
    yield Guide(*ids)
    reset_cache()
    reset_rate_limiter()


@pytest.fixture
async def http(guide: Guide) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


async def ask(http: httpx.AsyncClient, guide: Guide, question: str) -> dict:
    r = await http.post(
        f"{V1}/chat", json={"message": question, "widget_id": guide.widget}, headers=auth(guide.key)
    )
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize(
    ("question", "name"),
    [
        ("What does __init__ return?", "__init__"),
        ("What does an except* clause match?", "except*"),
        ("Which method does d[key] call?", "d[key]"),
        ("What does **kwargs collect?", "**kwargs"),
        ("How are names such as a_b_c passed?", "a_b_c"),
        ("When is an object false?", "__bool__"),
    ],
)
async def test_identifiers_reach_the_api_client_unchanged(
    http: httpx.AsyncClient, guide: Guide, question: str, name: str
) -> None:
    body = await ask(http, guide, question)
    answer = body["answer"]
    assert answer.startswith(LEAD_IN), answer
    assert f"`{name}`" in answer  # the raw markdown holds it as written
    html = MarkdownIt("commonmark").render(answer)
    assert f"<code>{name}</code>" in html  # and so does any markdown rendering of it
    assert "<strong>" not in html and "<em>" not in html
    assert body["sources"]


async def test_stream_sends_the_answer_sentence_by_sentence(
    http: httpx.AsyncClient, guide: Guide
) -> None:
    async with http.stream(
        "POST",
        f"{V1}/chat/stream",
        json={"message": "What does __missing__ do for d[key]?", "widget_id": guide.widget},
        headers=auth(guide.key),
    ) as r:
        assert r.status_code == 200
        text = (await r.aread()).decode()
    events = [
        (dict(x.split(": ", 1) for x in block.splitlines())) for block in text.strip().split("\n\n")
    ]
    tokens = [json.loads(e["data"])["text"] for e in events if e["event"] == "token"]
    done = json.loads(events[-1]["data"])
    # The lead-in first, then one token event per quoted sentence, in reading order.
    assert tokens[0] == LEAD_IN
    assert len(tokens) >= 3
    assert tokens[1].lstrip().startswith("> ")
    assert all(t.rstrip().endswith((".", "]")) for t in tokens[1:]), tokens
    assert "`__missing__`" in "".join(tokens)
    assert done["message_id"]


async def test_stored_confidence_is_the_answerers_and_flags_weak_answers(
    http: httpx.AsyncClient, guide: Guide, engine: Engine
) -> None:
    strong = await ask(http, guide, "What does **kwargs collect?")
    weak = await ask(http, guide, "What does **kwargs collect for decorators?")
    unknown = await ask(http, guide, "How do I bake sourdough bread?")
    with session_scope(engine) as s:

        def stored(body: dict) -> Message:
            row = s.get(Message, body["message_id"])
            assert row is not None
            return row

        assert stored(strong).answered and stored(strong).confidence >= 0.9  # type: ignore[operator]
        assert stored(weak).answered and stored(weak).confidence < LOW_CONFIDENCE_SCORE  # type: ignore[operator]
        assert not stored(unknown).answered and stored(unknown).confidence is None
        flagged = set(s.exec(select(Message.id).where(low_confidence_condition())).all())
    # Until now every extractive answer stored its top source's normalised score (1.0).
    assert flagged == {weak["message_id"]}
