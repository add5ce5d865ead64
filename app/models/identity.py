"""Sign-in through an identity provider: linked provider accounts, redirects in flight,
and a workspace's own OpenID Connect provider with the email domains it claims."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.accounts import Role
from app.models.base import TenantOwned, new_id, utcnow


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
