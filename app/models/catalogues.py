"""Product catalogues: a shop as a knowledge source, its products and sync jobs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, Numeric, String, UniqueConstraint
from sqlmodel import Field

from app.models.base import JobStatus, TenantOwned, json_column, new_id, utcnow


class CatalogueSchedule(StrEnum):
    off = "off"
    hourly = "hourly"
    daily = "daily"


class Catalogue(TenantOwned, table=True):
    """A shop whose products are a knowledge source (app.connectors; app.services.catalogues)."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    kind: str = Field(max_length=32)  # a key of app.connectors.CONNECTORS
    name: str = Field(max_length=120)
    # The connector settings without its secret fields; those are one Fernet token below.
    config: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    secrets_encrypted: str | None = None
    schedule: CatalogueSchedule = Field(default=CatalogueSchedule.off, sa_type=String(16))
    next_sync_at: datetime | None = Field(default=None, index=True)
    status: str = Field(default="new", max_length=16)  # new | queued | syncing | ready | failed
    product_count: int = 0
    skipped_count: int = 0
    # [{"id": external id or None, "reason": ...}], the first few of the last sync.
    skipped: list[dict[str, Any]] = Field(default_factory=list, sa_column=json_column())
    truncated: bool = False
    last_synced_at: datetime | None = None
    last_error: str | None = Field(default=None, max_length=1000)
    last_embedded: int = 0  # products embedded by the last sync (0 when nothing changed)
    last_removed: int = 0
    # The vector space its points live in (`space_key`): after an embedding-model switch
    # the next sync re-embeds every product instead of trusting the content hashes.
    index_model: str | None = Field(default=None, max_length=200)


class CatalogueProduct(TenantOwned, table=True):
    """One product as last read from its shop; its vector point is `point_id(tenant, id, 0)`."""

    __tablename__ = "catalogue_product"
    __table_args__ = (
        UniqueConstraint("catalogue_id", "external_id", name="uq_catalogue_product_external"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    catalogue_id: str = Field(
        foreign_key="catalogue.id", index=True, max_length=32, ondelete="CASCADE"
    )
    external_id: str = Field(max_length=120)
    title: str = Field(max_length=300)
    price: Decimal = Field(sa_type=Numeric(14, 2))
    currency: str = Field(default="USD", max_length=3)
    category: str = Field(default="", max_length=200, index=True)
    description: str = ""
    image_url: str | None = Field(default=None, max_length=1000)
    product_url: str | None = Field(default=None, max_length=1000)
    in_stock: bool | None = None
    stock_qty: float | None = None
    sku: str | None = Field(default=None, max_length=120)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    # sha256 of everything indexed: an unchanged product is not embedded again.
    content_hash: str = Field(max_length=64)


class CatalogueJob(TenantOwned, table=True):
    """One sync of a catalogue, claimed by a worker like an ingestion job."""

    __tablename__ = "catalogue_job"
    __table_args__ = (Index("ix_catalogue_job_status_next", "status", "next_attempt_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    catalogue_id: str = Field(
        foreign_key="catalogue.id", index=True, max_length=32, ondelete="CASCADE"
    )
    status: JobStatus = Field(default=JobStatus.queued, sa_type=String(16))
    attempts: int = 0
    max_attempts: int = 3
    worker_id: str | None = Field(default=None, max_length=64)
    heartbeat_at: datetime | None = None
    next_attempt_at: datetime = Field(default_factory=utcnow)
    error: str | None = Field(default=None, max_length=1000)
