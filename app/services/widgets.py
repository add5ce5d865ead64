"""Chat widgets: create, read, update, duplicate, delete; validation of their settings."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session, col

from app.db import TenantScope
from app.models import Widget
from app.rag.pricing import PRICES
from app.services import audit
from app.services.escalation import EscalationError, clean_rules

MAX_WIDGETS_PER_TENANT = 50
MAX_STARTERS = 6
MAX_DOMAINS = 50
THEMES = ("light", "dark", "auto")
POSITIONS = ("right", "left")
_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PORT = re.compile(r"^\d{1,5}$")

DEFAULT_APPEARANCE: dict[str, Any] = {
    "primary_color": "#3e63dd",
    "theme": "auto",
    "position": "right",
    "avatar_url": "",
    "title": "Assistant",
}
MODES = ("llm", "intent", "hybrid")  # app.services.intent_router
EDITABLE = {
    "mode",
    "name",
    "enabled",
    "appearance",
    "greeting",
    "starter_questions",
    "placeholder",
    "system_prompt",
    "model",
    "temperature",
    "citations_enabled",
    "unknown_answer",
    "allowed_domains",
    "escalation",
}


class WidgetError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalize_domain(value: str) -> str:
    """'https://Shop.Example.com/path' -> 'shop.example.com'; '*.example.com' stays a wildcard.

    Host names (IDN as punycode), IPv4 addresses and localhost, each with an optional port.
    """
    raw = (value or "").strip().lower()
    if "://" in raw:
        raw = urlsplit(raw).netloc
    raw = raw.split("/")[0]
    if not raw:
        raise WidgetError("Enter a domain like example.com or *.example.com.", "allowed_domains")
    wildcard = raw.startswith("*.")
    host, _, port = (raw[2:] if wildcard else raw).partition(":")
    if port and (not _PORT.match(port) or not 0 < int(port) < 65536):
        raise WidgetError(f"“{value}” has an invalid port.", "allowed_domains")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise WidgetError(f"“{value}” is not a valid domain.", "allowed_domains") from exc
    labels = ascii_host.split(".")
    is_ip = len(labels) == 4 and all(p.isdigit() and int(p) < 256 for p in labels)
    valid = (
        is_ip
        or ascii_host == "localhost"
        or (
            len(labels) >= 2
            and all(_LABEL.match(label) for label in labels)
            and not labels[-1].isdigit()
        )
    )
    if not valid or (wildcard and (is_ip or len(labels) < 2)):
        raise WidgetError(f"“{value}” is not a valid domain.", "allowed_domains")
    return ("*." if wildcard else "") + ascii_host + (f":{port}" if port else "")


def _clean(values: dict[str, Any], current: Widget | None = None) -> dict[str, Any]:
    unknown = set(values) - EDITABLE
    if unknown:
        raise WidgetError(f"Unknown widget fields: {', '.join(sorted(unknown))}.")
    out = dict(values)
    if "name" in out:
        out["name"] = " ".join(str(out["name"] or "").split())[:120]
        if not out["name"]:
            raise WidgetError("Give the widget a name.", "name")
    if "appearance" in out:
        look = {
            **DEFAULT_APPEARANCE,
            **(current.appearance if current else {}),
            **(out["appearance"] or {}),
        }
        if not _HEX.match(str(look["primary_color"])):
            raise WidgetError("Use a hex color like #3e63dd.", "primary_color")
        if look["theme"] not in THEMES:
            raise WidgetError("Theme is light, dark or auto.", "theme")
        if look["position"] not in POSITIONS:
            raise WidgetError("Position is right or left.", "position")
        avatar = str(look.get("avatar_url") or "")
        if avatar and not avatar.startswith("https://"):
            raise WidgetError("The avatar must be an https:// image URL.", "avatar_url")
        look["title"] = str(look.get("title") or "Assistant")[:60]
        out["appearance"] = {k: look[k] for k in DEFAULT_APPEARANCE}
    if "starter_questions" in out:
        starters = [" ".join(str(q).split())[:200] for q in out["starter_questions"] or []]
        out["starter_questions"] = [q for q in starters if q][:MAX_STARTERS]
    if "allowed_domains" in out:
        domains = list(
            dict.fromkeys(
                normalize_domain(d) for d in out["allowed_domains"] or [] if str(d).strip()
            )
        )
        if len(domains) > MAX_DOMAINS:
            raise WidgetError(f"At most {MAX_DOMAINS} domains.", "allowed_domains")
        out["allowed_domains"] = domains
    if "temperature" in out:
        t = float(out["temperature"])
        if not 0 <= t <= 2:
            raise WidgetError("Temperature is between 0 and 2.", "temperature")
        out["temperature"] = t
    for key, limit in (
        ("greeting", 1000),
        ("placeholder", 200),
        ("system_prompt", 8000),
        ("unknown_answer", 1000),
    ):
        if key in out:
            out[key] = str(out[key] or "")[:limit]
    if "escalation" in out:
        try:
            out["escalation"] = clean_rules(
                {**(current.escalation if current else {}), **(out["escalation"] or {})}
            )
        except EscalationError as exc:
            raise WidgetError(str(exc), exc.field or "escalation") from exc
    if "mode" in out and out["mode"] not in MODES:
        raise WidgetError("Mode is llm, intent or hybrid.", "mode")
    if "model" in out:
        out["model"] = (str(out["model"]).strip()[:120] or None) if out["model"] else None
    return out


def _settings_of(widget: Widget) -> dict[str, Any]:
    return {k: getattr(widget, k) for k in sorted(EDITABLE)}


def create_widget(
    session: Session,
    tenant_id: str,
    name: str,
    *,
    actor: audit.Actor | None = None,
    **fields: Any,
) -> Widget:
    scope = TenantScope(session, tenant_id)
    if len(scope.all(Widget, limit=MAX_WIDGETS_PER_TENANT + 1)) >= MAX_WIDGETS_PER_TENANT:
        raise WidgetError(f"A workspace can have at most {MAX_WIDGETS_PER_TENANT} widgets.")
    values = _clean({"name": name, "appearance": fields.pop("appearance", {}), **fields})
    widget = scope.add(Widget(**values))
    session.flush()
    audit.record(
        session, tenant_id, actor, "widget.created", "widget", widget.id, after=_settings_of(widget)
    )
    return widget


def update_widget(
    session: Session,
    tenant_id: str,
    widget_id: str,
    *,
    actor: audit.Actor | None = None,
    **fields: Any,
) -> Widget:
    widget = TenantScope(session, tenant_id).get(Widget, widget_id)
    before = _settings_of(widget)
    for key, value in _clean(fields, widget).items():
        setattr(widget, key, value)
    session.add(widget)
    after = _settings_of(widget)
    if after != before:
        audit.record(
            session,
            tenant_id,
            actor,
            "widget.updated",
            "widget",
            widget.id,
            before=before,
            after=after,
        )
    return widget


def get_widget(session: Session, tenant_id: str, widget_id: str) -> Widget:
    return TenantScope(session, tenant_id).get(Widget, widget_id)


def list_widgets(session: Session, tenant_id: str) -> list[Widget]:
    return TenantScope(session, tenant_id).all(Widget, order_by=col(Widget.created_at))


def duplicate_widget(
    session: Session, tenant_id: str, widget_id: str, *, actor: audit.Actor | None = None
) -> Widget:
    source = get_widget(session, tenant_id, widget_id)
    fields = {k: getattr(source, k) for k in EDITABLE - {"name"}}
    return create_widget(session, tenant_id, f"{source.name} (copy)"[:120], actor=actor, **fields)


def delete_widget(
    session: Session, tenant_id: str, widget_id: str, *, actor: audit.Actor | None = None
) -> None:
    scope = TenantScope(session, tenant_id)
    widget = scope.get(Widget, widget_id)
    audit.record(
        session,
        tenant_id,
        actor,
        "widget.deleted",
        "widget",
        widget.id,
        before={"name": widget.name},
    )
    session.delete(widget)


# ---- what the dashboard editor needs ---------------------------------------------------


def model_choices(current: str | None = None) -> list[str]:
    """Models a widget can pin (priced ones), plus its current model if set elsewhere."""
    names = sorted(PRICES)
    if current and current not in names:
        names.insert(0, current)
    return names


def split_lines(text: str, limit: int, *, commas: bool = False) -> list[str]:
    """A textarea's non-empty lines (and comma-separated parts if `commas`), at most `limit`."""
    lines = (text or "").splitlines()
    items = [part.strip() for line in lines for part in (line.split(",") if commas else [line])]
    return [item for item in items if item][:limit]


def check_domains(text: str) -> list[str]:
    """Normalize a textarea of allowed domains; WidgetError names the first bad entry."""
    entries = split_lines(text, MAX_DOMAINS + 1, commas=True)
    if len(entries) > MAX_DOMAINS:
        raise WidgetError(f"At most {MAX_DOMAINS} domains.", "allowed_domains")
    return list(dict.fromkeys(normalize_domain(entry) for entry in entries))


def embed_snippets(public_url: str, widget_id: str) -> dict[str, str]:
    """The two ways to put a widget on a site: the script loader and a plain iframe."""
    base = public_url.rstrip("/")
    return {
        "script": (
            f'<script src="{base}/embed/widget.js" data-widget-id="{widget_id}" async></script>'
        ),
        "iframe": (
            f'<iframe src="{base}/embed/{widget_id}?mode=inline" title="Chat" '
            'style="width:100%;height:600px;border:0;border-radius:12px" '
            'allow="clipboard-write"></iframe>'
        ),
    }
