"""Which models a workspace can pick as its default: asked from each connected provider's
models endpoint, with the known (priced) models as the fallback when a provider cannot be
reached.

Endpoints (GET, the stored credentials, a short timeout, a capped body):
- OpenAI and OpenAI-compatible servers (Ollama, vLLM, LM Studio): `{base}/models`,
  `Authorization: Bearer <key>`, `{"data": [{"id": ...}]}`;
- Anthropic: `{base}/v1/models?limit=1000`, `x-api-key` + `anthropic-version`,
  `{"data": [{"id": ...}]}`;
- Gemini: `{base}/v1beta/models?pageSize=1000` with `x-goog-api-key`,
  `{"models": [{"name": "models/...", "supportedGenerationMethods": [...]}]}`.
Only chat models are offered (no embeddings, speech, image or moderation models).
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlmodel import Session

from app.models import Tenant
from app.rag.pricing import PRICES

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
ANTHROPIC_VERSION = "2023-06-01"
TIMEOUT_S = 5.0
MAX_BODY_BYTES = 2_000_000
MAX_MODELS_PER_PROVIDER = 200
LABELS = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "openai_compatible": "OpenAI-compatible (Ollama, vLLM)",
    "gemini": "Gemini",
}
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,119}$")
# OpenAI lists every model of the account; these are not chat models.
_NOT_CHAT = re.compile(
    r"embedding|whisper|tts|dall-e|davinci|babbage|moderation|transcribe|realtime|audio|"
    r"image|search|computer-use|codex|sora"
)


@dataclass(frozen=True, slots=True)
class ModelOption:
    provider: str
    model: str


@dataclass(slots=True)
class Catalog:
    options: list[ModelOption] = field(default_factory=list)
    # Providers that could not be listed, with why (their known models are offered instead).
    unreachable: dict[str, str] = field(default_factory=dict)


class CatalogError(Exception):
    """One provider's list could not be read."""


def known_models(provider: str) -> list[str]:
    """The priced models of a provider (app/rag/pricing.py), the offline fallback."""
    prefixes = {
        "openai": ("gpt-", "o3", "o4"),
        "anthropic": ("claude-",),
        "gemini": ("gemini-",),
    }.get(provider, ())
    return sorted(m for m in PRICES if m.startswith(prefixes)) if prefixes else []


def connected_providers(creds: Any) -> list[str]:
    """Providers with credentials, in the settings page's order."""
    found = []
    if getattr(creds, "openai_key", None):
        found.append("openai")
    if getattr(creds, "anthropic_key", None):
        found.append("anthropic")
    if getattr(creds, "compat_base_url", None):
        found.append("openai_compatible")
    if getattr(creds, "gemini_key", None):
        found.append("gemini")
    return found


def workspace_providers(session: Session, tenant_id: str) -> list[str]:
    """Providers the workspace's answers can use (its own keys or the instance's)."""
    from app.services import credentials

    tenant = session.get(Tenant, tenant_id)
    return connected_providers(credentials.credentials_for(tenant)) if tenant else []


async def _get_json(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], params: dict[str, Any]
) -> Any:
    try:
        async with client.stream("GET", url, headers=headers, params=params) as response:
            if response.status_code in (401, 403):
                raise CatalogError(f"the key was refused (HTTP {response.status_code})")
            if response.status_code >= 400:
                raise CatalogError(f"HTTP {response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise CatalogError("the model list is too large")
    except httpx.TimeoutException as exc:
        raise CatalogError("no answer in time") from exc
    except httpx.HTTPError as exc:
        raise CatalogError("could not connect") from exc
    try:
        return json.loads(bytes(body))
    except ValueError as exc:
        raise CatalogError("the answer is not JSON") from exc


def _ids(items: Any, key: str = "id") -> list[str]:
    if not isinstance(items, list):
        raise CatalogError("unexpected answer")
    return [str(item[key]) for item in items if isinstance(item, dict) and key in item]


async def _list_provider(
    client: httpx.AsyncClient, provider: str, creds: Any, gemini_base_url: str
) -> list[str]:
    if provider in ("openai", "openai_compatible"):
        if provider == "openai":
            base, key = getattr(creds, "openai_base_url", None) or OPENAI_BASE_URL, creds.openai_key
        else:
            base, key = creds.compat_base_url, getattr(creds, "compat_key", None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        data = await _get_json(client, base.rstrip("/") + "/models", headers, {})
        models = _ids(data.get("data") if isinstance(data, dict) else None)
        if provider == "openai":
            models = [m for m in models if not _NOT_CHAT.search(m)]
        return models
    if provider == "anthropic":
        base = getattr(creds, "anthropic_base_url", None) or ANTHROPIC_BASE_URL
        headers = {"x-api-key": creds.anthropic_key, "anthropic-version": ANTHROPIC_VERSION}
        data = await _get_json(client, base.rstrip("/") + "/v1/models", headers, {"limit": 1000})
        return _ids(data.get("data") if isinstance(data, dict) else None)
    if provider == "gemini":
        headers = {"x-goog-api-key": creds.gemini_key}
        url = gemini_base_url.rstrip("/") + "/v1beta/models"
        data = await _get_json(client, url, headers, {"pageSize": 1000})
        items = data.get("models") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise CatalogError("unexpected answer")
        return [
            str(item["name"]).removeprefix("models/")
            for item in items
            if isinstance(item, dict)
            and "name" in item
            and "generateContent" in (item.get("supportedGenerationMethods") or ["generateContent"])
            and "embedding" not in str(item["name"])
        ]
    raise CatalogError("unknown provider")


async def list_models(
    creds: Any, *, timeout_s: float = TIMEOUT_S, gemini_base_url: str = GEMINI_BASE_URL
) -> Catalog:
    """The models of every connected provider, asked concurrently; a provider that cannot
    be reached contributes its known models and is named in `unreachable`."""
    providers = connected_providers(creds)
    catalog = Catalog()
    if not providers:
        return catalog
    timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0))
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        results = await asyncio.gather(
            *(_list_provider(client, p, creds, gemini_base_url) for p in providers),
            return_exceptions=True,
        )
    for provider, result in zip(providers, results, strict=True):
        if isinstance(result, BaseException):
            reason = str(result) if isinstance(result, CatalogError) else "the request failed"
            catalog.unreachable[provider] = reason
            models = known_models(provider)
        else:
            models = result
        clean = sorted({m for m in models if _MODEL_ID.match(m)})[:MAX_MODELS_PER_PROVIDER]
        catalog.options += [ModelOption(provider, m) for m in clean]
    return catalog
