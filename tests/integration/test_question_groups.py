"""Analytics groups questions that mean the same (embedding similarity), on SQLite and
PostgreSQL, with the real local embedder; a failing embedder falls back to exact text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db import session_scope
from app.rag.answer_types import Source, Usage
from app.rag.chat import TurnResult
from app.rag.embedding import get_embedder
from app.services import accounts, analytics, conversations, widgets
from app.services.analytics import Period
from app.settings import Settings

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PERIOD = Period(NOW.date() - timedelta(days=6), NOW.date())

# (question, answered, minutes before NOW)
ASKED = [
    ("is there a student discount", False, 50),
    ("Is there a student discount?", False, 40),
    ("Do you have a student discount?", False, 10),  # newest wording of the group
    ("Is there a senior discount?", False, 30),
    ("How much is the espresso?", True, 20),
    ("What does an espresso cost?", True, 15),
    ("Do you ship to Canada?", True, 5),
]


@pytest.fixture(scope="module")
def embed(tmp_path_factory: pytest.TempPathFactory) -> analytics.EmbedTexts:
    data = tmp_path_factory.mktemp("embed")
    return get_embedder(Settings(data_dir=Path(data)), cached=False, torch_threads=1).embed_texts


def _seed(engine: Engine) -> tuple[str, dict[str, str]]:
    conv_of: dict[str, str] = {}
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "owner@groups.io", "a-long-password", "Groups")
        widget = widgets.create_widget(s, tenant.id, "Shop")
        s.flush()
        for question, answered, minutes in ASKED:
            at = NOW - timedelta(minutes=minutes)
            conv, _ = conversations.get_or_start_conversation(
                s, tenant.id, conversation_id=None, widget_id=widget.id, host_url=""
            )
            conv.started_at = at
            source = Source(n=1, document_id="d", title="Menu", text="x", score=0.9)
            result = TurnResult(
                answer="Yes." if answered else "Sorry, I don't know.",
                sources=[source] if answered else [],
                model="extractive",
                provider="extractive",
                usage=Usage(0, 0),
                cost_usd=0.0,
                ttft_ms=1,
                latency_ms=1,
                answered=answered,
                query=question,
            )
            q, a = conversations.record_turn(
                s, tenant.id, conv, question, result, new_conversation=True
            )
            q.created_at, a.created_at = at, at + timedelta(milliseconds=1)
            conv.last_message_at = at
            conv_of[question] = conv.id
        return tenant.id, conv_of


def test_same_meaning_questions_group_with_their_count(
    engine: Engine, embed: analytics.EmbedTexts
) -> None:
    tenant_id, conv_of = _seed(engine)
    with session_scope(engine) as s:
        rep = analytics.report(s, tenant_id, PERIOD, embed=embed)
    top = {q.question: q for q in rep.top_questions}
    student = top["Is there a student discount?"]
    assert student.count == 3
    assert student.variants == ["Do you have a student discount?"]
    # Named by its most asked wording (as last typed); the link opens the newest conversation.
    assert student.conversation_id == conv_of["Do you have a student discount?"]
    assert student.last_asked == NOW - timedelta(minutes=10)
    # Similar words, different question: not merged.
    assert top["Is there a senior discount?"].count == 1
    assert top["Do you ship to Canada?"].count == 1
    espresso = [q for q in rep.top_questions if "espresso" in q.question]
    assert len(espresso) == 1 and espresso[0].count == 2
    assert sum(q.count for q in rep.top_questions) == len(ASKED)
    assert rep.top_questions[0].question == "Is there a student discount?"  # most asked first

    unanswered = {q.question: q for q in rep.unanswered}
    assert set(unanswered) == {"Is there a student discount?", "Is there a senior discount?"}
    assert unanswered["Is there a student discount?"].count == 3
    assert unanswered["Is there a student discount?"].reason == "unanswered"


def test_without_or_with_a_failing_embedder_groups_by_exact_text(engine: Engine) -> None:
    tenant_id, _ = _seed(engine)

    def broken(texts: list[str]) -> list[list[float]]:
        raise ConnectionError("embedding provider unreachable")

    with session_scope(engine) as s:
        plain = analytics.report(s, tenant_id, PERIOD)
        fallback = analytics.report(s, tenant_id, PERIOD, embed=broken)
    for rep in (plain, fallback):
        counts = {q.question: q.count for q in rep.top_questions}
        # Case and end punctuation still fold; different wordings stay apart.
        assert counts["Is there a student discount?"] == 2
        assert counts["Do you have a student discount?"] == 1
        assert all(not q.variants for q in rep.top_questions)


def test_leader_clustering_never_chains() -> None:
    """A ~ B and B ~ C but A !~ C: C does not join A's group through B."""
    vectors = {"a": [1.0, 0.0], "b": [0.9, 0.436], "c": [0.6, 0.8]}  # a·b≈0.9, b·c≈0.89, a·c=0.6

    def fake(texts: list[str]) -> list[list[float]]:
        return [vectors[t] for t in texts]

    assert analytics._similar_groups(["a", "b", "c"], fake) == [["a", "b"], ["c"]]
