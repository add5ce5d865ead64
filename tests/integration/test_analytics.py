"""Analytics, the conversation list, transcripts and CSV export on SQLite and PostgreSQL.

A small, hand-written history of turns over several days, two widgets, the web, API and
dashboard channels and two tenants; every figure is checked against the seed itself.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine

from app.db import NotFoundError, TenantScope, session_scope
from app.models import Conversation, Document, DocumentStatus, Message
from app.rag.answer_types import Source, Usage
from app.rag.chat import TurnResult
from app.services import accounts, analytics, conversation_log, conversations, onboarding, widgets
from app.services.analytics import Period, Scope
from app.services.conversation_log import ConversationFilter

TODAY = date(2026, 11, 20)
PUBLIC = "http://127.0.0.1:3000"


@dataclass
class T:
    """One seeded turn: a question and its answer."""

    days_ago: int
    widget: str  # "a", "b" or "" (no widget)
    question: str
    answered: bool = True
    score: float | None = 0.9  # top source score; None = no sources
    tokens_in: int = 100
    tokens_out: int = 20
    cache_read: int = 0
    cost: float = 0.001
    feedback: int | None = None
    channel: str = "web"
    conv: str = ""  # same label = same conversation
    host: str = "https://shop.example.com/help"


TURNS: list[T] = [
    T(0, "a", "How do I descale?", feedback=1, conv="c1"),
    T(0, "a", "and how often?", score=0.42, feedback=-1, conv="c1"),  # low confidence
    T(1, "a", "How do I descale", tokens_in=50, cost=0.0005, conv="c2"),
    T(1, "b", "What is the warranty?", answered=False, score=None, cost=0.0, conv="c3"),
    T(2, "b", "  what is the WARRANTY ", answered=False, score=None, conv="c4"),
    T(3, "a", "Do you ship to Canada?", cache_read=30, cost=0.002, conv="c5"),
    T(3, "", "api question", channel="api", host="", conv="c6"),
    T(4, "a", '=HYPERLINK("http://evil")', score=None, conv="c7"),  # answered, no source
    T(6, "a", "How do I descale?", conv="c8"),
    # Dashboard test turns are not traffic.
    T(0, "a", "test from the dashboard", channel="dashboard", host="", conv="d1"),
    # Previous period (7-13 days ago) for the 7-day KPI comparison.
    T(8, "a", "old question", conv="p1"),
    T(9, "b", "older question", answered=False, score=None, conv="p2"),
    # Outside both periods.
    T(30, "a", "ancient", conv="x1"),
]


@dataclass
class World:
    engine: Engine
    tenant: str
    other: str
    widget: dict[str, str]
    conv: dict[str, str]
    answers: dict[str, list[str]]


def _at(days_ago: int, seq: int) -> datetime:
    return (
        datetime(2026, 11, 20, 9, 0, tzinfo=UTC) - timedelta(days=days_ago) + timedelta(minutes=seq)
    )


def _seed(engine: Engine) -> World:
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "owner@a.io", "a-long-password", "A")
        _, other = accounts.sign_up(s, "owner@b.io", "a-long-password", "B")
        wa = widgets.create_widget(s, tenant.id, "Help A")
        wb = widgets.create_widget(s, tenant.id, "Help B")
        wo = widgets.create_widget(s, other.id, "Other")
        s.flush()
        ids = {"a": wa.id, "b": wb.id, "": None}
        conv: dict[str, Conversation] = {}
        answers: dict[str, list[str]] = {}
        for seq, t in enumerate(TURNS):
            conversation = conv.get(t.conv)
            new = conversation is None
            if new:
                conversation, _ = conversations.get_or_start_conversation(
                    s,
                    tenant.id,
                    conversation_id=None,
                    widget_id=ids[t.widget],
                    channel=t.channel,
                    host_url=t.host,
                )
                conversation.started_at = _at(t.days_ago, seq)
                conv[t.conv] = conversation
            sources = (
                []
                if t.score is None
                else [
                    Source(
                        n=1,
                        document_id="d",
                        title="Manual",
                        text="Descale monthly.",
                        score=t.score,
                        page=3,
                        section="Care",
                    )
                ]
            )
            result = TurnResult(
                answer="Answer to " + t.question if t.answered else "Sorry, I don't know.",
                sources=sources,
                model="gpt-4o-mini",
                provider="openai",
                usage=Usage(
                    tokens_in=t.tokens_in, tokens_out=t.tokens_out, cache_read_tokens=t.cache_read
                ),
                cost_usd=t.cost,
                ttft_ms=100,
                latency_ms=400,
                answered=t.answered,
                query=t.question,
            )
            user, answer = conversations.record_turn(
                s, tenant.id, conversation, t.question, result, new_conversation=new
            )
            user.created_at = _at(t.days_ago, seq)
            answer.created_at = _at(t.days_ago, seq) + timedelta(milliseconds=1)
            answer.feedback = t.feedback
            conversation.last_message_at = user.created_at
            answers.setdefault(t.conv, []).append(answer.id)
        # The other tenant's traffic must never show up.
        oc, _ = conversations.get_or_start_conversation(
            s, other.id, conversation_id=None, widget_id=wo.id, host_url="https://b.example"
        )
        conversations.record_turn(
            s,
            other.id,
            oc,
            "How do I descale?",
            TurnResult(
                answer="x",
                sources=[],
                model="m",
                provider="p",
                usage=Usage(5, 5),
                cost_usd=1.0,
                ttft_ms=1,
                latency_ms=1,
                answered=False,
                query="q",
            ),
            new_conversation=True,
        )
        s.flush()
        return World(
            engine,
            tenant.id,
            other.id,
            {"a": wa.id, "b": wb.id},
            {k: c.id for k, c in conv.items()},
            answers,
        )


@pytest.fixture
def world(engine: Engine) -> World:
    return _seed(engine)


def _traffic(turns: list[T], lo: int, hi: int, widget: str | None = None) -> list[T]:
    """Seeded non-dashboard turns between lo and hi days ago (inclusive)."""
    return [
        t
        for t in turns
        if lo <= t.days_ago <= hi
        and t.channel != "dashboard"
        and (widget is None or t.widget == widget)
    ]


def _expected_kpis(turns: list[T]) -> analytics.Kpis:
    first = {}
    for t in turns:
        first.setdefault(t.conv, t)
    return analytics.Kpis(
        conversations=len({t.conv for t in turns}),
        messages=2 * len(turns),
        answers=len(turns),
        answered=sum(t.answered for t in turns),
        tokens=sum(t.tokens_in + t.tokens_out + t.cache_read for t in turns),
        cost_usd=pytest.approx(sum(t.cost for t in turns)),  # type: ignore[arg-type]
    )


def test_kpis_match_the_seed_and_compare_with_the_previous_period(world: World) -> None:
    period = Period.last_days(7, TODAY)
    assert period.previous() == Period(TODAY - timedelta(days=13), TODAY - timedelta(days=7))
    with session_scope(world.engine) as s:
        rep = analytics.kpi_report(s, world.tenant, period)
    assert rep.current == _expected_kpis(_traffic(TURNS, 0, 6))
    assert rep.previous == _expected_kpis(_traffic(TURNS, 7, 13))
    assert rep.current.conversations == 8 and rep.previous.conversations == 2
    assert rep.delta_pct("conversations") == pytest.approx(300.0)
    assert rep.current.answered_rate == pytest.approx(7 / 9)
    assert rep.previous.answered_rate == pytest.approx(0.5)


def test_widget_filter_and_dashboard_turns(world: World) -> None:
    period = Period.last_days(7, TODAY)
    with session_scope(world.engine) as s:
        only_b = analytics.kpis_for(s, world.tenant, period, Scope(widget_id=world.widget["b"]))
        with_dash = analytics.kpis_for(s, world.tenant, period, Scope(include_dashboard=True))
        with pytest.raises(NotFoundError):  # another tenant's widget is unknown here
            analytics.report(s, world.other, period, Scope(widget_id=world.widget["a"]))
    assert only_b == _expected_kpis(_traffic(TURNS, 0, 6, "b"))
    assert with_dash.messages == 2 * len(_traffic(TURNS, 0, 6)) + 2
    assert with_dash.conversations == 9


def test_daily_series_is_zero_filled_and_sums_to_the_kpis(world: World) -> None:
    period = Period.last_days(7, TODAY)
    with session_scope(world.engine) as s:
        days = analytics.daily(s, world.tenant, period)
        kpis = analytics.kpis_for(s, world.tenant, period)
    assert [d.day for d in days] == [TODAY - timedelta(days=i) for i in range(6, -1, -1)]
    by_day = {d.day: d for d in days}
    for ago in range(7):
        turns = _traffic(TURNS, ago, ago)
        point = by_day[TODAY - timedelta(days=ago)]
        assert point.messages == 2 * len(turns)
        assert point.tokens_in == sum(t.tokens_in + t.cache_read for t in turns)
        assert point.tokens_out == sum(t.tokens_out for t in turns)
        assert point.cost_usd == pytest.approx(sum(t.cost for t in turns))
    assert by_day[TODAY - timedelta(days=5)].messages == 0  # a quiet day is a zero, not a gap
    assert sum(d.conversations for d in days) == kpis.conversations
    assert sum(d.messages for d in days) == kpis.messages
    assert sum(d.tokens_in + d.tokens_out for d in days) == kpis.tokens


def test_feedback_top_and_unanswered_questions(world: World) -> None:
    period = Period.last_days(7, TODAY)
    with session_scope(world.engine) as s:
        fb = analytics.feedback(s, world.tenant, period)
        top = analytics.top_questions(s, world.tenant, period)
        unanswered = analytics.unanswered_questions(s, world.tenant, period)
    assert (fb.up, fb.down, fb.none) == (1, 1, 7)
    assert top[0].count == 3 and top[0].question == "How do I descale?"
    assert top[1].count == 2 and "warranty" in top[1].question.lower()
    reasons = {q.question: (q.count, q.reason) for q in unanswered}
    assert reasons["What is the warranty?"][0] == 2  # normalized together, latest wording
    assert reasons["What is the warranty?"][1] == "unanswered"
    assert reasons["and how often?"] == (1, "low confidence")
    assert reasons['=HYPERLINK("http://evil")'] == (1, "low confidence")  # no source cited
    assert "How do I descale?" not in reasons


def test_period_validation() -> None:
    with pytest.raises(analytics.AnalyticsError):
        Period(TODAY, TODAY - timedelta(days=1))
    with pytest.raises(analytics.AnalyticsError):
        Period(TODAY - timedelta(days=400), TODAY)


def test_tenant_isolation(world: World) -> None:
    period = Period.last_days(7, TODAY)
    with session_scope(world.engine) as s:
        other = analytics.report(s, world.other, period)
        assert conversation_log.list_conversations(s, world.other).total == 1
        with pytest.raises(NotFoundError):
            conversation_log.transcript(s, world.other, world.conv["c1"])
        with pytest.raises(NotFoundError):
            conversation_log.question_for_answer(s, world.other, world.answers["c1"][0])
        assert "descale" not in conversation_log.export_csv(s, world.other).lower().replace(
            "how do i descale?", ""
        )
    # B's single turn happened "now", outside the seeded period; A's numbers never leak.
    assert other.kpis.current.messages == 0 and other.top_questions == []


def test_conversation_filters_and_paging(world: World) -> None:
    def ids(**kw) -> set[str]:  # type: ignore[no-untyped-def]
        with session_scope(world.engine) as s:
            page = conversation_log.list_conversations(
                s, world.tenant, ConversationFilter(**kw), page_size=100
            )
        return {r.id for r in page.rows}

    c = world.conv
    assert len(ids()) == len(c)
    assert ids(widget_id=world.widget["b"]) == {c["c3"], c["c4"], c["p2"]}
    assert ids(feedback="up") == {c["c1"]}
    assert ids(feedback="down") == {c["c1"]}
    assert ids(flagged=True) == {c["c1"], c["c3"], c["c4"], c["c7"], c["p2"]}
    assert ids(search="WARRANTY") == {c["c3"], c["c4"]}
    assert ids(search="100%") == set()  # LIKE wildcards are literal
    assert ids(date_from=TODAY - timedelta(days=1), date_to=TODAY) == {
        c["c1"],
        c["c2"],
        c["c3"],
        c["d1"],
    }
    with pytest.raises(conversation_log.ConversationFilterError):
        ConversationFilter(feedback="maybe")
    # Channels: visitors, dashboard tests, API; combined with the other filters.
    assert ids(channel="api") == {c["c6"]}
    assert ids(channel="dashboard") == {c["d1"]}
    assert ids(channel="web") == set(c.values()) - {c["c6"], c["d1"]}
    assert ids(channel="web", widget_id=world.widget["b"], flagged=True) == {
        c["c3"],
        c["c4"],
        c["p2"],
    }
    with pytest.raises(conversation_log.ConversationFilterError, match="channel"):
        ConversationFilter(channel="email")
    with session_scope(world.engine) as s:
        first = conversation_log.list_conversations(s, world.tenant, page_size=5)
        second = conversation_log.list_conversations(s, world.tenant, page=2, page_size=5)
        beyond = conversation_log.list_conversations(s, world.tenant, page=99, page_size=5)
    assert first.total == len(c) and first.pages == 3
    assert not {r.id for r in first.rows} & {r.id for r in second.rows}
    assert beyond.page == 3
    row = next(r for r in first.rows if r.id == c["c1"])
    assert (row.thumbs_up, row.thumbs_down, row.flagged, row.widget_name) == (1, 1, 1, "Help A")


def test_transcript_and_improve_draft(world: World) -> None:
    with session_scope(world.engine) as s:
        tr = conversation_log.transcript(s, world.tenant, world.conv["c1"])
        assert [m.role for m in tr.messages] == ["user", "assistant"] * 2
        assert tr.widget_name == "Help A" and tr.tokens == 240
        assert tr.messages[1].sources[0]["page"] == 3
        assert tr.low_confidence_ids == {world.answers["c1"][1]}
        question, answer = conversation_log.question_for_answer(
            s, world.tenant, world.answers["c1"][1]
        )
        assert (question, answer) == ("and how often?", "Answer to and how often?")
        with pytest.raises(conversation_log.ConversationFilterError):
            conversation_log.question_for_answer(s, world.tenant, tr.messages[0].id)


def test_csv_export_rows_and_formula_escaping(world: World) -> None:
    with session_scope(world.engine) as s:
        text = conversation_log.export_csv(
            s, world.tenant, ConversationFilter(widget_id=world.widget["a"])
        )
    rows = list(csv.DictReader(io.StringIO(text)))
    expected = [t for t in TURNS if t.widget == "a"]
    assert len(rows) == 2 * len(expected)
    assert set(rows[0]) == set(conversation_log.CSV_COLUMNS)
    evil = next(r for r in rows if "HYPERLINK" in r["text"])
    assert evil["text"].startswith("'=")
    assert all(not r["text"].startswith(("=", "+", "-", "@")) for r in rows)
    answer = next(r for r in rows if r["text"] == "Answer to How do I descale?" and r["feedback"])
    assert (answer["feedback"], answer["model"], answer["tokens_in"]) == (
        "up",
        "gpt-4o-mini",
        "100",
    )
    assert conversation_log.safe_cell("-2+3") == "'-2+3" and conversation_log.safe_cell(5) == 5


def test_confidence_is_recorded_and_checklist_ticks(world: World) -> None:
    with session_scope(world.engine) as s:
        stored = TenantScope(s, world.tenant).get(Message, world.answers["c1"][1])
        assert stored.confidence == pytest.approx(0.42)
        assert TenantScope(s, world.tenant).get(Message, world.answers["c3"][0]).confidence is None
        ticks = onboarding.checklist(s, world.tenant, PUBLIC)
        assert (ticks.widget_created, ticks.knowledge_added, ticks.tested, ticks.embedded) == (
            True,
            False,
            True,
            True,
        )
        TenantScope(s, world.tenant).add(
            Document(title="Manual", content_hash="h", status=DocumentStatus.ready)
        )
        s.flush()
        assert onboarding.checklist(s, world.tenant, PUBLIC).complete


def test_checklist_of_a_new_workspace(engine: Engine) -> None:
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "new@a.io", "a-long-password", "New")
        assert onboarding.checklist(s, tenant.id, PUBLIC).done == 0
        widget = widgets.create_widget(s, tenant.id, "W")
        s.flush()
        # A conversation from the app's own origin (preview) is a test, not an embed.
        conversations.get_or_start_conversation(
            s,
            tenant.id,
            conversation_id=None,
            widget_id=widget.id,
            host_url=PUBLIC + "/embed/demo",
        )
        s.flush()
        ticks = onboarding.checklist(s, tenant.id, PUBLIC)
        assert (ticks.widget_created, ticks.tested, ticks.embedded) == (True, True, False)
        empty = analytics.report(s, tenant.id, Period.last_days(30))
        assert empty.kpis.current.messages == 0 and empty.kpis.current.answered_rate is None
        assert len(empty.days) == 30 and empty.kpis.delta_pct("messages") is None
