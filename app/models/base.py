"""What every table is built from: ids, aware UTC times, timestamps, the tenant column.

Times are aware UTC (`utcnow()`); SQLModel's UTCDateTime round-trips them on SQLite too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from app.models.row_construction import remember_default_factory_signatures

remember_default_factory_signatures()  # before any row is built: see that module


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


def json_column() -> Any:
    """A NOT NULL JSON column; a fresh one per field (a Column belongs to one table)."""
    return Column(JSON, nullable=False)


class Timestamped(SQLModel):
    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    updated_at: datetime = Field(
        default_factory=utcnow, nullable=False, sa_column_kwargs={"onupdate": utcnow}
    )


class TenantOwned(Timestamped):
    """Base of every row that belongs to a workspace; `app.db.TenantScope` relies on it."""

    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32, ondelete="CASCADE")
