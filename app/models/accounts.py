"""Workspaces, people and their ways in: tenants, users, memberships, browser sessions,
invitations, mailed single-use tokens and two-factor recovery codes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import TenantOwned, Timestamped, json_column, new_id, utcnow


class Tier(StrEnum):
    free = "free"
    paid = "paid"


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    member = "member"


class Tenant(Timestamped, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=120)
    tier: Tier = Field(default=Tier.free, sa_type=String(16))
    default_model: str | None = Field(default=None, max_length=120)
    # Provider credentials as one Fernet token (see app.security.encrypt_secret).
    credentials_encrypted: str | None = None
    # Staffed hours for human handoff: {"timezone": "Europe/Paris", "days": {"mon":
    # ["09:00", "17:00"], ...}}; empty = always open (see app.services.presence).
    opening_hours: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
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
