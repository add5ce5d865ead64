"""The audit trail: one append-only row per admin action or sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from app.models.base import json_column, new_id, utcnow


class AuditEvent(SQLModel, table=True):
    """One admin action or sign-in, append-only (see app.services.audit).

    `tenant_id` has no foreign key on purpose: a workspace's trail outlives the workspace
    (its deletion is itself an event) until the retention purge. It is empty for events
    that belong to no workspace (a failed sign-in for an unknown address).
    """

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_tenant_created", "tenant_id", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, nullable=False, index=True)
    tenant_id: str | None = Field(default=None, max_length=32)
    actor_type: str = Field(max_length=16)  # user | api_key | system | anonymous
    actor_id: str = Field(default="", max_length=32)
    # Email or key prefix at the time: the trail stays readable after the actor is gone.
    actor_label: str = Field(default="", max_length=254)
    action: str = Field(max_length=64, index=True)
    target_type: str = Field(default="", max_length=32)
    target_id: str = Field(default="", max_length=64)
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)
    # {"field": {"before": x, "after": y}} with secret fields masked.
    diff: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
