"""Provider credentials as the settings page edits them, the default model, and a real
"test connection" call per provider with the workspace's stored credentials."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlmodel import Session

from app.models import Role, Tenant
from app.rag.answer import ProviderError, Timeouts, provider_for
from app.rag.answer_types import AnswerDone, AnswerRequest
from app.rag.llms import select_responder
from app.services import audit, credentials
from app.services.permissions import Action, require

# What the page offers per provider: label, fields (name -> label), model used for the test.
PROVIDERS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "openai": ("OpenAI", ("openai_key",), "gpt-4o-mini"),
    "anthropic": ("Anthropic", ("anthropic_key",), "claude-haiku-4-5"),
    "openai_compatible": ("OpenAI-compatible", ("compat_base_url", "compat_key"), None),
    "gemini": ("Gemini", ("gemini_key",), "gemini-2.5-flash"),
}
EDITABLE = ("openai_key", "anthropic_key", "compat_base_url", "compat_key", "gemini_key")
MAX_SECRET = 500
MAX_URL = 500
MAX_MODEL = 120
TEST_TIMEOUT_S = 20.0
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")


class ProviderSettingsError(ValueError):
    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ConnectionResult:
    ok: bool
    message: str
    model: str = ""
    latency_ms: int = 0


def _clean_url(value: str, field: str) -> str:
    value = value.strip()
    parts = urlsplit(value)
    if len(value) > MAX_URL or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderSettingsError("Enter an http(s) URL, like http://localhost:11434/v1.", field)
    if parts.username or parts.password:
        raise ProviderSettingsError("Put the key in the key field, not in the URL.", field)
    return value.rstrip("/")


def _clean_secret(value: str, field: str) -> str:
    value = value.strip()
    if len(value) > MAX_SECRET or any(c.isspace() for c in value):
        raise ProviderSettingsError("That does not look like an API key.", field)
    return value


def _store(
    session: Session,
    tenant: Tenant,
    updates: dict[str, str | None],
    actor: audit.Actor | None,
    action: str,
) -> None:
    before = credentials.stored_values(tenant)
    credentials.set_credentials(session, tenant, updates)
    # Secret fields are masked by the audit log: the diff says which changed, not to what.
    audit.record(
        session,
        tenant.id,
        actor,
        action,
        "credentials",
        tenant.id,
        before=before,
        after=credentials.stored_values(tenant),
    )


def save_credentials(
    session: Session,
    tenant: Tenant,
    actor_role: Role | str,
    updates: dict[str, str],
    *,
    actor: audit.Actor | None = None,
) -> None:
    """Store the non-empty fields of `updates` (an empty field keeps the saved value)."""
    require(actor_role, Action.manage_credentials)
    clean: dict[str, str | None] = {}
    for field, raw in updates.items():
        if field not in EDITABLE:
            raise ProviderSettingsError(f"Unknown field {field!r}.")
        if not (raw or "").strip():
            continue
        clean[field] = (
            _clean_url(raw, field) if field.endswith("base_url") else _clean_secret(raw, field)
        )
    if not clean:
        raise ProviderSettingsError("Enter a value to save.")
    _store(session, tenant, clean, actor, "credentials.updated")


def clear_provider(
    session: Session,
    tenant: Tenant,
    actor_role: Role | str,
    provider: str,
    *,
    actor: audit.Actor | None = None,
) -> None:
    require(actor_role, Action.manage_credentials)
    if provider not in PROVIDERS:
        raise ProviderSettingsError("Unknown provider.")
    _store(session, tenant, dict.fromkeys(PROVIDERS[provider][1]), actor, "credentials.cleared")


def set_default_model(
    session: Session,
    tenant: Tenant,
    actor_role: Role | str,
    model: str,
    *,
    actor: audit.Actor | None = None,
) -> None:
    """'' means automatic (the tier's default for whichever provider has credentials)."""
    require(actor_role, Action.manage_credentials)
    model = (model or "").strip()
    if model and (len(model) > MAX_MODEL or not _MODEL_NAME.match(model)):
        raise ProviderSettingsError("Use a model name like gpt-4o-mini or llama3.2.", "model")
    before = tenant.default_model
    tenant.default_model = model or None
    session.add(tenant)
    if before != tenant.default_model:
        audit.record(
            session,
            tenant.id,
            actor,
            "workspace.default_model_changed",
            "workspace",
            tenant.id,
            before={"default_model": before},
            after={"default_model": tenant.default_model},
        )


def _test_model(tenant: Tenant, provider: str) -> str | None:
    creds = credentials.credentials_for(tenant)
    chosen = (tenant.default_model or "").strip()
    if chosen and provider_for(chosen, creds) == provider:
        return chosen
    return PROVIDERS[provider][2]


def _explain(err: ProviderError, timeout_s: float) -> str:
    if err.kind == "timeout":
        return f"No answer within {timeout_s:.0f} seconds."
    if err.kind == "connection":
        return "Could not connect to the provider. Check the URL and that the server is up."
    if err.kind == "rate_limit":
        return "The provider is rate limiting this key (HTTP 429). Try again later."
    if err.status in (401, 403):
        return f"The provider refused the key (HTTP {err.status}). Check the key."
    if err.status == 404:
        return "The provider does not know this model (HTTP 404). Check the default model."
    if err.status:
        return f"The provider answered with an error (HTTP {err.status})."
    return "The provider call failed unexpectedly."


async def check_connection(
    tenant: Tenant, actor_role: Role | str, provider: str, timeout_s: float = TEST_TIMEOUT_S
) -> ConnectionResult:
    """Ask the provider for a few tokens with the stored credentials."""
    require(actor_role, Action.manage_credentials)
    if provider not in PROVIDERS:
        raise ProviderSettingsError("Unknown provider.")
    label = PROVIDERS[provider][0]
    model = _test_model(tenant, provider)
    if model is None:
        return ConnectionResult(
            False,
            f"Set a default model that your {label} server serves (e.g. llama3.2), then test.",
        )
    creds = credentials.credentials_for(tenant)
    timeouts = Timeouts(connect=min(5.0, timeout_s), first_token=timeout_s, total=timeout_s)
    responder = select_responder(creds, widget_model=model, timeouts=timeouts)
    if responder is None or responder.provider != provider:
        return ConnectionResult(False, f"No {label} credentials are saved yet.")
    request = AnswerRequest(
        question="Reply with the word OK.", sources=[], model=model, max_tokens=8
    )
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s + 2):
            done: AnswerDone | None = None
            async for event in responder.stream(request):
                if isinstance(event, AnswerDone):
                    done = event
    except ProviderError as err:
        return ConnectionResult(False, _explain(err, timeout_s), model)
    except TimeoutError:
        return ConnectionResult(False, f"No answer within {timeout_s:.0f} seconds.", model)
    latency = int((time.perf_counter() - start) * 1000)
    used = done.model if done else model
    return ConnectionResult(
        True, f"Connected to {label}: {used} answered in {latency} ms.", used, latency
    )
