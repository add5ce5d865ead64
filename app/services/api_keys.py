"""Secret API keys: create (secret shown once), list, revoke, and authenticate a bearer key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select, update

from app.db import TenantScope, cross_tenant
from app.models import ApiKey, Widget, utcnow
from app.security import generate_api_key, parse_api_key, verify_api_key
from app.services import audit

SCOPES = ("chat", "documents", "inbox", "admin")
MAX_KEYS_PER_TENANT = 100
MAX_NAME = 120
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyError(ValueError):
    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CreatedKey:
    key: ApiKey
    secret: str  # the only time the secret exists outside the caller's hands


@dataclass(frozen=True, slots=True)
class KeyIdentity:
    """What an authenticated key may do; `admin` implies every scope."""

    key_id: str
    tenant_id: str
    widget_id: str | None
    scopes: frozenset[str]
    created_by: str | None = None  # the person an `inbox` key acts as (staff replies)
    prefix: str = ""  # public; names the key in the audit log

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def allows_widget(self, widget_id: str) -> bool:
        return self.widget_id is None or self.widget_id == widget_id


def _clean_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    cleaned = sorted({s.strip().lower() for s in scopes if s and s.strip()})
    if not cleaned:
        raise ApiKeyError("Choose at least one scope.", "scopes")
    unknown = [s for s in cleaned if s not in SCOPES]
    if unknown:
        raise ApiKeyError(f"Unknown scope: {', '.join(unknown)}.", "scopes")
    return cleaned


def create_key(
    session: Session,
    tenant_id: str,
    name: str,
    scopes: list[str] | tuple[str, ...],
    widget_id: str | None = None,
    created_by: str | None = None,
    actor: audit.Actor | None = None,
) -> CreatedKey:
    scope = TenantScope(session, tenant_id)
    name = (name or "").strip()
    if not name:
        raise ApiKeyError("Give the key a name.", "name")
    if len(name) > MAX_NAME:
        raise ApiKeyError(f"Names are at most {MAX_NAME} characters.", "name")
    cleaned = _clean_scopes(scopes)
    if widget_id:
        scope.get(Widget, widget_id)  # NotFoundError for a foreign or missing widget
    active = scope.all(ApiKey, col(ApiKey.revoked_at).is_(None), limit=MAX_KEYS_PER_TENANT + 1)
    if len(active) >= MAX_KEYS_PER_TENANT:
        raise ApiKeyError(f"A workspace can have at most {MAX_KEYS_PER_TENANT} active keys.")
    new = generate_api_key()
    key = scope.add(
        ApiKey(
            name=name,
            prefix=new.prefix,
            key_hash=new.key_hash,
            scopes=cleaned,
            widget_id=widget_id or None,
            created_by=created_by,
        )
    )
    session.flush()
    audit.record(
        session,
        tenant_id,
        actor,
        "api_key.created",
        "api_key",
        key.id,
        after={"name": name, "prefix": key.prefix, "scopes": cleaned, "widget_id": widget_id},
    )
    session.commit()
    session.refresh(key)
    return CreatedKey(key=key, secret=new.secret)


def list_keys(session: Session, tenant_id: str, include_revoked: bool = True) -> list[ApiKey]:
    scope = TenantScope(session, tenant_id)
    conditions = [] if include_revoked else [col(ApiKey.revoked_at).is_(None)]
    return scope.all(ApiKey, *conditions, order_by=col(ApiKey.created_at).desc())


def revoke_key(
    session: Session, tenant_id: str, key_id: str, *, actor: audit.Actor | None = None
) -> ApiKey:
    key = TenantScope(session, tenant_id).get(ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
        audit.record(
            session,
            tenant_id,
            actor,
            "api_key.revoked",
            "api_key",
            key.id,
            before={"name": key.name, "prefix": key.prefix, "revoked": False},
            after={"name": key.name, "prefix": key.prefix, "revoked": True},
        )
        session.commit()
        session.refresh(key)
    return key


def authenticate_key(
    session: Session, secret: str, now: datetime | None = None
) -> KeyIdentity | None:
    """The key's identity, or None for a malformed, unknown or revoked key.

    Looked up by its public prefix, compared in constant time against the keyed hash;
    last-used is written at most once a minute so hot keys do not write on every call.
    """
    prefix = parse_api_key(secret)
    if prefix is None:
        return None
    with cross_tenant(session, "API key lookup by its public prefix"):
        key = session.exec(select(ApiKey).where(ApiKey.prefix == prefix)).first()
    if key is None or not verify_api_key(secret, key.key_hash) or key.revoked_at is not None:
        return None
    TenantScope(session, key.tenant_id)  # the rest of the request is that workspace's
    now = now or utcnow()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional update: concurrent requests write once, and never move time backwards.
        session.exec(  # type: ignore[call-overload]
            update(ApiKey)
            .where(col(ApiKey.id) == key.id)
            .where(
                col(ApiKey.last_used_at).is_(None)
                | (col(ApiKey.last_used_at) <= now - LAST_USED_RESOLUTION)
            )
            .values(last_used_at=now)
        )
        session.commit()
    return KeyIdentity(
        key_id=key.id,
        tenant_id=key.tenant_id,
        widget_id=key.widget_id,
        scopes=frozenset(key.scopes),
        created_by=key.created_by,
        prefix=key.prefix,
    )
