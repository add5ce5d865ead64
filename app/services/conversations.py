"""Conversations, messages and usage metering.

An assistant message and its UsageDaily row are written in the same transaction, so the
analytics can never disagree with the transcripts.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, literal_column
from sqlalchemy import func as sa_func
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from app.db import NotFoundError, TenantScope
from app.models import Conversation, Message, Tenant, Tier, UsageDaily, new_id, utcnow
from app.rag.answer_types import Turn
from app.rag.chat import TurnResult
from app.settings import Settings, get_settings

HISTORY_TURNS = 8


class BudgetExceededError(Exception):
    """A free workspace used its monthly token budget."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "This workspace has used its monthly answer budget. It renews at the start of "
            "next month; upgrade the plan to keep answering."
        )
        self.retry_after = retry_after


def get_or_start_conversation(
    session: Session,
    tenant_id: str,
    *,
    conversation_id: str | None,
    widget_id: str | None,
    visitor_id: str = "",
    channel: str = "web",
    host_url: str = "",
    user_agent: str = "",
) -> tuple[Conversation, bool]:
    """The caller's conversation, or a new one. Another visitor's id is not found."""
    scope = TenantScope(session, tenant_id)
    if conversation_id:
        conversation = scope.get(Conversation, conversation_id)
        if conversation.widget_id != widget_id or (
            visitor_id and conversation.visitor_id and conversation.visitor_id != visitor_id
        ):
            raise NotFoundError("Conversation")
        return conversation, False
    conversation = scope.add(
        draft_conversation(
            tenant_id,
            widget_id=widget_id,
            visitor_id=visitor_id,
            channel=channel,
            host_url=host_url,
            user_agent=user_agent,
        )
    )
    session.flush()
    return conversation, True


def draft_conversation(
    tenant_id: str,
    *,
    widget_id: str | None,
    visitor_id: str = "",
    channel: str = "web",
    host_url: str = "",
    user_agent: str = "",
) -> Conversation:
    """A new conversation, not stored yet. Chat stores it with its first turn, in one
    transaction, so a turn cut short (the database restarting mid-turn) leaves no empty
    conversation behind."""
    return Conversation(
        tenant_id=tenant_id,
        widget_id=widget_id,
        visitor_id=visitor_id[:64],
        channel=channel,
        host_url=host_url[:500],
        user_agent=user_agent[:300],
    )


def history(
    session: Session, tenant_id: str, conversation_id: str, limit: int = HISTORY_TURNS * 2
) -> list[Turn]:
    scope = TenantScope(session, tenant_id)
    rows = session.exec(
        scope.select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(col(Message.created_at).desc())
        .limit(limit)
    ).all()
    return [
        Turn(role="user" if m.role == "user" else "assistant", text=m.text) for m in reversed(rows)
    ]


def messages(session: Session, tenant_id: str, conversation_id: str) -> list[Message]:
    scope = TenantScope(session, tenant_id)
    scope.get(Conversation, conversation_id)
    return list(
        session.exec(
            scope.select(Message)
            .where(Message.conversation_id == conversation_id)
            .order_by(col(Message.created_at))
        )
    )


def list_conversations(
    session: Session,
    tenant_id: str,
    *,
    widget_id: str | None = None,
    offset: int = 0,
    limit: int = 25,
) -> tuple[list[Conversation], int]:
    """A page of the tenant's conversations, newest activity first, and the total."""
    query = TenantScope(session, tenant_id).select(Conversation)
    if widget_id:
        query = query.where(Conversation.widget_id == widget_id)
    total = session.exec(query.with_only_columns(sa_func.count()).order_by(None)).one()
    rows = session.exec(
        query.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id))
        .offset(max(0, offset))
        .limit(max(1, min(limit, 200)))
    ).all()
    return list(rows), int(total)


def month_tokens(session: Session, tenant_id: str, now: datetime | None = None) -> int:
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    now = now or utcnow()
    first = now.date().replace(day=1)
    total = session.exec(
        select(
            sa_func.coalesce(sa_func.sum(UsageDaily.tokens_in + UsageDaily.tokens_out), 0)
        ).where(UsageDaily.tenant_id == tenant_id, UsageDaily.day >= first)
    ).one()
    return int(total)


def monthly_budget(tier: str, settings: Settings | None = None) -> int:
    s = settings or get_settings()
    return s.budget_paid_tokens_month if tier == Tier.paid else s.budget_free_tokens_month


def check_budget(session: Session, tenant: Tenant, settings: Settings | None = None) -> bool:
    """True when this turn is overage (paid tier); raises when a free tier is out of budget."""
    budget = monthly_budget(tenant.tier, settings)
    used = month_tokens(session, tenant.id)
    if used < budget:
        return False
    if tenant.tier == Tier.paid:
        return True
    now = datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    raise BudgetExceededError(int((datetime(year, month, 1, tzinfo=UTC) - now).total_seconds()))


USAGE_COUNTERS = (
    "conversations",
    "messages",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "overage_tokens",
    "overage_cost_usd",
)
_USAGE_UPSERTS: dict[tuple[str, tuple[str, ...]], Any] = {}


def _usage_upsert(dialect: str, columns: tuple[str, ...]) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE adding the counters, with bound parameters, built
    once per dialect: building it (and its cache key) per turn was ~30% of the Python
    time of saving a turn (py-spy --gil under load)."""
    key = (dialect, columns)
    stmt = _USAGE_UPSERTS.get(key)
    if stmt is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        table = UsageDaily.__table__.c
        stmt = insert(UsageDaily).values({c: bindparam(c) for c in columns})
        # `excluded.<column>` spelled out: `stmt.excluded` is a fresh alias per use.
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant_id", "widget_id", "day"],
            set_={
                **{c: getattr(table, c) + literal_column(f"excluded.{c}") for c in USAGE_COUNTERS},
                "updated_at": literal_column("excluded.updated_at"),
            },
        )
        _USAGE_UPSERTS[key] = stmt
    return stmt


def _upsert_usage(session: Session, row: dict[str, Any]) -> None:
    """Add the turn's counters to the day's row: atomic on both databases."""
    dialect = session.get_bind().dialect.name
    session.execute(_usage_upsert(dialect, tuple(sorted(row))), row)


def record_turn(
    session: Session,
    tenant_id: str,
    conversation: Conversation,
    question: str,
    result: TurnResult,
    *,
    new_conversation: bool,
    overage: bool = False,
) -> tuple[Message, Message]:
    """Store the visitor's message, the answer and the day's usage in one transaction."""
    scope = TenantScope(session, tenant_id)
    now = utcnow()
    user = scope.add(
        Message(conversation_id=conversation.id, role="user", text=question, created_at=now)
    )
    usage = result.usage
    answer = scope.add(
        Message(
            conversation_id=conversation.id,
            role="assistant",
            text=result.answer,
            sources=[_source_json(s) for s in result.sources],
            model=result.model,
            provider=result.provider,
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cost_usd=result.cost_usd,
            latency_ms=result.latency_ms,
            ttft_ms=result.ttft_ms,
            answered=result.answered,
            confidence=answer_confidence(result),
            cached=result.cached,
            notice=(result.notice or None),
            created_at=now + timedelta(milliseconds=1),  # keeps question-then-answer order
        )
    )
    conversation.message_count += 2
    conversation.last_message_at = now
    if not conversation.title:
        conversation.title = question[:200]
    session.add(conversation)
    tokens = (
        usage.tokens_in + usage.tokens_out + usage.cache_read_tokens + (usage.cache_write_tokens)
    )
    _upsert_usage(
        session,
        {
            "id": new_id(),
            "tenant_id": tenant_id,
            "widget_id": conversation.widget_id or "",
            "day": now.date(),
            "conversations": 1 if new_conversation else 0,
            "messages": 2,
            "tokens_in": usage.tokens_in + usage.cache_read_tokens + usage.cache_write_tokens,
            "tokens_out": usage.tokens_out,
            "cost_usd": result.cost_usd,
            "overage_tokens": tokens if overage else 0,
            "overage_cost_usd": result.cost_usd if overage else 0.0,
            "created_at": now,
            "updated_at": now,
        },
    )
    session.flush()
    return user, answer


def answer_confidence(result: TurnResult) -> float | None:
    """What Message.confidence stores: the responder's own estimate when it gives one (the
    extractive answerer does), else the best cited source's retrieval score."""
    if result.confidence is not None:
        return result.confidence
    return max((s.score for s in result.sources), default=None)


def _source_json(source) -> dict:  # type: ignore[no-untyped-def]
    data = asdict(source)
    data["text"] = data["text"][:1200]  # the quoted passage for citation chips
    return data


def set_feedback(
    session: Session,
    tenant_id: str,
    message_id: str,
    value: int | None,
    *,
    conversation_id: str | None = None,
) -> Message:
    if value not in (-1, 1, None):
        raise ValueError("feedback must be 1, -1 or null")
    message = TenantScope(session, tenant_id).get(Message, message_id)
    if message.role != "assistant" or (
        conversation_id and message.conversation_id != conversation_id
    ):
        raise NotFoundError("Message")
    message.feedback = value
    session.add(message)
    return message
