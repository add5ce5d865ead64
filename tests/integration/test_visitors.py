"""Visitor sessions of the embedded chat, on SQLite and PostgreSQL: restore, a new
conversation, a foreign visitor or widget refused, disabled and deleted widgets."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from app.db import NotFoundError, session_scope
from app.models import Message
from app.rag.answer_types import Source, Usage
from app.rag.chat import TurnResult
from app.services import accounts, conversations, visitors, widgets


@dataclass
class Site:
    tenant: str
    widget: str
    other_widget: str
    foreign_widget: str


@pytest.fixture
def site(engine: Engine) -> Site:
    with session_scope(engine) as s:
        _, a = accounts.sign_up(s, "a@a.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "b@b.io", "a-long-password", "B")
        w = widgets.create_widget(
            s,
            a.id,
            "Site",
            appearance={"title": "Helper", "primary_color": "#123456", "theme": "dark"},
            starter_questions=["Hours?"],
            allowed_domains=["shop.com"],
        )
        w2 = widgets.create_widget(s, a.id, "Second")
        wb = widgets.create_widget(s, b.id, "Foreign")
        return Site(a.id, w.id, w2.id, wb.id)


def _turn(engine: Engine, site: Site, visitor: str, question: str, cid: str | None = None) -> str:
    result = TurnResult(
        answer=f"Answer to {question} [1]",
        sources=[Source(1, "d1", "Guide", "Quoted passage.", 0.9, page=3)],
        model="extractive",
        provider="extractive",
        usage=Usage(),
        cost_usd=0.0,
        ttft_ms=1,
        latency_ms=2,
        answered=True,
        query=question,
    )
    with session_scope(engine) as s:
        conv, new = conversations.get_or_start_conversation(
            s,
            site.tenant,
            conversation_id=cid,
            widget_id=site.widget,
            visitor_id=visitor,
            channel="web",
            host_url="https://shop.com/pricing",
            user_agent="Mozilla/5.0 Chrome",
        )
        conversations.record_turn(s, site.tenant, conv, question, result, new_conversation=new)
        return conv.id


def test_visitor_tokens_are_signed() -> None:
    token = visitors.issue_visitor_token()
    visitor = visitors.visitor_from_token(token)
    assert visitor and token.startswith(visitor + ".")
    assert visitors.visitor_from_token(visitors.issue_visitor_token()) != visitor
    forged = visitor[:-1] + ("A" if visitor[-1] != "A" else "B") + token[len(visitor) :]
    for bad in (forged, visitor, "", None, token + "0", "x" * 30 + "." + "0" * 32):
        assert visitors.visitor_from_token(bad) is None


def test_public_widget_resolves_the_tenant_server_side(engine: Engine, site: Site) -> None:
    with session_scope(engine) as s:
        public = visitors.find_widget(s, site.widget)
        assert public is not None
        assert public.tenant_id == site.tenant
        assert (public.title, public.primary_color, public.theme) == ("Helper", "#123456", "dark")
        assert public.starter_questions == ["Hours?"]
        assert visitors.find_widget(s, "missing") is None
        assert visitors.find_widget(s, "x" * 65) is None
        assert visitors.framing_domains(s, site.widget) == ["shop.com"]
        assert visitors.framing_domains(s, site.other_widget) == []
        assert visitors.framing_domains(s, "missing") is None


def test_restore_returns_the_visitors_own_conversation(engine: Engine, site: Site) -> None:
    cid = _turn(engine, site, "visitor-1", "Opening hours?")
    _turn(engine, site, "visitor-1", "And on Sunday?", cid)
    with session_scope(engine) as s:
        public = visitors.find_widget(s, site.widget)
        assert public is not None
        items = visitors.transcript(s, public, cid, "visitor-1")
        conv = s.get(conversations.Conversation, cid)
        assert conv is not None
        assert (conv.channel, conv.host_url, conv.user_agent) == (
            "web",
            "https://shop.com/pricing",
            "Mozilla/5.0 Chrome",
        )
    assert [i.role for i in items] == ["user", "assistant", "user", "assistant"]
    assert items[0].text == "Opening hours?"
    assert items[1].sources[0]["title"] == "Guide" and items[1].sources[0]["page"] == 3


def test_a_new_conversation_is_separate(engine: Engine, site: Site) -> None:
    first = _turn(engine, site, "visitor-1", "One?")
    second = _turn(engine, site, "visitor-1", "Two?")  # no id: "new conversation"
    assert first != second
    with session_scope(engine) as s:
        public = visitors.find_widget(s, site.widget)
        assert public is not None
        items = visitors.transcript(s, public, second, "visitor-1")
        assert items[0].text == "Two?"


def test_foreign_visitor_widget_or_tenant_is_refused(engine: Engine, site: Site) -> None:
    cid = _turn(engine, site, "visitor-1", "Mine?")
    with session_scope(engine) as s:
        own = visitors.find_widget(s, site.widget)
        second = visitors.find_widget(s, site.other_widget)
        foreign = visitors.find_widget(s, site.foreign_widget)
        assert own and second and foreign
        answer_id = visitors.transcript(s, own, cid, "visitor-1")[1].id
        for widget, visitor, conv in (
            (own, "visitor-2", cid),
            (own, "", cid),
            (own, "visitor-1", ""),
            (own, "visitor-1", "no-such-conversation"),
            (second, "visitor-1", cid),
            (foreign, "visitor-1", cid),
        ):
            with pytest.raises(NotFoundError):
                visitors.transcript(s, widget, conv, visitor)
            with pytest.raises(NotFoundError):
                visitors.rate_answer(s, widget, conv, visitor, answer_id, 1)


def test_feedback_is_stored_on_the_answer_only(engine: Engine, site: Site) -> None:
    cid = _turn(engine, site, "visitor-1", "Rate me?")
    other = _turn(engine, site, "visitor-1", "Another conversation?")
    with session_scope(engine) as s:
        own = visitors.find_widget(s, site.widget)
        assert own is not None
        question, answer = visitors.transcript(s, own, cid, "visitor-1")
        other_answer = visitors.transcript(s, own, other, "visitor-1")[1]
        visitors.rate_answer(s, own, cid, "visitor-1", answer.id, 1)
        with pytest.raises(NotFoundError):  # a user message cannot be rated
            visitors.rate_answer(s, own, cid, "visitor-1", question.id, 1)
        with pytest.raises(NotFoundError):  # another conversation's answer
            visitors.rate_answer(s, own, cid, "visitor-1", other_answer.id, -1)
        with pytest.raises(ValueError):
            visitors.rate_answer(s, own, cid, "visitor-1", answer.id, 5)
    with session_scope(engine) as s:
        stored = s.get(Message, answer.id)
        assert stored is not None and stored.feedback == 1
        visitors.rate_answer(s, own, cid, "visitor-1", answer.id, None)
    with session_scope(engine) as s:
        stored = s.get(Message, answer.id)
        assert stored is not None and stored.feedback is None


def test_disabled_and_deleted_widgets(engine: Engine, site: Site) -> None:
    with session_scope(engine) as s:
        widgets.update_widget(s, site.tenant, site.widget, enabled=False)
    with session_scope(engine) as s:
        public = visitors.find_widget(s, site.widget)
        assert public is not None and public.enabled is False
        assert visitors.framing_domains(s, site.widget) is None
        widgets.delete_widget(s, site.tenant, site.other_widget)
    with session_scope(engine) as s:
        assert visitors.find_widget(s, site.other_widget) is None
        assert visitors.framing_domains(s, site.other_widget) is None


def test_preview_settings_keep_only_valid_fields() -> None:
    got = visitors.preview_settings(
        {
            "title": "  New  ",
            "primary_color": "#12",  # half typed
            "theme": "dark",
            "avatar_url": "http://insecure.example/a.png",
            "starter_questions": ["  a  ", "", "b"] + ["x"] * 10,
            "greeting": "Hello",
            "position": "middle",
            "unknown": "ignored",
        }
    )
    assert got == {
        "title": "New",
        "theme": "dark",
        "greeting": "Hello",
        "starter_questions": ["a", "b", "x", "x", "x", "x"],
    }
