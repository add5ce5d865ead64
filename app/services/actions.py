"""Actions a widget's model may call: the owner's definitions (create, update, delete,
built-in switches), validated and audited.

An owner action is an HTTP request: method, a URL template whose `{param}` placeholders
are filled (URL-encoded) from the call's arguments in the path and query only, headers
whose values are stored encrypted and never shown back, a JSON schema for the arguments,
and whether it changes something (then the visitor confirms in the widget before it runs:
app.services.action_confirm). Running actions is app.services.action_runtime's job.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jsonschema_rs
from sqlmodel import Session, col

from app.db import TenantScope
from app.models import Widget, WidgetAction
from app.security import decrypt_secret, encrypt_secret
from app.services import audit, outbound
from app.services.action_builtins import BUILTINS
from app.services.permissions import Action, require

NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,64}$")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_SCHEMA_BYTES = 8 * 1024
MAX_ACTIONS = 20  # per widget, built-ins included
MAX_HEADERS = 10
MIN_TIMEOUT_S, MAX_TIMEOUT_S = 1.0, 30.0
MASK = "••••"
# Headers a tenant may not set: they would change how the request is routed or framed.
FORBIDDEN_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "cookie", "proxy-authorization"}
)
EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


class ActionError(ValueError):
    """A definition that cannot be stored; `field` names the form field."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(slots=True)
class ActionInput:
    name: str
    description: str = ""
    parameters: dict[str, Any] | str | None = None  # a dict or its JSON text
    method: str = "GET"
    url_template: str = ""
    # Header values: None keeps the stored value (write-only fields), "" removes it.
    headers: dict[str, str | None] | None = None
    changes_something: bool = False
    enabled: bool = True
    timeout_s: float = 10.0


# ---- validation --------------------------------------------------------------------------


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME.match(name):
        raise ActionError(
            "Use 1-64 lower-case letters, digits and underscores, starting with a letter.",
            "name",
        )
    return name


def check_parameters(raw: dict[str, Any] | str | None) -> dict[str, Any]:
    """An object JSON schema (valid per its draft), at most MAX_SCHEMA_BYTES."""
    if raw in (None, ""):
        return dict(EMPTY_SCHEMA)
    if isinstance(raw, str):
        if len(raw.encode()) > MAX_SCHEMA_BYTES:
            raise ActionError(
                f"The schema is larger than {MAX_SCHEMA_BYTES // 1024} KB.", "parameters"
            )
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ActionError(f"Not valid JSON: {exc}", "parameters") from exc
    if not isinstance(raw, dict):
        raise ActionError("The parameters must be a JSON object schema.", "parameters")
    if len(json.dumps(raw).encode()) > MAX_SCHEMA_BYTES:
        raise ActionError(f"The schema is larger than {MAX_SCHEMA_BYTES // 1024} KB.", "parameters")
    if raw.get("type") != "object":
        raise ActionError('The schema must have "type": "object".', "parameters")
    if not isinstance(raw.get("properties", {}), dict):
        raise ActionError('"properties" must be an object.', "parameters")
    try:
        jsonschema_rs.meta.validate(raw)
        jsonschema_rs.validator_for(raw)
    except Exception as exc:  # ValidationError / ValueError / ReferencingError
        raise ActionError(f"Not a valid JSON schema: {str(exc)[:200]}", "parameters") from exc
    if "$ref" in json.dumps(raw):
        raise ActionError("References ($ref) are not supported.", "parameters")
    return raw


def placeholders(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


def check_url_template(template: str, schema: dict[str, Any]) -> str:
    template = (template or "").strip()
    try:
        names = placeholders(template)
    except ValueError as exc:
        raise ActionError(f"The URL template is not valid: {exc}", "url_template") from exc
    for name in names:
        if not NAME.match(name):
            raise ActionError(f"{{{name}}} is not a parameter name.", "url_template")
        if name not in schema.get("properties", {}):
            raise ActionError(f"{{{name}}} is not one of the parameters.", "url_template")
    probe = template.format(**{n: "x" for n in names})
    other = template.format(**{n: "y" for n in names})
    if (urlsplit(probe).scheme, urlsplit(probe).netloc) != (
        urlsplit(other).scheme,
        urlsplit(other).netloc,
    ):
        raise ActionError("Placeholders go in the path or the query, not the host.", "url_template")
    try:
        outbound.vet_url(probe)
    except outbound.OutboundError as exc:
        raise ActionError(str(exc), "url_template") from exc
    return template


def check_headers(headers: dict[str, str | None] | None, stored: dict[str, str]) -> dict[str, str]:
    out = dict(stored)
    for name, value in (headers or {}).items():
        name = name.strip()
        if not HEADER_NAME.match(name) or name.lower() in FORBIDDEN_HEADERS:
            raise ActionError(f"{name!r} cannot be set as a header.", "headers")
        if value is None:
            continue  # keep the stored secret
        if value == "":
            out.pop(name, None)
        elif "\n" in value or "\r" in value or len(value) > 2000:
            raise ActionError(f"The value of {name} is not valid.", "headers")
        else:
            out[name] = value
    if len(out) > MAX_HEADERS:
        raise ActionError(f"At most {MAX_HEADERS} headers.", "headers")
    return out


# ---- storage -----------------------------------------------------------------------------


def stored_headers(action: WidgetAction) -> dict[str, str]:
    """Decrypted header values: only for making the request, never for a page or a log."""
    if not action.headers_encrypted:
        return {}
    return dict(json.loads(decrypt_secret(action.headers_encrypted)))


def masked_headers(action: WidgetAction) -> dict[str, str]:
    return {name: MASK for name in action.header_names}


def _audited(action: WidgetAction) -> dict[str, Any]:
    return {
        "name": action.name,
        "builtin": action.builtin,
        "description": action.description,
        "parameters": action.parameters,
        "method": action.method,
        "url_template": action.url_template,
        "headers": sorted(action.header_names),  # names only: values are secrets
        "changes_something": action.changes_something,
        "enabled": action.enabled,
        "timeout_s": action.timeout_s,
    }


def list_actions(session: Session, tenant_id: str, widget_id: str) -> list[WidgetAction]:
    scope = TenantScope(session, tenant_id)
    scope.get(Widget, widget_id)  # 404 for another tenant's widget
    return scope.all(
        WidgetAction, WidgetAction.widget_id == widget_id, order_by=col(WidgetAction.name)
    )


def _apply(action: WidgetAction, data: ActionInput) -> None:
    schema = check_parameters(data.parameters)
    method = (data.method or "GET").upper()
    if method not in METHODS:
        raise ActionError(f"The method must be one of {', '.join(METHODS)}.", "method")
    if not (data.description or "").strip():
        raise ActionError("Describe what the action does (the model reads it).", "description")
    timeout = float(data.timeout_s or 10.0)
    if not MIN_TIMEOUT_S <= timeout <= MAX_TIMEOUT_S:
        raise ActionError(f"The timeout is {MIN_TIMEOUT_S:g}-{MAX_TIMEOUT_S:g} s.", "timeout_s")
    headers = check_headers(data.headers, stored_headers(action))
    action.description = data.description.strip()[:1000]
    action.parameters = schema
    action.method = method
    action.url_template = check_url_template(data.url_template, schema)
    action.header_names = sorted(headers)
    action.headers_encrypted = encrypt_secret(json.dumps(headers)) if headers else None
    action.changes_something = bool(data.changes_something)
    action.enabled = bool(data.enabled)
    action.timeout_s = timeout


def create_action(
    session: Session,
    tenant_id: str,
    role: str,
    widget_id: str,
    data: ActionInput,
    *,
    actor: audit.Actor | None = None,
) -> WidgetAction:
    require(role, Action.manage_actions)
    existing = list_actions(session, tenant_id, widget_id)
    name = check_name(data.name)
    if name in BUILTINS:
        raise ActionError(f"{name} is a built-in action's name.", "name")
    if any(a.name == name for a in existing):
        raise ActionError(f"This widget already has an action named {name}.", "name")
    if len(existing) >= MAX_ACTIONS:
        raise ActionError(f"A widget can have at most {MAX_ACTIONS} actions.")
    action = WidgetAction(widget_id=widget_id, name=name)
    _apply(action, data)
    TenantScope(session, tenant_id).add(action)
    session.flush()
    audit.record(
        session, tenant_id, actor, "action.created", "action", action.id, after=_audited(action)
    )
    return action


def update_action(
    session: Session,
    tenant_id: str,
    role: str,
    action_id: str,
    data: ActionInput,
    *,
    actor: audit.Actor | None = None,
) -> WidgetAction:
    require(role, Action.manage_actions)
    action = TenantScope(session, tenant_id).get(WidgetAction, action_id)
    if action.builtin:
        raise ActionError("Built-in actions are switched on or off, not edited.")
    before = _audited(action)
    _apply(action, data)
    session.add(action)
    audit.record(
        session, tenant_id, actor, "action.updated", "action", action.id,
        before=before, after=_audited(action),
    )  # fmt: skip
    return action


def delete_action(
    session: Session,
    tenant_id: str,
    role: str,
    action_id: str,
    *,
    actor: audit.Actor | None = None,
) -> None:
    require(role, Action.manage_actions)
    scope = TenantScope(session, tenant_id)
    action = scope.get(WidgetAction, action_id)
    before = _audited(action)
    session.delete(action)
    audit.record(session, tenant_id, actor, "action.deleted", "action", action_id, before=before)


def set_builtin(
    session: Session,
    tenant_id: str,
    role: str,
    widget_id: str,
    name: str,
    enabled: bool,
    *,
    actor: audit.Actor | None = None,
) -> WidgetAction:
    """Switch a built-in action on or off for a widget (its row is made on first use)."""
    require(role, Action.manage_actions)
    builtin = BUILTINS.get(name)
    if builtin is None:
        raise ActionError(f"There is no built-in action named {name}.", "name")
    existing = {a.name: a for a in list_actions(session, tenant_id, widget_id)}
    action = existing.get(name)
    before = _audited(action) if action else None
    if action is None:
        if len(existing) >= MAX_ACTIONS:
            raise ActionError(f"A widget can have at most {MAX_ACTIONS} actions.")
        action = TenantScope(session, tenant_id).add(
            WidgetAction(
                widget_id=widget_id,
                name=name,
                builtin=True,
                description=builtin.description,
                parameters=builtin.parameters,
                changes_something=builtin.changes_something,
            )
        )
    action.enabled = bool(enabled)
    session.add(action)
    session.flush()
    audit.record(
        session, tenant_id, actor, "action.enabled" if enabled else "action.disabled",
        "action", action.id, before=before, after=_audited(action),
    )  # fmt: skip
    return action
