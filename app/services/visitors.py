"""Anonymous website visitors of an embedded widget.

A visitor has no login. The server resolves the workspace from the widget id (never from
the client) and identifies the visitor by a signed token kept in the chat iframe's
localStorage: `<visitor id>.<HMAC>`, so a client cannot mint ids of its own choosing. A
visitor may read and rate only the messages of a conversation whose id AND visitor id
match what they hold; anything else behaves like a conversation that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from app.db import NotFoundError, TenantScope, cross_tenant
from app.models import Conversation, Message, Widget
from app.security import hashes_equal, keyed_hash, new_token
from app.services import conversations
from app.services.widgets import DEFAULT_APPEARANCE, MAX_STARTERS

_TOKEN_RE = re.compile(r"^([A-Za-z0-9_-]{22,43})\.([0-9a-f]{32})$")
_PURPOSE = "visitor"


@dataclass(frozen=True, slots=True)
class PublicWidget:
    """What the chat page may know about a widget (plus its tenant, kept server-side)."""

    id: str
    tenant_id: str
    enabled: bool
    title: str
    avatar_url: str
    primary_color: str
    theme: str
    position: str
    greeting: str
    starter_questions: list[str]
    placeholder: str
    citations: bool
    allowed_domains: list[str] = field(default_factory=list)
    escalation: dict[str, Any] = field(default_factory=dict)  # handoff rules (button, lead form)


@dataclass(frozen=True, slots=True)
class TranscriptItem:
    id: str
    role: str
    text: str
    sources: list[dict[str, Any]]
    feedback: int | None
    notice: str
    author: str = ""  # staff messages: the person's name as the visitor saw it
    cards: list[dict[str, Any]] = field(default_factory=list)  # product cards shown with it


def find_widget(session: Session, widget_id: str) -> PublicWidget | None:
    """The widget behind a public id; resolving its tenant is the point of this lookup."""
    if not widget_id or len(widget_id) > 64:
        return None
    with cross_tenant(session, "a visitor's widget by its public id"):
        widget = session.get(Widget, widget_id)
    if widget is None:
        return None
    TenantScope(session, widget.tenant_id)  # what follows serves that workspace's visitor
    look = {**DEFAULT_APPEARANCE, **(widget.appearance or {})}
    return PublicWidget(
        id=widget.id,
        tenant_id=widget.tenant_id,
        enabled=widget.enabled,
        title=str(look["title"] or "Assistant"),
        avatar_url=str(look["avatar_url"] or ""),
        primary_color=str(look["primary_color"]),
        theme=str(look["theme"]),
        position=str(look["position"]),
        greeting=widget.greeting,
        starter_questions=list(widget.starter_questions or []),
        placeholder=widget.placeholder,
        citations=widget.citations_enabled,
        allowed_domains=list(widget.allowed_domains or []),
        escalation=dict(widget.escalation or {}),
    )


def framing_domains(session: Session, widget_id: str) -> list[str] | None:
    """Allowed domains of an enabled widget, None when it is missing or disabled."""
    widget = find_widget(session, widget_id)
    return widget.allowed_domains if widget and widget.enabled else None


# ---- visitor tokens --------------------------------------------------------------------


def _signature(visitor_id: str) -> str:
    return keyed_hash(visitor_id, _PURPOSE)[:32]


def issue_visitor_token() -> str:
    visitor_id = new_token(18)  # 24 url-safe characters
    return f"{visitor_id}.{_signature(visitor_id)}"


def visitor_from_token(token: str | None) -> str | None:
    """The visitor id of a token this server issued, else None."""
    match = _TOKEN_RE.match(token or "")
    if not match or not hashes_equal(match.group(2), _signature(match.group(1))):
        return None
    return match.group(1)


# ---- conversations ---------------------------------------------------------------------


def own_conversation(
    session: Session, widget: PublicWidget, conversation_id: str, visitor_id: str
) -> Conversation:
    if not conversation_id or not visitor_id:
        raise NotFoundError("Conversation")
    conversation = session.exec(
        TenantScope(session, widget.tenant_id)
        .select(Conversation)
        .where(
            Conversation.id == conversation_id,
            Conversation.widget_id == widget.id,
            Conversation.visitor_id == visitor_id,
        )
    ).first()
    if conversation is None:
        raise NotFoundError("Conversation")
    return conversation


def transcript(
    session: Session, widget: PublicWidget, conversation_id: str, visitor_id: str
) -> list[TranscriptItem]:
    """The visitor's own conversation, oldest first; NotFoundError for anyone else's.
    Staff replies are part of it; internal notes live elsewhere and never are."""
    conversation = own_conversation(session, widget, conversation_id, visitor_id)
    rows: list[Message] = conversations.messages(session, widget.tenant_id, conversation.id)
    return [
        TranscriptItem(
            id=m.id,
            role=m.role if m.role in ("user", "staff") else "assistant",
            text=m.text,
            sources=list(m.sources or []),
            feedback=m.feedback,
            notice=m.notice or "",
            author=m.author_name or "" if m.role == "staff" else "",
            cards=list(m.cards or []),
        )
        for m in rows
    ]


def rate_answer(
    session: Session,
    widget: PublicWidget,
    conversation_id: str,
    visitor_id: str,
    message_id: str,
    value: int | None,
) -> None:
    """Thumbs up (1), down (-1) or cleared (None) on an answer in the visitor's conversation."""
    conversation = own_conversation(session, widget, conversation_id, visitor_id)
    conversations.set_feedback(
        session, widget.tenant_id, message_id, value, conversation_id=conversation.id
    )


# ---- dashboard live preview --------------------------------------------------------------

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def preview_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """The valid fields of unsaved settings the dashboard posts to its preview; a field
    that is invalid while being typed (half a color) is skipped, not an error."""
    out: dict[str, Any] = {}
    if isinstance(raw.get("title"), str):
        out["title"] = raw["title"].strip()[:60] or "Assistant"
    avatar = raw.get("avatar_url")
    if isinstance(avatar, str) and (not avatar or avatar.startswith("https://")):
        out["avatar_url"] = avatar[:500]
    color = raw.get("primary_color")
    if isinstance(color, str) and _HEX.match(color):
        out["primary_color"] = color
    if raw.get("theme") in ("light", "dark", "auto"):
        out["theme"] = raw["theme"]
    if raw.get("position") in ("left", "right"):
        out["position"] = raw["position"]
    if isinstance(raw.get("greeting"), str):
        out["greeting"] = raw["greeting"][:1000]
    if isinstance(raw.get("placeholder"), str):
        out["placeholder"] = raw["placeholder"][:200]
    starters = raw.get("starter_questions")
    if isinstance(starters, list):
        cleaned = [" ".join(str(q).split())[:200] for q in starters[:50]]
        out["starter_questions"] = [q for q in cleaned if q][:MAX_STARTERS]
    return out
