"""Chat conversations and their messages (bot, visitor and staff turns)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field

from app.models.base import TenantOwned, json_column, new_id, utcnow


class Conversation(TenantOwned, table=True):
    __table_args__ = (Index("ix_conversation_tenant_started", "tenant_id", "started_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    widget_id: str | None = Field(
        default=None, foreign_key="widget.id", index=True, max_length=32, ondelete="SET NULL"
    )
    visitor_id: str = Field(default="", max_length=64, index=True)
    channel: str = Field(default="web", max_length=16)  # web | api | dashboard
    host_url: str = Field(default="", max_length=500)
    user_agent: str = Field(default="", max_length=300)
    title: str = Field(default="", max_length=200)
    started_at: datetime = Field(default_factory=utcnow)
    last_message_at: datetime = Field(default_factory=utcnow)
    message_count: int = 0
    # Human handoff: bot | waiting_for_human | human | resolved (app.services.inbox).
    handoff_status: str = Field(default="bot", max_length=24, index=True)
    handoff_reason: str | None = Field(default=None, max_length=24)
    assignee_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, max_length=32, ondelete="SET NULL"
    )
    handoff_requested_at: datetime | None = None
    first_human_reply_at: datetime | None = None
    resolved_at: datetime | None = None
    # Last time staff opened the conversation: visitor messages after it are unread.
    staff_read_at: datetime | None = None


class Message(TenantOwned, table=True):
    __table_args__ = (Index("ix_message_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str = Field(
        foreign_key="conversation.id", index=True, max_length=32, ondelete="CASCADE"
    )
    role: str = Field(max_length=16)  # user | assistant | staff
    # Staff messages: who wrote it (the name is kept as the visitor saw it).
    author_id: str | None = Field(
        default=None, foreign_key="user.id", max_length=32, ondelete="SET NULL"
    )
    author_name: str | None = Field(default=None, max_length=120)
    text: str
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
    model: str | None = Field(default=None, max_length=120)
    provider: str | None = Field(default=None, max_length=32)
    # tokens_in counts input billed at the full rate; cached input is counted separately.
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    notice: str | None = Field(default=None, max_length=300)
    latency_ms: int | None = None
    ttft_ms: int | None = None
    feedback: int | None = None  # -1, 1, or None
    answered: bool = True
    # Top score among the answer's sources (None without sources): "low confidence" filter.
    confidence: float | None = None
    cached: bool = False
    # The turn's tool calls: [{name, arguments (secrets masked), status, latency_ms, error?}].
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
    # Product cards shown under the answer (from stored catalogue rows), kept for reloads.
    cards: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
