"""Workspace analytics, computed from the stored Conversation and Message rows.

Figures come straight from the transcripts (not from UsageDaily), so the charts always
agree with what the Conversations page shows. Days are UTC calendar days; a period is a
closed range of days [start, end]. Test turns from the dashboard (channel "dashboard")
are left out unless asked for.

Definitions (the same everywhere in the product):
- conversations: conversations *started* in the period;
- messages: visitor questions and answers created in the period;
- answered rate: answered assistant messages / assistant messages;
- tokens: input (incl. cached input) + output tokens of the answers; cost in USD;
- unanswered: an answer stored with answered=False (the "I don't know" message);
- low confidence: an answered reply whose best source scores below LOW_CONFIDENCE_SCORE,
  or that cites no source at all (Message.confidence holds the top score).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Date, and_, case, cast, func, or_
from sqlmodel import Session, col, select

from app.db import TenantScope
from app.models import Conversation, Message, Widget, utcnow
from app.services.cache import normalize_question

# Hybrid retrieval scores are min-max normalized per branch and blended 50/50, so the top
# hit of the dense branch alone scores >= 0.5. A cited source below that was ranked low by
# both branches: the answer rests on weak evidence. Q&A pairs carry a cosine >= 0.86.
LOW_CONFIDENCE_SCORE = 0.5
DASHBOARD_CHANNEL = "dashboard"
MAX_DAYS = 366
TOP_LIMIT = 10
# Questions whose embeddings are at least this cosine-similar are one question ("Is there a
# student discount?" / "Do you have a student discount?" ~0.93 with MiniLM; "student" /
# "senior discount" ~0.71, "ship to Canada" / "to the US" ~0.78). Q&A pairs match at 0.86.
SIMILAR_QUESTION = 0.85
# Only the most frequent distinct wordings are embedded (cached per text on disk); the rest
# keep their exact-text groups. Bounds the work of one page load.
MAX_CLUSTERED = 300
MAX_VARIANTS = 3

log = logging.getLogger("chatconnect.analytics")

# texts -> one vector per text (any dimension); see `question_embedder`.
EmbedTexts = Callable[[list[str]], list[list[float]]]


class AnalyticsError(ValueError):
    """A date range or filter the analytics cannot use."""


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date  # inclusive

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise AnalyticsError("The start date must be on or before the end date.")
        if self.days > MAX_DAYS:
            raise AnalyticsError(f"Pick a range of at most {MAX_DAYS} days.")

    @classmethod
    def last_days(cls, days: int, today: date | None = None) -> Period:
        today = today or utcnow().date()
        return cls(today - timedelta(days=days - 1), today)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self) -> tuple[datetime, datetime]:
        """[start 00:00 UTC, the day after end 00:00 UTC)."""
        return (
            datetime.combine(self.start, time.min, tzinfo=UTC),
            datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC),
        )

    def each_day(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


@dataclass(frozen=True, slots=True)
class Scope:
    """Which traffic counts: one widget or all, with or without dashboard test turns."""

    widget_id: str | None = None
    include_dashboard: bool = False


@dataclass(slots=True)
class Kpis:
    conversations: int = 0
    messages: int = 0
    answers: int = 0
    answered: int = 0
    tokens: int = 0
    cost_usd: float = 0.0

    @property
    def answered_rate(self) -> float | None:
        return self.answered / self.answers if self.answers else None


@dataclass(slots=True)
class KpiReport:
    current: Kpis
    previous: Kpis

    def delta_pct(self, name: str) -> float | None:
        """Change against the previous period in percent; None when it had nothing."""
        now = getattr(self.current, name)
        before = getattr(self.previous, name)
        if now is None or before is None or before == 0:
            return None
        return (now - before) / before * 100


@dataclass(slots=True)
class DayPoint:
    day: date
    conversations: int = 0
    messages: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


@dataclass(slots=True)
class Feedback:
    up: int = 0
    down: int = 0
    none: int = 0


@dataclass(slots=True)
class QuestionCount:
    question: str  # the most recent wording of the normalized question
    count: int
    last_asked: datetime
    conversation_id: str = ""
    reason: str = ""  # unanswered | low confidence (unanswered questions only)
    variants: list[str] = field(default_factory=list)  # other wordings grouped with it


@dataclass(slots=True)
class Report:
    period: Period
    kpis: KpiReport
    days: list[DayPoint]
    feedback: Feedback
    top_questions: list[QuestionCount] = field(default_factory=list)
    unanswered: list[QuestionCount] = field(default_factory=list)


# ---- query helpers ---------------------------------------------------------------------


def _day(session: Session, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _conversation_filter(scope: Scope) -> list[Any]:
    conditions: list[Any] = []
    if scope.widget_id:
        conditions.append(Conversation.widget_id == scope.widget_id)
    if not scope.include_dashboard:
        conditions.append(Conversation.channel != DASHBOARD_CHANNEL)
    return conditions


def _messages(ts: TenantScope, scope: Scope, period: Period, *columns: Any) -> Any:
    """SELECT columns FROM this tenant's messages in the period, joined to the filter."""
    lo, hi = period.bounds()
    return (
        select(*columns)
        .select_from(Message)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.tenant_id == ts.tenant_id,
            Conversation.tenant_id == ts.tenant_id,
            Message.created_at >= lo,
            Message.created_at < hi,
            *_conversation_filter(scope),
        )
    )


def _conversations(ts: TenantScope, scope: Scope, period: Period, *columns: Any) -> Any:
    lo, hi = period.bounds()
    return (
        select(*columns)
        .select_from(Conversation)
        .where(
            Conversation.tenant_id == ts.tenant_id,
            Conversation.started_at >= lo,
            Conversation.started_at < hi,
            *_conversation_filter(scope),
        )
    )


def _tokens_in() -> Any:
    # Matches UsageDaily.tokens_in: billed input plus cached input read and written.
    return Message.tokens_in + Message.cache_read_tokens + Message.cache_write_tokens


def low_confidence_condition() -> Any:
    """SQL for an answered reply resting on weak or no evidence."""
    return and_(
        Message.role == "assistant",
        col(Message.answered).is_(True),
        or_(col(Message.confidence).is_(None), Message.confidence < LOW_CONFIDENCE_SCORE),
    )


def flagged_condition() -> Any:
    """SQL for an answer worth a look: unanswered or low confidence."""
    return and_(
        Message.role == "assistant",
        or_(col(Message.answered).is_(False), low_confidence_condition()),
    )


def _validate_widget(ts: TenantScope, scope: Scope) -> None:
    if scope.widget_id:
        ts.get(Widget, scope.widget_id)  # another tenant's widget is simply not found


# ---- figures ---------------------------------------------------------------------------


def kpis_for(session: Session, tenant_id: str, period: Period, scope: Scope = Scope()) -> Kpis:
    ts = TenantScope(session, tenant_id)
    conversations = session.exec(
        _conversations(ts, scope, period, func.count(Conversation.id))
    ).one()
    is_answer = Message.role == "assistant"
    row = session.exec(
        _messages(
            ts,
            scope,
            period,
            func.count(Message.id),
            func.coalesce(func.sum(case((is_answer, 1), else_=0)), 0),
            func.coalesce(
                func.sum(case((and_(is_answer, col(Message.answered).is_(True)), 1), else_=0)), 0
            ),
            func.coalesce(func.sum(_tokens_in() + Message.tokens_out), 0),
            func.coalesce(func.sum(Message.cost_usd), 0.0),
        )
    ).one()
    return Kpis(
        conversations=int(conversations),
        messages=int(row[0]),
        answers=int(row[1]),
        answered=int(row[2]),
        tokens=int(row[3]),
        cost_usd=float(row[4]),
    )


def kpi_report(
    session: Session, tenant_id: str, period: Period, scope: Scope = Scope()
) -> KpiReport:
    return KpiReport(
        current=kpis_for(session, tenant_id, period, scope),
        previous=kpis_for(session, tenant_id, period.previous(), scope),
    )


def daily(
    session: Session, tenant_id: str, period: Period, scope: Scope = Scope()
) -> list[DayPoint]:
    """One point per day of the period, days without traffic included as zeros."""
    ts = TenantScope(session, tenant_id)
    points = {d: DayPoint(day=d) for d in period.each_day()}
    conv_day = _day(session, Conversation.started_at)
    for day, count in session.exec(
        _conversations(ts, scope, period, conv_day, func.count(Conversation.id)).group_by(conv_day)
    ):
        points[_as_date(day)].conversations = int(count)
    msg_day = _day(session, Message.created_at)
    for day, count, tokens_in, tokens_out, cost in session.exec(
        _messages(
            ts,
            scope,
            period,
            msg_day,
            func.count(Message.id),
            func.coalesce(func.sum(_tokens_in()), 0),
            func.coalesce(func.sum(Message.tokens_out), 0),
            func.coalesce(func.sum(Message.cost_usd), 0.0),
        ).group_by(msg_day)
    ):
        point = points[_as_date(day)]
        point.messages = int(count)
        point.tokens_in = int(tokens_in)
        point.tokens_out = int(tokens_out)
        point.cost_usd = float(cost)
    return [points[d] for d in period.each_day()]


def feedback(session: Session, tenant_id: str, period: Period, scope: Scope = Scope()) -> Feedback:
    ts = TenantScope(session, tenant_id)
    result = Feedback()
    for value, count in session.exec(
        _messages(ts, scope, period, Message.feedback, func.count(Message.id))
        .where(Message.role == "assistant")
        .group_by(Message.feedback)
    ):
        if value == 1:
            result.up += int(count)
        elif value == -1:
            result.down += int(count)
        else:
            result.none += int(count)
    return result


def question_embedder() -> EmbedTexts:
    """How analytics embeds questions: the workspace embedder's `embed_texts` (local MiniLM
    or OpenAI, with its on-disk cache), one torch thread so a page load never takes every
    core. The one place to adapt when the embedding layer changes."""
    from app.rag.embedding import get_embedder
    from app.settings import get_settings

    return get_embedder(get_settings(), torch_threads=1).embed_texts


def top_questions(
    session: Session,
    tenant_id: str,
    period: Period,
    scope: Scope = Scope(),
    limit: int = TOP_LIMIT,
    embed: EmbedTexts | None = None,
) -> list[QuestionCount]:
    """Visitor questions grouped by normalized text (case, spacing, end punctuation) and,
    with `embed`, by meaning (see SIMILAR_QUESTION)."""
    ts = TenantScope(session, tenant_id)
    query = _messages(
        ts, scope, period, Message.text, Message.created_at, Message.conversation_id
    ).where(Message.role == "user")
    return _group_questions(session.exec(query.execution_options(yield_per=2000)), limit, embed)


def unanswered_questions(
    session: Session,
    tenant_id: str,
    period: Period,
    scope: Scope = Scope(),
    limit: int = TOP_LIMIT,
    embed: EmbedTexts | None = None,
) -> list[QuestionCount]:
    """The questions behind unanswered or low-confidence answers, most frequent first."""
    ts = TenantScope(session, tenant_id)
    flagged = list(
        session.exec(
            _messages(
                ts,
                scope,
                period,
                Message.conversation_id,
                Message.created_at,
                Message.answered,
            ).where(flagged_condition())
        )
    )
    if not flagged:
        return []
    questions = question_before(session, tenant_id, [(c, t) for c, t, _ in flagged])
    rows = []
    for conversation_id, created_at, answered in flagged:
        question = questions.get((conversation_id, created_at))
        if question is not None:
            reason = "unanswered" if not answered else "low confidence"
            rows.append((question, created_at, conversation_id, reason))
    return _group_questions(rows, limit, embed)


def question_before(
    session: Session, tenant_id: str, answers: list[tuple[str, datetime]]
) -> dict[tuple[str, datetime], str]:
    """For (conversation id, answer time) pairs: the visitor question just before each."""
    ts = TenantScope(session, tenant_id)
    conversation_ids = sorted({c for c, _ in answers})
    by_conversation: dict[str, list[tuple[datetime, str]]] = {}
    for i in range(0, len(conversation_ids), 500):
        for conversation_id, created_at, text in session.exec(
            select(Message.conversation_id, Message.created_at, Message.text)
            .where(
                Message.tenant_id == ts.tenant_id,
                Message.role == "user",
                col(Message.conversation_id).in_(conversation_ids[i : i + 500]),
            )
            .order_by(col(Message.created_at))
        ):
            by_conversation.setdefault(conversation_id, []).append((created_at, text))
    result: dict[tuple[str, datetime], str] = {}
    for conversation_id, answered_at in answers:
        before = [t for at, t in by_conversation.get(conversation_id, []) if at <= answered_at]
        if before:
            result[(conversation_id, answered_at)] = before[-1]
    return result


def _group_questions(rows: Any, limit: int, embed: EmbedTexts | None = None) -> list[QuestionCount]:
    counts: Counter[str] = Counter()
    latest: dict[str, QuestionCount] = {}
    for row in rows:
        text, created_at, conversation_id = row[0], row[1], row[2]
        reason = row[3] if len(row) > 3 else ""
        key = normalize_question(text)
        if not key:
            continue
        counts[key] += 1
        seen = latest.get(key)
        if seen is None or created_at >= seen.last_asked:
            latest[key] = QuestionCount(
                question=" ".join(text.split())[:300],
                count=0,
                last_asked=created_at,
                conversation_id=conversation_id,
                reason=reason,
            )
    ranked = sorted(counts, key=lambda k: (-counts[k], -latest[k].last_asked.timestamp(), k))
    groups = _similar_groups(ranked, embed) if embed is not None else [[k] for k in ranked]
    result = []
    for keys in groups:
        # The most frequent wording names the group; the newest member gives the link.
        newest = max(keys, key=lambda k: latest[k].last_asked)
        item = QuestionCount(
            question=latest[keys[0]].question,
            count=sum(counts[k] for k in keys),
            last_asked=latest[newest].last_asked,
            conversation_id=latest[newest].conversation_id,
            reason=latest[newest].reason,
            variants=[latest[k].question for k in keys[1 : 1 + MAX_VARIANTS]],
        )
        result.append(item)
    result.sort(key=lambda q: (-q.count, -q.last_asked.timestamp(), q.question))
    return result[:limit]


def _similar_groups(ranked: list[str], embed: EmbedTexts) -> list[list[str]]:
    """Leader clustering of normalized questions, most frequent first: each joins the first
    group whose leader it is SIMILAR_QUESTION-similar to (compared with the leader only,
    so a chain of near neighbours never drifts into another topic)."""
    head, tail = ranked[:MAX_CLUSTERED], ranked[MAX_CLUSTERED:]
    if len(head) < 2:
        return [[k] for k in ranked]
    try:
        vectors = np.asarray(embed(head), dtype=np.float32)
    except Exception:  # a provider outage must not break the page: exact groups instead
        log.warning("question embedding failed; grouping by exact text", exc_info=True)
        return [[k] for k in ranked]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms == 0, 1, norms)
    leaders: list[int] = []
    groups: list[list[str]] = []
    for i, key in enumerate(head):
        if leaders:
            similarity = vectors[leaders] @ vectors[i]
            best = int(np.argmax(similarity))
            if similarity[best] >= SIMILAR_QUESTION:
                groups[best].append(key)
                continue
        leaders.append(i)
        groups.append([key])
    return groups + [[k] for k in tail]


def report(
    session: Session,
    tenant_id: str,
    period: Period,
    scope: Scope = Scope(),
    embed: EmbedTexts | None = None,
) -> Report:
    """Everything the Analytics page shows, for one period and filter; with `embed`,
    questions that mean the same are grouped."""
    _validate_widget(TenantScope(session, tenant_id), scope)
    return Report(
        period=period,
        kpis=kpi_report(session, tenant_id, period, scope),
        days=daily(session, tenant_id, period, scope),
        feedback=feedback(session, tenant_id, period, scope),
        top_questions=top_questions(session, tenant_id, period, scope, embed=embed),
        unanswered=unanswered_questions(session, tenant_id, period, scope, embed=embed),
    )
