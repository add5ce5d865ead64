"""Intents: a workspace's canned intents and a conversation's step in a multi-turn one."""

from __future__ import annotations

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from app.models.base import TenantOwned, json_column, new_id


class Intent(TenantOwned, table=True):
    """One of a workspace's intents (app.services.intents): shared by its widgets in
    `intent`/`hybrid` mode; seeded from app.rag.intents.DEFAULT_INTENTS on first use."""

    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_intent_tenant_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=60)
    examples: list[str] = Field(default_factory=list, sa_column=json_column())
    keywords: list[str] = Field(default_factory=list, sa_column=json_column())
    # reply (the canned `reply` text) | order_status | product_search | handoff | opening_hours
    action: str = Field(default="reply", max_length=24)
    reply: str = Field(default="", max_length=2000)
    enabled: bool = True
    position: int = 0


class IntentDialogue(TenantOwned, table=True):
    """A conversation's step in a multi-turn intent (order status: number, then email)."""

    __tablename__ = "intent_dialogue"

    conversation_id: str = Field(
        foreign_key="conversation.id", primary_key=True, max_length=32, ondelete="CASCADE"
    )
    intent: str = Field(max_length=60)
    step: str = Field(max_length=24)  # order_status: need_number | need_email
    order_number: str | None = Field(default=None, max_length=40)
    attempts: int = 0
