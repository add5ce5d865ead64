"""Confirmations for actions that change something: enforced here, on the server.

A change-action the model asks for (or the visitor's "Add to cart" button) never runs
then. A pending confirmation is stored instead: bound to the tenant, the conversation,
the widget, the action and the exact arguments (a digest checked again before running),
valid for CONFIRM_TTL_S, usable once. The widget receives an opaque random token; the
database keeps only its keyed hash. `resolve(...)` runs the action only when the token's
row belongs to the same tenant AND conversation, has not expired, and is claimed from
"pending" by one conditional UPDATE (a replay, a concurrent double click, a token from
another conversation or a forged one are all refused with the same answer).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete as sa_delete
from sqlalchemy import update
from sqlmodel import Session, select

from app.db import TenantScope, session_scope
from app.models import ActionConfirmation, Conversation, Message, utcnow
from app.security import keyed_hash, new_token
from app.services.action_builtins import ActionContext

CONFIRM_TTL_S = 600
MAX_PENDING = 20  # open confirmations per conversation (a clicking visitor makes rows)
_PURPOSE = "action-confirm"
REFUSED = "This confirmation is no longer valid."


class ConfirmationRefusedError(LookupError):
    status_code = 404


@dataclass(frozen=True, slots=True)
class PendingAction:
    """What the widget shows on a confirm card (the token is its only handle)."""

    token: str
    action: str
    summary: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Resolution:
    status: str  # done | failed | cancelled
    text: str  # the line shown to the visitor
    message_id: str = ""


def digest(args: dict[str, Any]) -> str:
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def new_pending(
    ctx: ActionContext, action_name: str, args: dict[str, Any], summary: str
) -> tuple[PendingAction, ActionConfirmation]:
    """A pending confirmation (the row is not stored yet: `store` adds it with the turn,
    because a new conversation's row is only written with its first turn)."""
    token = new_token(24)
    expires = utcnow() + timedelta(seconds=CONFIRM_TTL_S)
    row = ActionConfirmation(
        tenant_id=ctx.tenant_id,
        token_hash=keyed_hash(token, _PURPOSE),
        conversation_id=ctx.conversation_id,
        widget_id=ctx.widget_id,
        action_name=action_name,
        arguments=dict(args),
        arguments_digest=digest(args),
        summary=summary[:500],
        expires_at=expires,
    )
    return PendingAction(token, action_name, summary, expires), row


KEEP_AFTER_EXPIRY = timedelta(days=1)  # then a row goes (its outcome is a message)


def store(session: Session, tenant_id: str, rows: list[ActionConfirmation]) -> None:
    """Add new confirmations; the workspace's long-expired ones are deleted on the way."""
    if not rows:
        return
    scope = TenantScope(session, tenant_id)  # binds the tenant (row-level security)
    session.exec(  # type: ignore[call-overload]
        sa_delete(ActionConfirmation).where(
            ActionConfirmation.tenant_id == tenant_id,
            ActionConfirmation.expires_at < utcnow() - KEEP_AFTER_EXPIRY,
        )
    )
    for row in rows:
        scope.add(row)


def request(
    tenant_id: str, widget_id: str, conversation_id: str, action_name: str, args: dict[str, Any]
) -> PendingAction:
    """A visitor's own request (the card's "Add to cart"): same rules as a model's call —
    the widget must have the action enabled and the arguments must validate."""
    from app.services.action_runtime import load_tools

    tools = {t.name: t for t in load_tools(tenant_id, widget_id)}
    tool = tools.get(action_name)
    if tool is None or tool.validate(args):
        raise ConfirmationRefusedError("This action is not available.")
    with session_scope() as session:
        conversation = TenantScope(session, tenant_id).find(Conversation, conversation_id)
        if conversation is None or conversation.widget_id != widget_id:
            raise ConfirmationRefusedError("This action is not available.")
        if open_count(session, tenant_id, conversation_id) >= MAX_PENDING:
            raise ConfirmationRefusedError("Too many actions are waiting for a confirmation.")
    ctx = ActionContext(tenant_id, widget_id, conversation_id)
    summary = tool.builtin.summary(ctx, args) if tool.builtin and tool.builtin.summary else ""
    pending, row = new_pending(ctx, action_name, args, summary or action_name)
    with session_scope() as session:
        store(session, tenant_id, [row])
    return pending


def open_count(session: Session, tenant_id: str, conversation_id: str) -> int:
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    rows = session.exec(
        select(ActionConfirmation.id).where(
            ActionConfirmation.tenant_id == tenant_id,
            ActionConfirmation.conversation_id == conversation_id,
            ActionConfirmation.status == "pending",
            ActionConfirmation.expires_at > utcnow(),
        )
    ).all()
    return len(rows)


def _claim(tenant_id: str, conversation_id: str, token: str, to: str) -> ActionConfirmation:
    """Move the token's row from pending to `to`, once; else ConfirmationRefusedError."""
    token_hash = keyed_hash(token or "", _PURPOSE)
    with session_scope() as session:
        TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
        row = session.exec(
            select(ActionConfirmation).where(
                ActionConfirmation.token_hash == token_hash,
                ActionConfirmation.tenant_id == tenant_id,
                ActionConfirmation.conversation_id == conversation_id,
            )
        ).first()
        if row is None or row.status != "pending" or row.expires_at <= utcnow():
            raise ConfirmationRefusedError(REFUSED)
        claimed = session.exec(  # type: ignore[call-overload]
            update(ActionConfirmation)
            .where(ActionConfirmation.id == row.id, ActionConfirmation.status == "pending")
            .values(status=to, updated_at=utcnow())
        )
        if claimed.rowcount != 1:
            raise ConfirmationRefusedError(REFUSED)
        session.expunge(row)
        if digest(row.arguments) != row.arguments_digest:
            raise ConfirmationRefusedError(REFUSED)
        return row


def _finish(
    tenant_id: str, row: ActionConfirmation, status: str, text: str, entry: dict[str, Any] | None
) -> str:
    """Record the outcome on the row and as a bot line in the conversation (transcript)."""
    with session_scope() as session:
        scope = TenantScope(session, tenant_id)
        stored = scope.get(ActionConfirmation, row.id)
        stored.status = status
        stored.result = text[:2000]
        session.add(stored)
        conversation = scope.get(Conversation, row.conversation_id)
        message = scope.add(
            Message(
                conversation_id=conversation.id,
                role="assistant",
                text=text,
                tool_calls=[entry] if entry else [],
                model="action",
                provider="action",
                # Our own statement of what the action did (no model, no retrieval): not
                # an answer to flag as resting on weak evidence.
                confidence=1.0,
            )
        )
        conversation.message_count += 1
        conversation.last_message_at = utcnow()
        session.add(conversation)
        session.flush()
        return message.id


async def resolve(tenant_id: str, conversation_id: str, token: str, *, accept: bool) -> Resolution:
    """The visitor's Confirm (accept) or Cancel for a pending action."""
    import asyncio
    import time

    from app.services.action_runtime import load_tools, mask_arguments, run_tool

    row = await asyncio.to_thread(
        _claim, tenant_id, conversation_id, token, "running" if accept else "cancelled"
    )
    if not accept:
        text = "Cancelled: nothing was done."
        mid = await asyncio.to_thread(_finish, tenant_id, row, "cancelled", text, None)
        return Resolution("cancelled", text, mid)
    tools = {t.name: t for t in await asyncio.to_thread(load_tools, tenant_id, row.widget_id)}
    tool = tools.get(row.action_name)
    started = time.perf_counter()
    if tool is None or not tool.changes_something:
        # Switched off (or changed) since it was offered: the confirmation does not carry over.
        text, failed = "This action is no longer available.", True
    else:
        ctx = ActionContext(tenant_id, row.widget_id, conversation_id)
        try:
            result = await run_tool(tool, ctx, row.arguments)
            text, failed = result.content, result.is_error
        except Exception as exc:
            text, failed = f"Error: the action failed ({type(exc).__name__}).", True
    entry = {
        "name": row.action_name,
        "arguments": mask_arguments(row.arguments, tool.secrets if tool else []),
        "status": "error" if failed else "ok",
        "latency_ms": round((time.perf_counter() - started) * 1000),
        "confirmed": True,
    }
    if failed:
        entry["error"] = text.splitlines()[0][:300] if text else "failed"
    line = _visitor_line(row.summary, text, failed)
    status = "failed" if failed else "done"
    mid = await asyncio.to_thread(_finish, tenant_id, row, status, line, entry)
    return Resolution(status, line, mid)


def _visitor_line(summary: str, text: str, failed: bool) -> str:
    """What the visitor reads after Confirm: our words, not the action's raw response."""
    if failed:
        return f"That did not work: {summary or 'the action'} could not be completed."
    if text.startswith("Not added:"):
        return text.removeprefix("Not added:").strip()
    return f"Done: {summary}." if summary else "Done."


def reopen(tenant_id: str, conversation_id: str) -> list[PendingAction]:
    """The conversation's open confirmations with fresh tokens, for the visitor's page after
    a reload (the page lost its tokens; the old ones stop working). Callers must have
    checked that the conversation is the visitor's own."""
    now = utcnow()
    out: list[PendingAction] = []
    with session_scope() as session:
        TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
        rows = session.exec(
            select(ActionConfirmation)
            .where(
                ActionConfirmation.tenant_id == tenant_id,
                ActionConfirmation.conversation_id == conversation_id,
                ActionConfirmation.status == "pending",
                ActionConfirmation.expires_at > now,
            )
            .order_by(ActionConfirmation.created_at)  # type: ignore[arg-type]
            .limit(MAX_PENDING)
        ).all()
        for row in rows:
            token = new_token(24)
            row.token_hash = keyed_hash(token, _PURPOSE)
            session.add(row)
            out.append(PendingAction(token, row.action_name, row.summary, row.expires_at))
    return out
