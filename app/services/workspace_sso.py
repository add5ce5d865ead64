"""Workspace single sign-on over OpenID Connect (Okta, Entra ID, Keycloak, Google Workspace…).

Owners set the issuer (its discovery document is fetched to check it), a client id and
secret (stored encrypted), and claim email domains. A domain counts once its DNS TXT record
`_chatconnect.<domain>` holds `chatconnect-verify=<token>`, and only one workspace can hold
a verified domain. With SSO enabled, people of a verified domain sign in through the
provider; their password login is refused, except for the workspace's owners (break-glass).
Just-in-time membership (optional) adds newcomers with the default role.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlmodel import Session, col, select

from app import security
from app.db import TenantScope, cross_tenant
from app.models import Membership, Role, SsoDomain, User, WorkspaceSso, utcnow
from app.services import audit
from app.services.oauth_providers import OAuthError, Provider, discovery
from app.services.permissions import Action, require
from app.settings import get_settings

PROVIDER_PREFIX = "sso:"
TXT_NAME = "_chatconnect.{domain}"
TXT_VALUE = "chatconnect-verify={token}"
MAX_DOMAINS = 20


class SsoError(ValueError):
    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class SsoTarget:
    tenant_id: str
    config: WorkspaceSso


# ---- DNS ------------------------------------------------------------------------------


def _dns_txt(name: str) -> list[str]:
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(name, "TXT", lifetime=5.0)
    except dns.exception.DNSException:
        return []
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]  # type: ignore[attr-defined]


def _txt_records(name: str) -> list[str]:
    """TXT values at `name`: SSO_DNS_TEST_RECORDS first (local runs), then real DNS.

    The setting is JSON, or `@/path/to/file.json` to re-read a file you edit as you go."""
    overrides = get_settings().sso_dns_test_records
    if overrides:
        text = Path(overrides[1:]).read_text() if overrides.startswith("@") else overrides
        table = json.loads(text or "{}")
        return list(table.get(name, []))
    return txt_resolver(name)


txt_resolver: Callable[[str], list[str]] = _dns_txt  # tests may point this elsewhere


# ---- configuration ----------------------------------------------------------------------


def _clean_issuer(value: str) -> str:
    value = (value or "").strip().rstrip("/")
    parts = urlsplit(value)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if len(value) > 500 or not parts.netloc or parts.username or parts.password:
        raise SsoError("Enter the issuer URL, like https://example.okta.com.", "issuer")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise SsoError("The issuer must be an https:// URL.", "issuer")
    return value


def get_config(session: Session, tenant_id: str) -> WorkspaceSso | None:
    return session.exec(TenantScope(session, tenant_id).select(WorkspaceSso)).first()


def configure(
    session: Session,
    tenant_id: str,
    actor_role: Role | str,
    actor: audit.Actor,
    *,
    issuer: str,
    client_id: str,
    client_secret: str = "",
    enabled: bool = False,
    jit: bool = False,
    default_role: str = "member",
) -> WorkspaceSso:
    """Save the provider (an empty secret keeps the stored one); checks its discovery."""
    require(actor_role, Action.manage_sso)
    scope = TenantScope(session, tenant_id)
    issuer = _clean_issuer(issuer)
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 255:
        raise SsoError("Enter the client id the provider gave you.", "client_id")
    try:
        role = Role(default_role)
    except ValueError as exc:
        raise SsoError("Choose admin or member.", "default_role") from exc
    if role == Role.owner:
        raise SsoError("New people cannot join as owners.", "default_role")
    current = get_config(session, tenant_id)
    secret = (client_secret or "").strip()
    if not secret and current is None:
        raise SsoError("Enter the client secret.", "client_secret")
    probe = Provider("sso", "SSO", "oidc", client_id, secret or "x", issuer=issuer)
    try:
        discovery(probe)
    except OAuthError as exc:
        raise SsoError(
            "Could not read the provider's discovery document at "
            f"{issuer}/.well-known/openid-configuration.",
            "issuer",
        ) from exc
    before = _public(current) if current else {}
    row = current or WorkspaceSso(issuer=issuer, client_id=client_id, client_secret_encrypted="")
    row.issuer, row.client_id = issuer, client_id
    if secret:
        row.client_secret_encrypted = security.encrypt_secret(secret)
    row.enabled, row.jit, row.default_role = bool(enabled), bool(jit), role
    scope.add(row)
    after = _public(row) | ({"client_secret": "changed"} if secret else {})
    audit.record(
        session,
        tenant_id,
        actor,
        "sso.configured",
        "workspace",
        tenant_id,
        before=before,
        after=after,
    )
    session.flush()
    return row


def _public(row: WorkspaceSso) -> dict[str, object]:
    return {
        "issuer": row.issuer,
        "client_id": row.client_id,
        "enabled": row.enabled,
        "jit": row.jit,
        "default_role": str(row.default_role),
    }


def normalize_domain(value: str) -> str:
    domain = (value or "").strip().lower().lstrip("@").rstrip(".")
    labels = domain.split(".")
    valid = (
        len(labels) >= 2
        and len(domain) <= 253
        and all(0 < len(p) <= 63 and p.replace("-", "").isalnum() for p in labels)
    )
    if not valid:
        raise SsoError("Enter a domain like example.com.", "domain")
    return domain


def add_domain(
    session: Session, tenant_id: str, actor_role: Role | str, domain: str, actor: audit.Actor
) -> SsoDomain:
    require(actor_role, Action.manage_sso)
    scope = TenantScope(session, tenant_id)
    clean = normalize_domain(domain)
    existing = scope.all(SsoDomain, limit=MAX_DOMAINS + 1)
    if any(d.domain == clean for d in existing):
        raise SsoError("This domain is already listed.", "domain")
    if len(existing) >= MAX_DOMAINS:
        raise SsoError(f"A workspace can claim at most {MAX_DOMAINS} domains.", "domain")
    row = scope.add(SsoDomain(domain=clean, token=secrets.token_hex(16)))
    session.flush()
    audit.record(
        session, tenant_id, actor, "sso.domain_added", "sso_domain", row.id, after={"domain": clean}
    )
    return row


def txt_instructions(row: SsoDomain) -> tuple[str, str]:
    return TXT_NAME.format(domain=row.domain), TXT_VALUE.format(token=row.token)


def verify_domain(
    session: Session, tenant_id: str, actor_role: Role | str, domain_id: str, actor: audit.Actor
) -> SsoDomain:
    require(actor_role, Action.manage_sso)
    row = TenantScope(session, tenant_id).get(SsoDomain, domain_id)
    if row.verified_at is not None:
        return row
    with cross_tenant(session, "is this domain verified by another workspace"):
        taken = session.exec(
            select(SsoDomain).where(
                SsoDomain.domain == row.domain,
                col(SsoDomain.verified_at).is_not(None),
                SsoDomain.tenant_id != tenant_id,
            )
        ).first()
    if taken is not None:
        raise SsoError("Another workspace has already verified this domain.", "domain")
    name, value = txt_instructions(row)
    if value not in _txt_records(name):
        raise SsoError(f"No TXT record {value} found at {name} yet. DNS can take a while.")
    row.verified_at = utcnow()
    session.add(row)
    audit.record(
        session,
        tenant_id,
        actor,
        "sso.domain_verified",
        "sso_domain",
        row.id,
        before={"verified": False},
        after={"verified": True, "domain": row.domain},
    )
    return row


def remove_domain(
    session: Session, tenant_id: str, actor_role: Role | str, domain_id: str, actor: audit.Actor
) -> None:
    require(actor_role, Action.manage_sso)
    row = TenantScope(session, tenant_id).get(SsoDomain, domain_id)
    audit.record(
        session,
        tenant_id,
        actor,
        "sso.domain_removed",
        "sso_domain",
        row.id,
        before={"domain": row.domain},
    )
    session.delete(row)


def list_domains(session: Session, tenant_id: str) -> list[SsoDomain]:
    return TenantScope(session, tenant_id).all(SsoDomain, order_by=col(SsoDomain.created_at))


# ---- sign-in ----------------------------------------------------------------------------


def target_for_email(session: Session, email: str) -> SsoTarget | None:
    """The workspace whose enabled SSO covers this address's verified domain, if any."""
    domain = email.rpartition("@")[2].lower()
    if not domain:
        return None
    with cross_tenant(session, "which workspace's SSO covers an email domain"):
        rows = session.exec(
            select(SsoDomain, WorkspaceSso)
            .join(WorkspaceSso, col(WorkspaceSso.tenant_id) == col(SsoDomain.tenant_id))
            .where(
                SsoDomain.domain == domain,
                col(SsoDomain.verified_at).is_not(None),
                col(WorkspaceSso.enabled).is_(True),
            )
        ).first()
    if rows is None:
        return None
    domain_row, config = rows
    return SsoTarget(domain_row.tenant_id, config)


def provider_for(config: WorkspaceSso) -> Provider:
    return Provider(
        f"{PROVIDER_PREFIX}{config.tenant_id}",
        "SSO",
        "oidc",
        config.client_id,
        security.decrypt_secret(config.client_secret_encrypted),
        issuer=config.issuer,
    )


def provider_by_name(session: Session, name: str) -> Provider | None:
    if not name.startswith(PROVIDER_PREFIX):
        return None
    tenant_id = name.removeprefix(PROVIDER_PREFIX)
    config = get_config(session, tenant_id) if tenant_id else None
    return provider_for(config) if config is not None and config.enabled else None


def password_refused(session: Session, user: User) -> bool:
    """True when SSO covers this account's domain and it is not an owner there (owners
    keep a break-glass password login)."""
    target = target_for_email(session, user.email)
    if target is None:
        return False
    membership = session.exec(
        TenantScope(session, target.tenant_id)
        .select(Membership)
        .where(Membership.user_id == user.id)
    ).first()
    return membership is None or membership.role != Role.owner
