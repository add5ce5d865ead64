"""Reading conversations back: the filtered list, one transcript, and the CSV export.

Everything is tenant-scoped; an id from another workspace is not found. Writing turns
lives in `app.services.conversations`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func
from sqlmodel import Session, col, select

from app.db import TenantScope
from app.models import Conversation, Message, Widget
from app.services.analytics import flagged_condition, low_confidence_condition

PAGE_SIZE = 20
MAX_SEARCH = 200
MAX_EXPORT_ROWS = 50_000
FEEDBACK_FILTERS = ("", "up", "down", "any")
# Conversation.channel values: visitors (web), dashboard tests (dashboard), REST API (api).
CHANNELS = ("web", "dashboard", "api")
# Spreadsheet apps run a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ConversationFilterError(ValueError):
    """A filter value the list cannot use (shown to the user as is)."""


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    widget_id: str = ""
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    feedback: str = ""  # "", "up", "down", "any"
    flagged: bool = False  # unanswered or low confidence
    search: str = ""
    channel: str = ""  # "" = every channel, else one of CHANNELS

    def __post_init__(self) -> None:
        if self.feedback not in FEEDBACK_FILTERS:
            raise ConversationFilterError("Unknown feedback filter.")
        if self.channel and self.channel not in CHANNELS:
            raise ConversationFilterError("Unknown channel.")
        if len(self.search) > MAX_SEARCH:
            raise ConversationFilterError(f"Search at most {MAX_SEARCH} characters.")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ConversationFilterError("The start date must be on or before the end date.")


@dataclass(slots=True)
class ConversationRow:
    id: str
    title: str
    widget_name: str
    channel: str
    started_at: datetime
    last_message_at: datetime
    message_count: int
    thumbs_up: int = 0
    thumbs_down: int = 0
    flagged: int = 0
    cost_usd: float = 0.0


@dataclass(slots=True)
class ConversationPage:
    rows: list[ConversationRow]
    total: int
    page: int
    pages: int


@dataclass(slots=True)
class Transcript:
    conversation: Conversation
    widget_name: str
    messages: list[Message] = field(default_factory=list)
    low_confidence_ids: set[str] = field(default_factory=set)

    @property
    def cost_usd(self) -> float:
        return sum(m.cost_usd for m in self.messages)

    @property
    def tokens(self) -> int:
        return sum(
            m.tokens_in + m.cache_read_tokens + m.cache_write_tokens + m.tokens_out
            for m in self.messages
        )


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filtered(ts: TenantScope, flt: ConversationFilter) -> Any:
    """SELECT conversations of this tenant matching the filter (no ordering)."""
    query = ts.select(Conversation)
    if flt.widget_id:
        query = query.where(Conversation.widget_id == flt.widget_id)
    if flt.channel:
        query = query.where(Conversation.channel == flt.channel)
    if flt.date_from:
        query = query.where(
            Conversation.last_message_at >= datetime.combine(flt.date_from, time.min, tzinfo=UTC)
        )
    if flt.date_to:
        end = datetime.combine(flt.date_to + timedelta(days=1), time.min, tzinfo=UTC)
        query = query.where(Conversation.started_at < end)

    def has_message(*conditions: Any) -> Any:
        return exists().where(
            Message.conversation_id == Conversation.id,
            Message.tenant_id == ts.tenant_id,
            *conditions,
        )

    if flt.feedback == "up":
        query = query.where(has_message(Message.feedback == 1))
    elif flt.feedback == "down":
        query = query.where(has_message(Message.feedback == -1))
    elif flt.feedback == "any":
        query = query.where(has_message(col(Message.feedback).is_not(None)))
    if flt.flagged:
        query = query.where(has_message(flagged_condition()))
    search = flt.search.strip()
    if search:
        query = query.where(
            has_message(col(Message.text).ilike(_like_pattern(search), escape="\\"))
        )
    return query


def list_conversations(
    session: Session,
    tenant_id: str,
    flt: ConversationFilter = ConversationFilter(),
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> ConversationPage:
    ts = TenantScope(session, tenant_id)
    query = _filtered(ts, flt)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    pages = max(1, -(-int(total) // page_size))
    page = min(max(1, page), pages)
    conversations = list(
        session.exec(
            query.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id))
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
    )
    return ConversationPage(
        rows=_rows(session, ts, conversations), total=int(total), page=page, pages=pages
    )


def recent_conversations(session: Session, tenant_id: str, limit: int = 5) -> list[ConversationRow]:
    return list_conversations(session, tenant_id, page_size=limit).rows


def _rows(
    session: Session, ts: TenantScope, conversations: list[Conversation]
) -> list[ConversationRow]:
    if not conversations:
        return []
    ids = [c.id for c in conversations]
    stats = {
        row[0]: row[1:]
        for row in session.exec(
            select(
                Message.conversation_id,
                func.coalesce(func.sum(case((Message.feedback == 1, 1), else_=0)), 0),
                func.coalesce(func.sum(case((Message.feedback == -1, 1), else_=0)), 0),
                func.coalesce(func.sum(case((flagged_condition(), 1), else_=0)), 0),
                func.coalesce(func.sum(Message.cost_usd), 0.0),
            )
            .where(Message.tenant_id == ts.tenant_id, col(Message.conversation_id).in_(ids))
            .group_by(Message.conversation_id)
        )
    }
    names = _widget_names(session, ts, {c.widget_id for c in conversations if c.widget_id})
    rows = []
    for c in conversations:
        up, down, flagged, cost = stats.get(c.id, (0, 0, 0, 0.0))
        rows.append(
            ConversationRow(
                id=c.id,
                title=c.title or "(no question yet)",
                widget_name=names.get(c.widget_id or "", "—"),
                channel=c.channel,
                started_at=c.started_at,
                last_message_at=c.last_message_at,
                message_count=c.message_count,
                thumbs_up=int(up),
                thumbs_down=int(down),
                flagged=int(flagged),
                cost_usd=float(cost),
            )
        )
    return rows


def _widget_names(session: Session, ts: TenantScope, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    return {
        w.id: w.name for w in session.exec(ts.select(Widget).where(col(Widget.id).in_(sorted(ids))))
    }


def transcript(session: Session, tenant_id: str, conversation_id: str) -> Transcript:
    ts = TenantScope(session, tenant_id)
    conversation = ts.get(Conversation, conversation_id)
    messages = list(
        session.exec(
            ts.select(Message)
            .where(Message.conversation_id == conversation.id)
            .order_by(col(Message.created_at), col(Message.role).desc())
        )
    )
    low = set(
        session.exec(
            select(Message.id).where(
                Message.tenant_id == ts.tenant_id,
                Message.conversation_id == conversation.id,
                low_confidence_condition(),
            )
        )
    )
    names = _widget_names(
        session, ts, {conversation.widget_id} if conversation.widget_id else set()
    )
    return Transcript(
        conversation=conversation,
        widget_name=names.get(conversation.widget_id or "", "—"),
        messages=messages,
        low_confidence_ids=low,
    )


def question_for_answer(session: Session, tenant_id: str, message_id: str) -> tuple[str, str]:
    """(visitor question, answer text) for an assistant message: the Q&A editor's draft."""
    ts = TenantScope(session, tenant_id)
    answer = ts.get(Message, message_id)
    if answer.role != "assistant":
        raise ConversationFilterError("Pick an answer, not a question.")
    question = session.exec(
        ts.select(Message)
        .where(
            Message.conversation_id == answer.conversation_id,
            Message.role == "user",
            Message.created_at <= answer.created_at,
        )
        .order_by(col(Message.created_at).desc())
        .limit(1)
    ).first()
    return (question.text if question else ""), answer.text


# ---- CSV export ------------------------------------------------------------------------

CSV_COLUMNS = (
    "conversation_id",
    "widget",
    "channel",
    "message_id",
    "time_utc",
    "role",
    "text",
    "model",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "feedback",
    "answered",
)


def safe_cell(value: Any) -> Any:
    """Neutralize spreadsheet formulas: a leading ' makes Excel/Sheets show text as text."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_csv(
    session: Session, tenant_id: str, flt: ConversationFilter = ConversationFilter()
) -> str:
    """One row per message of every conversation the filter matches (oldest first)."""
    ts = TenantScope(session, tenant_id)
    ids = select(_filtered(ts, flt).subquery().c.id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    query = (
        select(Message, Conversation.channel, Widget.name)
        .join(Conversation, and_(Conversation.id == Message.conversation_id))
        .outerjoin(Widget, Widget.id == Conversation.widget_id)
        .where(Message.tenant_id == ts.tenant_id, col(Message.conversation_id).in_(ids))
        .order_by(
            col(Conversation.started_at), col(Message.conversation_id), col(Message.created_at)
        )
        .limit(MAX_EXPORT_ROWS)
    )
    for message, channel, widget_name in session.exec(query):
        feedback = {1: "up", -1: "down"}.get(message.feedback or 0, "")
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    message.conversation_id,
                    widget_name or "",
                    channel,
                    message.id,
                    message.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    message.role,
                    message.text,
                    message.model or "",
                    message.tokens_in + message.cache_read_tokens + message.cache_write_tokens,
                    message.tokens_out,
                    f"{message.cost_usd:.6f}",
                    feedback,
                    "" if message.role == "user" else ("yes" if message.answered else "no"),
                )
            ]
        )
    return out.getvalue()
