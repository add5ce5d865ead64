"""Crawled websites: the site, each of its pages, and the crawl jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlmodel import Field

from app.models.base import JobStatus, TenantOwned, json_column, new_id, utcnow


class Website(TenantOwned, table=True):
    """A site crawled into the knowledge base; each page becomes a `web` Document."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    start_url: str = Field(max_length=2000)
    sitemap_url: str | None = Field(default=None, max_length=2000)
    scope: str = Field(default="host", max_length=16)  # host | subdomains | prefix
    include: list[str] = Field(default_factory=list, sa_column=json_column())
    exclude: list[str] = Field(default_factory=list, sa_column=json_column())
    max_pages: int = 500
    max_depth: int = 5
    schedule: str = Field(default="off", max_length=16)  # off | daily | weekly
    next_sync_at: datetime | None = None
    last_sync_at: datetime | None = None
    last_added: int = 0
    last_changed: int = 0
    last_removed: int = 0
    last_error: str | None = Field(default=None, max_length=1000)


class WebPage(TenantOwned, table=True):
    """One URL of a website and what happened to it in the latest run."""

    __tablename__ = "web_page"
    __table_args__ = (
        UniqueConstraint("website_id", "url", name="uq_web_page_website_url"),
        Index("ix_web_page_run_status", "run_id", "status"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    website_id: str = Field(foreign_key="website.id", index=True, max_length=32, ondelete="CASCADE")
    url: str = Field(max_length=2000)
    # queued | fetched | indexed | skipped | failed (document readiness refines fetched)
    status: str = Field(default="queued", max_length=16)
    reason: str | None = Field(default=None, max_length=500)
    depth: int = 0
    via: str = Field(default="link", max_length=16)  # start | link | sitemap
    run_id: str | None = Field(default=None, max_length=32)
    document_id: str | None = Field(
        default=None, foreign_key="document.id", max_length=32, ondelete="SET NULL"
    )
    etag: str | None = Field(default=None, max_length=300)
    last_modified: str | None = Field(default=None, max_length=100)
    content_hash: str | None = Field(default=None, max_length=64)
    misses: int = 0
    fetched_at: datetime | None = None


class CrawlJob(TenantOwned, table=True):
    """A crawl or re-sync of one website: claimed, heartbeated and resumed like ingestion."""

    __tablename__ = "crawl_job"
    __table_args__ = (Index("ix_crawl_job_status_next", "status", "next_attempt_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    website_id: str = Field(foreign_key="website.id", index=True, max_length=32, ondelete="CASCADE")
    status: JobStatus = Field(default=JobStatus.queued, sa_type=String(16))
    seeded: bool = False  # robots.txt read, start URL and sitemaps queued
    cancel_requested: bool = False
    attempts: int = 0
    max_attempts: int = 5
    worker_id: str | None = Field(default=None, max_length=64)
    heartbeat_at: datetime | None = None
    next_attempt_at: datetime = Field(default_factory=utcnow)
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    removed: int = 0
    finished_at: datetime | None = None
    error: str | None = Field(default=None, max_length=1000)
