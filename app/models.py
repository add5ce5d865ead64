"""Database tables (SQLModel). Every tenant-owned row carries an indexed `tenant_id`.

Times are aware UTC (`utcnow()`); SQLModel's UTCDateTime round-trips them on SQLite too.
Changing a table means a new Alembic revision: `make migration m="what changed"`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Numeric, String, UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Tier(StrEnum):
    free = "free"
    paid = "paid"


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    member = "member"


class DocumentStatus(StrEnum):
    queued = "queued"
    parsing = "parsing"
    chunking = "chunking"
    embedding = "embedding"
    indexing = "indexing"
    ready = "ready"
    failed = "failed"


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


def _json_column() -> Any:
    return Column(JSON, nullable=False)


class Timestamped(SQLModel):
    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    updated_at: datetime = Field(
        default_factory=utcnow, nullable=False, sa_column_kwargs={"onupdate": utcnow}
    )


class TenantOwned(Timestamped):
    """Base of every row that belongs to a workspace; `app.db.TenantScope` relies on it."""

    tenant_id: str = Field(foreign_key="tenant.id", index=True, max_length=32, ondelete="CASCADE")


# ---- accounts -------------------------------------------------------------------------


class Tenant(Timestamped, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=120)
    tier: Tier = Field(default=Tier.free, sa_type=String(16))
    default_model: str | None = Field(default=None, max_length=120)
    # Provider credentials as one Fernet token (see app.security.encrypt_secret).
    credentials_encrypted: str | None = None
    # Staffed hours for human handoff: {"timezone": "Europe/Paris", "days": {"mon":
    # ["09:00", "17:00"], ...}}; empty = always open (see app.services.presence).
    opening_hours: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    # Every password user must turn on two-factor codes before using the dashboard.
    require_two_factor: bool = False


class User(Timestamped, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    email: str = Field(max_length=254, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    name: str = Field(default="", max_length=120)
    last_login_at: datetime | None = None
    # Set when the person followed a verification link sent to `email`.
    email_verified_at: datetime | None = None
    # TOTP (app.services.two_factor): the seed Fernet-encrypted; set but not enabled while
    # enrolment awaits its first code. last_step refuses a code's reuse in its window.
    totp_secret_encrypted: str | None = None
    totp_enabled_at: datetime | None = None
    totp_last_step: int | None = None


class Membership(TenantOwned, table=True):
    __table_args__ = (UniqueConstraint("user_id", "tenant_id", name="uq_membership_user_tenant"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32, ondelete="CASCADE")
    role: Role = Field(default=Role.member, sa_type=String(16))


class AuthSession(TenantOwned, table=True):
    """A signed-in browser. Only hashes of the cookie token and of the login code are stored."""

    __tablename__ = "auth_session"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32, ondelete="CASCADE")
    token_hash: str | None = Field(default=None, unique=True, max_length=64)
    # One-time code the login form hands to the cookie-setting HTTP route.
    code_hash: str | None = Field(default=None, unique=True, max_length=64)
    code_expires_at: datetime | None = None
    expires_at: datetime = Field(index=True)
    last_seen_at: datetime | None = None
    revoked_at: datetime | None = None
    ip: str = Field(default="", max_length=64)
    user_agent: str = Field(default="", max_length=300)


class Invitation(TenantOwned, table=True):
    """A link that lets someone join a workspace with a role; only a keyed hash of its token."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    email: str | None = Field(default=None, max_length=254)
    role: Role = Field(default=Role.member, sa_type=String(16))
    token_hash: str = Field(unique=True, max_length=64)
    expires_at: datetime
    accepted_at: datetime | None = None
    accepted_by: str | None = Field(default=None, max_length=32)
    created_by: str | None = Field(default=None, max_length=32)


class TokenPurpose(StrEnum):
    password_reset = "password_reset"  # noqa: S105 (a purpose name)
    verify_email = "verify_email"


class AccountToken(Timestamped, table=True):
    """A single-use link token mailed to a person (password reset, email verification).

    Only a keyed hash is stored. `email` is the address it was sent to: a verification
    token no longer verifies anything once the account's address has changed.
    """

    __tablename__ = "account_token"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32, ondelete="CASCADE")
    purpose: TokenPurpose = Field(sa_type=String(16))
    token_hash: str = Field(unique=True, max_length=64)
    email: str = Field(max_length=254)
    expires_at: datetime
    used_at: datetime | None = None


class RecoveryCode(SQLModel, table=True):
    """A one-time two-factor recovery code; only a keyed hash is stored."""

    __tablename__ = "recovery_code"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32, ondelete="CASCADE")
    code_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, nullable=False)
    used_at: datetime | None = None


class UserIdentity(SQLModel, table=True):
    """A sign-in method linked to an account: a provider's stable subject id."""

    __tablename__ = "user_identity"
    __table_args__ = (
        UniqueConstraint("provider", "subject", name="uq_user_identity_provider_subject"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="user.id", index=True, max_length=32, ondelete="CASCADE")
    provider: str = Field(max_length=48)  # google | microsoft | github | sso:<workspace id>
    subject: str = Field(max_length=255)
    email: str = Field(default="", max_length=254)
    created_at: datetime = Field(default_factory=utcnow, nullable=False)


class OAuthState(SQLModel, table=True):
    """One sign-in redirect in flight: bound to the browser's cookie, used once, 10 minutes.

    Keyed by a hash of `state`; the cookie's value is stored only as a hash too; the PKCE
    verifier is encrypted.
    """

    __tablename__ = "oauth_state"

    id: str = Field(primary_key=True, max_length=64)  # keyed hash of the state parameter
    browser_hash: str = Field(max_length=64)
    provider: str = Field(max_length=48)
    nonce: str = Field(max_length=128)
    verifier_encrypted: str
    expires_at: datetime = Field(index=True)


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


# ---- widgets and keys -----------------------------------------------------------------


class Widget(TenantOwned, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=120)
    enabled: bool = True
    # Look: primary_color, theme (light/dark/auto), position (right/left), avatar_url, title.
    appearance: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    greeting: str = Field(default="Hi! Ask me anything about our docs.", max_length=1000)
    starter_questions: list[str] = Field(default_factory=list, sa_column=_json_column())
    placeholder: str = Field(default="Type your question…", max_length=200)
    system_prompt: str = Field(default="", max_length=8000)
    model: str | None = Field(default=None, max_length=120)
    temperature: float = Field(default=0.2, ge=0, le=2)
    citations_enabled: bool = True
    unknown_answer: str = Field(
        default="Sorry, I couldn't find that in our documentation.", max_length=1000
    )
    allowed_domains: list[str] = Field(default_factory=list, sa_column=_json_column())
    # Human handoff rules (see app.services.escalation.EscalationRules for the keys).
    escalation: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    # llm | intent (intents only, no LLM, no retrieval) | hybrid (app.services.intent_router)
    mode: str = Field(default="llm", max_length=16)


class ApiKey(TenantOwned, table=True):
    __tablename__ = "api_key"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    widget_id: str | None = Field(
        default=None, foreign_key="widget.id", max_length=32, ondelete="CASCADE"
    )
    name: str = Field(max_length=120)
    prefix: str = Field(unique=True, index=True, max_length=32)
    key_hash: str = Field(max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_column=_json_column())
    created_by: str | None = Field(default=None, max_length=32)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


# ---- knowledge ------------------------------------------------------------------------


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


class Website(TenantOwned, table=True):
    """A site crawled into the knowledge base; each page becomes a `web` Document."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    start_url: str = Field(max_length=2000)
    sitemap_url: str | None = Field(default=None, max_length=2000)
    scope: str = Field(default="host", max_length=16)  # host | subdomains | prefix
    include: list[str] = Field(default_factory=list, sa_column=_json_column())
    exclude: list[str] = Field(default_factory=list, sa_column=_json_column())
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


class QAPair(TenantOwned, table=True):
    __tablename__ = "qa_pair"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    widget_id: str | None = Field(
        default=None, foreign_key="widget.id", max_length=32, ondelete="CASCADE"
    )
    question: str = Field(max_length=1000)
    answer: str = Field(max_length=8000)
    enabled: bool = True


# ---- conversations and usage -----------------------------------------------------------


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
    sources: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json_column())
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
    tool_calls: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json_column())
    # Product cards shown under the answer (from stored catalogue rows), kept for reloads.
    cards: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json_column())


class UsageDaily(TenantOwned, table=True):
    __tablename__ = "usage_daily"
    __table_args__ = (
        UniqueConstraint("tenant_id", "widget_id", "day", name="uq_usage_tenant_widget_day"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    # "" stands for traffic without a widget (API calls), so the unique key works everywhere.
    widget_id: str = Field(default="", max_length=32)
    day: date = Field(index=True)
    conversations: int = 0
    messages: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    # Tokens and cost beyond the tier's monthly budget (paid tiers keep answering).
    overage_tokens: int = 0
    overage_cost_usd: float = 0.0


# ---- human handoff ----------------------------------------------------------------------


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


class WebhookEndpoint(TenantOwned, table=True):
    """Where a workspace's handoff events are POSTed, signed with its own secret."""

    __tablename__ = "webhook_endpoint"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    url: str = Field(max_length=500)
    events: list[str] = Field(default_factory=list, sa_column=_json_column())
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
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    status: DeliveryStatus = Field(default=DeliveryStatus.queued, sa_type=String(16))
    attempts: int = 0
    max_attempts: int = 8
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=300)
    delivered_at: datetime | None = None


# ---- workspace single sign-on -----------------------------------------------------------


class WorkspaceSso(TenantOwned, table=True):
    """A workspace's OpenID Connect provider (one per workspace). The secret is encrypted."""

    __tablename__ = "workspace_sso"
    __table_args__ = (UniqueConstraint("tenant_id", name="uq_workspace_sso_tenant"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    issuer: str = Field(max_length=500)
    client_id: str = Field(max_length=255)
    client_secret_encrypted: str
    enabled: bool = False
    # Just-in-time membership: people of a verified domain join on first sign-in.
    jit: bool = False
    default_role: Role = Field(default=Role.member, sa_type=String(16))


class SsoDomain(TenantOwned, table=True):
    """An email domain a workspace claims for SSO; it counts once its DNS TXT record is seen."""

    __tablename__ = "sso_domain"
    __table_args__ = (UniqueConstraint("tenant_id", "domain", name="uq_sso_domain_tenant"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    domain: str = Field(max_length=253, index=True)
    token: str = Field(max_length=64)
    verified_at: datetime | None = None


# ---- audit ------------------------------------------------------------------------------


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
    diff: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())


# ---- product catalogues ------------------------------------------------------------------


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
    config: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    secrets_encrypted: str | None = None
    schedule: CatalogueSchedule = Field(default=CatalogueSchedule.off, sa_type=String(16))
    next_sync_at: datetime | None = Field(default=None, index=True)
    status: str = Field(default="new", max_length=16)  # new | queued | syncing | ready | failed
    product_count: int = 0
    skipped_count: int = 0
    # [{"id": external id or None, "reason": ...}], the first few of the last sync.
    skipped: list[dict[str, Any]] = Field(default_factory=list, sa_column=_json_column())
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
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
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


# ---- actions (tool calling) -------------------------------------------------------------


class WidgetAction(TenantOwned, table=True):
    """An owner-defined HTTP action a widget's model may call (app.services.actions), or
    the switch of a built-in one (`builtin` true: only name/enabled/changes_something count)."""

    __tablename__ = "widget_action"
    __table_args__ = (UniqueConstraint("widget_id", "name", name="uq_widget_action_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    widget_id: str = Field(foreign_key="widget.id", index=True, max_length=32, ondelete="CASCADE")
    name: str = Field(max_length=64)  # [a-z_][a-z0-9_]{0,63}
    builtin: bool = False
    description: str = Field(default="", max_length=1000)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    method: str = Field(default="GET", max_length=8)
    url_template: str = Field(default="", max_length=2000)
    # Header names in the clear; the whole {name: value} map is one Fernet token.
    header_names: list[str] = Field(default_factory=list, sa_column=_json_column())
    headers_encrypted: str | None = None
    changes_something: bool = False  # the visitor confirms in the widget before it runs
    enabled: bool = True
    timeout_s: float = 10.0


class ActionConfirmation(TenantOwned, table=True):
    """A change-action the model (or the visitor's "Add to cart") asked for, waiting for
    the visitor's confirm. Bound to its conversation, action and exact arguments; the
    visitor holds an opaque token whose keyed hash is the lookup key; used once."""

    __tablename__ = "action_confirmation"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    conversation_id: str = Field(
        foreign_key="conversation.id", index=True, max_length=32, ondelete="CASCADE"
    )
    widget_id: str = Field(foreign_key="widget.id", max_length=32, ondelete="CASCADE")
    action_name: str = Field(max_length=64)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=_json_column())
    arguments_digest: str = Field(max_length=64)
    summary: str = Field(default="", max_length=500)
    status: str = Field(default="pending", max_length=16)  # pending|running|done|failed|cancelled
    expires_at: datetime
    result: str | None = Field(default=None, max_length=2000)


class Intent(TenantOwned, table=True):
    """One of a workspace's intents (app.services.intents): shared by its widgets in
    `intent`/`hybrid` mode; seeded from app.rag.intents.DEFAULT_INTENTS on first use."""

    __table_args__ = (UniqueConstraint("tenant_id", "name", name="uq_intent_tenant_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=60)
    examples: list[str] = Field(default_factory=list, sa_column=_json_column())
    keywords: list[str] = Field(default_factory=list, sa_column=_json_column())
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


TENANT_TABLES: tuple[type[TenantOwned], ...] = (
    Membership,
    AuthSession,
    Invitation,
    Widget,
    ApiKey,
    Document,
    IngestJob,
    Website,
    WebPage,
    CrawlJob,
    QAPair,
    Conversation,
    Message,
    UsageDaily,
    ConversationNote,
    StaffPresence,
    Lead,
    WebhookEndpoint,
    WebhookDelivery,
    WorkspaceSso,
    SsoDomain,
    Catalogue,
    CatalogueProduct,
    CatalogueJob,
    WidgetAction,
    ActionConfirmation,
    Intent,
    IntentDialogue,
)
