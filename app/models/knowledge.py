"""The knowledge base: documents, their ingestion jobs and Q&A pairs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field

from app.models.base import JobStatus, TenantOwned, new_id, utcnow


class DocumentStatus(StrEnum):
    queued = "queued"
    parsing = "parsing"
    chunking = "chunking"
    embedding = "embedding"
    indexing = "indexing"
    ready = "ready"
    failed = "failed"


class Document(TenantOwned, table=True):
    __table_args__ = (
        UniqueConstraint("tenant_id", "content_hash", name="uq_document_tenant_content"),
        Index("ix_document_tenant_created", "tenant_id", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    title: str = Field(max_length=300)
    source: str = Field(default="upload", max_length=16)  # upload | text
    filename: str = Field(default="", max_length=300)
    kind: str = Field(default="", max_length=16)  # pdf, docx, txt, md, csv, html, text
    content_hash: str = Field(max_length=64)
    size_bytes: int = 0
    status: DocumentStatus = Field(default=DocumentStatus.queued, sa_type=String(16), index=True)
    progress: int = Field(default=0, ge=0, le=100)
    step: str = Field(default="", max_length=300)
    error: str | None = Field(default=None, max_length=1000)
    chunk_count: int = 0
    token_count: int = 0
    storage_path: str = Field(default="", max_length=500)
    # "<embedding model>:<vector size>" it was indexed with; None = before this was recorded.
    index_model: str | None = Field(default=None, max_length=200)
    # A crawled page (source "web"): the address its chunks cite.
    source_url: str | None = Field(default=None, max_length=2000)


class IngestJob(TenantOwned, table=True):
    __tablename__ = "ingest_job"
    __table_args__ = (Index("ix_ingest_job_status_next", "status", "next_attempt_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    document_id: str = Field(
        foreign_key="document.id", index=True, max_length=32, ondelete="CASCADE"
    )
    stage: DocumentStatus = Field(default=DocumentStatus.queued, sa_type=String(16))
    status: JobStatus = Field(default=JobStatus.queued, sa_type=String(16))
    attempts: int = 0
    max_attempts: int = 3
    worker_id: str | None = Field(default=None, max_length=64)
    heartbeat_at: datetime | None = None
    next_attempt_at: datetime = Field(default_factory=utcnow)
    error: str | None = Field(default=None, max_length=1000)


class QAPair(TenantOwned, table=True):
    __tablename__ = "qa_pair"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    widget_id: str | None = Field(
        default=None, foreign_key="widget.id", max_length=32, ondelete="CASCADE"
    )
    question: str = Field(max_length=1000)
    answer: str = Field(max_length=8000)
    enabled: bool = True
