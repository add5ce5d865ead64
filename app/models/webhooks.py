"""Webhooks: a workspace's endpoints and each signed delivery to them (durable jobs)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, String
from sqlmodel import Field

from app.models.base import TenantOwned, json_column, new_id, utcnow


class WebhookEndpoint(TenantOwned, table=True):
    """Where a workspace's handoff events are POSTed, signed with its own secret."""

    __tablename__ = "webhook_endpoint"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    url: str = Field(max_length=500)
    events: list[str] = Field(default_factory=list, sa_column=json_column())
    slack: bool = False  # a Slack-compatible {"text": ...} body instead of the event JSON
    enabled: bool = True
    # The signing secret as a Fernet token (app.security.encrypt_secret): needed to sign.
    secret_encrypted: str


class DeliveryStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    delivered = "delivered"
    failed = "failed"


class WebhookDelivery(TenantOwned, table=True):
    """One event to one endpoint: a durable job, retried with exponential backoff."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_status_next", "status", "next_attempt_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    endpoint_id: str = Field(
        foreign_key="webhook_endpoint.id", index=True, max_length=32, ondelete="CASCADE"
    )
    event: str = Field(max_length=40)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    status: DeliveryStatus = Field(default=DeliveryStatus.queued, sa_type=String(16))
    attempts: int = 0
    max_attempts: int = 8
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    delivered_at: datetime | None = None
