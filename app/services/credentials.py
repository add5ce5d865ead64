"""LLM provider credentials: the instance's (settings) overlaid with the tenant's own,
which are stored encrypted and never shown back (only whether set, and the last 4)."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from app import security
from app.models import Tenant
from app.rag.answer import ProviderCredentials
from app.settings import Settings, get_settings

FIELDS = (
    "openai_key",
    "openai_base_url",
    "anthropic_key",
    "anthropic_base_url",
    "compat_base_url",
    "compat_key",
    "gemini_key",
    "gemini_base_url",
)
SECRET_FIELDS = ("openai_key", "anthropic_key", "compat_key", "gemini_key")


def _tenant_values(tenant: Tenant) -> dict[str, str]:
    if not tenant.credentials_encrypted:
        return {}
    data = json.loads(security.decrypt_secret(tenant.credentials_encrypted))
    return {k: v for k, v in data.items() if k in FIELDS and isinstance(v, str) and v}


def stored_values(tenant: Tenant) -> dict[str, str]:
    """The workspace's own stored fields, decrypted (for diffs that mask them again)."""
    return _tenant_values(tenant)


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


def credentials_for(tenant: Tenant, settings: Settings | None = None) -> ProviderCredentials:
    s = settings or get_settings()
    merged: dict[str, str | None] = {
        "openai_key": _secret(s.openai_api_key),
        "openai_base_url": s.openai_base_url,
        "anthropic_key": _secret(s.anthropic_api_key),
        "anthropic_base_url": s.anthropic_base_url,
        "gemini_key": _secret(s.gemini_api_key),
        "gemini_base_url": s.gemini_base_url,
    }
    merged.update(_tenant_values(tenant))
    return ProviderCredentials(**{k: merged.get(k) for k in FIELDS})


def secrets_of(creds: ProviderCredentials) -> list[str]:
    """Keys an answer must never contain (fed to the leak guard)."""
    return [v for v in (getattr(creds, f) for f in SECRET_FIELDS) if v]


def set_credentials(session: Session, tenant: Tenant, updates: dict[str, str | None]) -> None:
    """Merge updates (None or "" clears a field) and store the result encrypted."""
    unknown = set(updates) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown credential fields: {sorted(unknown)}")
    values = _tenant_values(tenant)
    for key, value in updates.items():
        if value:
            values[key] = value.strip()
        else:
            values.pop(key, None)
    tenant.credentials_encrypted = security.encrypt_secret(json.dumps(values)) if values else None
    session.add(tenant)


def masked_credentials(tenant: Tenant) -> dict[str, str | None]:
    """What the settings page may show: URLs in full, secrets as '•••• last4' or None."""
    values = _tenant_values(tenant)
    return {
        k: (security.mask_secret(values[k]) if k in SECRET_FIELDS else values[k])
        if k in values
        else None
        for k in FIELDS
    }
