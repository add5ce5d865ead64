"""Human handoff: staff notes on conversations, staff presence, and leads left when
nobody could answer."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field

from app.models.base import TenantOwned, new_id, utcnow


class ConversationNote(TenantOwned, table=True):
    """Staff-only note on a conversation: its own table, so no visitor path can read it."""

    __tablename__ = "conversation_note"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str = Field(
        foreign_key="conversation.id", index=True, max_length=32, ondelete="CASCADE"
    )
    author_id: str | None = Field(
        default=None, foreign_key="user.id", max_length=32, ondelete="SET NULL"
    )
    author_name: str = Field(default="", max_length=120)
    text: str = Field(max_length=4000)


class StaffPresence(TenantOwned, table=True):
    """A staff member's last dashboard heartbeat in a workspace (online while recent)."""

    __tablename__ = "staff_presence"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", name="uq_presence_tenant_user"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32, ondelete="CASCADE")
    last_seen_at: datetime = Field(default_factory=utcnow)


class LeadStatus(StrEnum):
    new = "new"
    contacted = "contacted"
    closed = "closed"


class Lead(TenantOwned, table=True):
    """Contact details a visitor left when nobody could answer in person."""

    __table_args__ = (Index("ix_lead_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    conversation_id: str | None = Field(
        default=None, foreign_key="conversation.id", index=True, max_length=32, ondelete="SET NULL"
    )
    widget_id: str | None = Field(
        default=None, foreign_key="widget.id", max_length=32, ondelete="SET NULL"
    )
    name: str = Field(default="", max_length=120)
    email: str = Field(default="", max_length=254)
    message: str = Field(default="", max_length=2000)
    consent: bool = False
    status: LeadStatus = Field(default=LeadStatus.new, sa_type=String(16))
