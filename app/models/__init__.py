"""Database tables (SQLModel). Every tenant-owned row carries an indexed `tenant_id`.

One module per area (accounts, identity, widgets, knowledge, websites, conversations,
handoff, webhooks, catalogues, actions, intents, usage, mail, audit; shared bases in
`base`); import from `app.models`, which re-exports every table and enum. Importing this
package registers every table on `SQLModel.metadata` (Alembic's env.py relies on it).

Times are aware UTC (`utcnow()`); SQLModel's UTCDateTime round-trips them on SQLite too.
Changing a table means a new Alembic revision: `make migration m="what changed"`.
"""

from __future__ import annotations

from app.models.accounts import (
    AccountToken,
    AuthSession,
    Invitation,
    Membership,
    RecoveryCode,
    Role,
    Tenant,
    Tier,
    TokenPurpose,
    User,
)
from app.models.actions import (
    ActionConfirmation,
    WidgetAction,
)
from app.models.audit import AuditEvent
from app.models.base import (
    JobStatus,
    TenantOwned,
    Timestamped,
    new_id,
    utcnow,
)
from app.models.catalogues import (
    Catalogue,
    CatalogueJob,
    CatalogueProduct,
    CatalogueSchedule,
)
from app.models.conversations import (
    Conversation,
    Message,
)
from app.models.handoff import (
    ConversationNote,
    Lead,
    LeadStatus,
    StaffPresence,
)
from app.models.identity import (
    OAuthState,
    SsoDomain,
    UserIdentity,
    WorkspaceSso,
)
from app.models.intents import (
    Intent,
    IntentDialogue,
)
from app.models.knowledge import (
    Document,
    DocumentStatus,
    IngestJob,
    QAPair,
)
from app.models.mail import (
    EmailOutbox,
    MailStatus,
)
from app.models.usage import UsageDaily
from app.models.webhooks import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.models.websites import (
    CrawlJob,
    WebPage,
    Website,
)
from app.models.widgets import (
    ApiKey,
    Widget,
)

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


__all__ = [
    "TENANT_TABLES",
    "AccountToken",
    "ActionConfirmation",
    "ApiKey",
    "AuditEvent",
    "AuthSession",
    "Catalogue",
    "CatalogueJob",
    "CatalogueProduct",
    "CatalogueSchedule",
    "Conversation",
    "ConversationNote",
    "CrawlJob",
    "DeliveryStatus",
    "Document",
    "DocumentStatus",
    "EmailOutbox",
    "IngestJob",
    "Intent",
    "IntentDialogue",
    "Invitation",
    "JobStatus",
    "Lead",
    "LeadStatus",
    "MailStatus",
    "Membership",
    "Message",
    "OAuthState",
    "QAPair",
    "RecoveryCode",
    "Role",
    "SsoDomain",
    "StaffPresence",
    "Tenant",
    "TenantOwned",
    "Tier",
    "Timestamped",
    "TokenPurpose",
    "UsageDaily",
    "User",
    "UserIdentity",
    "WebPage",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Website",
    "Widget",
    "WidgetAction",
    "WorkspaceSso",
    "new_id",
    "utcnow",
]
