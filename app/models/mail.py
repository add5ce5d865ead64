"""Outgoing email as durable jobs (app.services.mail)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String
from sqlmodel import Field

from app.models.base import Timestamped, new_id, utcnow


class MailStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    dropped = "dropped"  # nothing to send after all (a reset request for no account)


class EmailOutbox(Timestamped, table=True):
    """One email to deliver: a durable job claimed by the mail workers.

    The body carries a link with a token, so it is stored encrypted (see
    app.security.encrypt_secret) and wiped once the message is sent or given up on. A row
    without a body is a request the worker composes itself (see `Composer` in
    app.services.mail.outbox): a password reset, whose request must cost the same whether
    or not an account has the address.
    """

    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_status_next", "status", "next_attempt_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    kind: str = Field(max_length=32)  # password_reset | verify_email | invitation
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    body_encrypted: str | None = None
    status: MailStatus = Field(default=MailStatus.queued, sa_type=String(16))
    attempts: int = 0
    max_attempts: int = 8
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = None
    # A message whose link has expired is not worth delivering late.
    discard_after: datetime | None = None
    user_id: str | None = Field(
        default=None, foreign_key="user.id", index=True, max_length=32, ondelete="CASCADE"
    )
    invitation_id: str | None = Field(
        default=None, foreign_key="invitation.id", index=True, max_length=32, ondelete="CASCADE"
    )
