"""A widget's tools during one chat turn: registry, validation, execution, the call log.

`toolbox_for(tenant, widget, conversation)` loads the widget's enabled actions (built-ins
and the owner's HTTP actions) once per turn. `Toolbox.execute(name, args)` is the one door
the model's calls go through (app.rag.tools hands every call to it):

- a name the widget does not have -> an error result to the model, logged, nothing runs;
- arguments are validated against the action's JSON schema -> errors go back to the model;
- an action that changes something is NOT run: a pending confirmation is created (stored
  with the turn, app.services.action_confirm) and the model is told the visitor must press
  Confirm; only the visitor's confirm runs it;
- otherwise the built-in runs, or the HTTP request goes out through the outbound guard;
- each call is logged (`Toolbox.log`: name, arguments with secrets masked, status,
  latency, error) and stored on the answer message.
An identical call repeated within a turn (a retried model round) answers from the first.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
from sqlmodel import Session, col

from app.db import TenantScope, session_scope
from app.models import ActionConfirmation, WidgetAction
from app.rag.tools import ActionTool, ToolResult
from app.services import audit
from app.services.action_builtins import BUILTINS, ActionContext, Builtin
from app.services.action_confirm import PendingAction, new_pending
from app.services.action_http import run_http_action
from app.services.actions import stored_headers

log = logging.getLogger("chatconnect.actions")
MASK = "••••"
MAX_ARG_CHARS = 500  # per logged argument value


@dataclass(slots=True)
class WidgetTool:
    name: str
    description: str
    parameters: dict[str, Any]
    changes_something: bool
    builtin: Builtin | None = None
    action: WidgetAction | None = None  # an owner's HTTP action (detached row)
    secrets: list[str] = field(default_factory=list, repr=False)  # header values, to mask

    def validate(self, args: Any) -> list[str]:
        if not isinstance(args, dict):
            return ["the arguments must be a JSON object"]
        try:
            validator = jsonschema_rs.validator_for(self.parameters)
        except Exception:
            return ["the action's schema is not valid"]
        return [
            f"{'/'.join(map(str, e.instance_path)) or '(root)'}: {e.message}"[:200]
            for e in validator.iter_errors(args)
        ][:5]


def load_tools(tenant_id: str, widget_id: str, session: Session | None = None) -> list[WidgetTool]:
    """The widget's enabled actions (built-ins not registered in this build are skipped).
    In the caller's transaction when it gives one (the chat turn reads everything at once)."""
    if session is None:
        with session_scope() as own:
            return _tools(own, tenant_id, widget_id)
    return _tools(session, tenant_id, widget_id)


def _tools(session: Session, tenant_id: str, widget_id: str) -> list[WidgetTool]:
    rows = TenantScope(session, tenant_id).all(
        WidgetAction,
        WidgetAction.widget_id == widget_id,
        col(WidgetAction.enabled).is_(True),
        order_by=col(WidgetAction.name),
    )
    tools: list[WidgetTool] = []
    for row in rows:
        if row.builtin:
            builtin = BUILTINS.get(row.name)
            if builtin is not None:
                tools.append(
                    WidgetTool(
                        builtin.name, builtin.description, builtin.parameters,
                        builtin.changes_something, builtin=builtin,
                    )
                )  # fmt: skip
            continue
        session.expunge(row)
        tools.append(
            WidgetTool(
                row.name, row.description, row.parameters, row.changes_something,
                action=row, secrets=list(stored_headers(row).values()),
            )
        )  # fmt: skip
    return tools


def mask_arguments(args: Any, secrets: list[str]) -> Any:
    """Arguments as logged: secret-named keys masked, secret values blanked, clipped."""
    if not isinstance(args, dict):
        return {"(invalid)": str(args)[:MAX_ARG_CHARS]}
    masked = audit.mask(args)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for secret in secrets:
                if secret and len(secret) >= 4:
                    value = value.replace(secret, MASK)
            return value[:MAX_ARG_CHARS]
        if isinstance(value, list):
            return [clean(v) for v in value[:20]]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in list(value.items())[:20]}
        return value

    return {k: clean(v) for k, v in masked.items()}


async def run_tool(tool: WidgetTool, ctx: ActionContext, args: dict[str, Any]) -> ToolResult:
    """Run an action now (no confirmation check: callers decide)."""
    if tool.builtin is not None:
        text = await asyncio.to_thread(tool.builtin.run, ctx, args)
        return ToolResult(text, is_error=text.startswith("Error"))
    assert tool.action is not None
    outcome = await asyncio.to_thread(run_http_action, tool.action, args)
    return ToolResult(outcome.content, is_error=outcome.is_error)


class Toolbox:
    """One turn's tools and what the model did with them."""

    def __init__(
        self, tenant_id: str, widget_id: str, conversation_id: str, tools: list[WidgetTool]
    ) -> None:
        self.ctx = ActionContext(tenant_id, widget_id, conversation_id)
        self.tools = {t.name: t for t in tools}
        self.log: list[dict[str, Any]] = []
        self.pending: list[tuple[PendingAction, ActionConfirmation]] = []
        self._done: dict[str, ToolResult] = {}

    @property
    def cards(self) -> list[Any]:
        return self.ctx.cards

    def llm_tools(self) -> list[ActionTool]:
        return [
            ActionTool(t.name, t.description, t.parameters, self.execute)
            for t in self.tools.values()
        ]

    def _entry(
        self, name: str, args: Any, status: str, started: float, error: str | None = None
    ) -> None:
        tool = self.tools.get(name)
        entry: dict[str, Any] = {
            "name": name[:64],
            "arguments": mask_arguments(args, tool.secrets if tool else []),
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000),
        }
        if error:
            entry["error"] = error[:300]
        self.log.append(entry)

    async def execute(self, name: str, args: dict[str, Any]) -> ToolResult:
        started = time.perf_counter()
        tool = self.tools.get(name)
        if tool is None:
            log.warning("model called an action the widget does not have: %.64s", name)
            self._entry(name, args, "unknown", started, "no such action for this widget")
            return ToolResult(f"Error: there is no action named {name!r}.", is_error=True)
        errors = tool.validate(args)
        if errors:
            self._entry(name, args, "invalid", started, "; ".join(errors))
            return ToolResult("Error: invalid arguments: " + "; ".join(errors), is_error=True)
        key = name + json.dumps(args, sort_keys=True, default=str)
        if key in self._done:
            return self._done[key]
        if tool.changes_something:
            summary = await asyncio.to_thread(self._summary, tool, args)
            pending, row = new_pending(self.ctx, tool.name, args, summary)
            self.pending.append((pending, row))
            self._entry(name, args, "awaiting_confirmation", started)
            result = ToolResult(
                f"Not done yet: the visitor sees a confirmation card ({summary}) and must "
                "press Confirm in the chat before it runs."
            )
        else:
            try:
                result = await run_tool(tool, self.ctx, args)
            except Exception as exc:
                log.exception("action %s failed", name)
                result = ToolResult(f"Error: the action failed ({type(exc).__name__}).", True)
            self._entry(
                name, args, "error" if result.is_error else "ok", started,
                result.content.splitlines()[0] if result.is_error else None,
            )  # fmt: skip
        self._done[key] = result
        return result

    def _summary(self, tool: WidgetTool, args: dict[str, Any]) -> str:
        if tool.builtin is not None and tool.builtin.summary is not None:
            return tool.builtin.summary(self.ctx, args)[:200]
        shown = json.dumps(mask_arguments(args, tool.secrets), ensure_ascii=False)
        return f"{tool.name} {shown}"[:200]


# Channels with a visitor who can press Confirm; elsewhere (the REST API) change-actions
# are not offered at all.
CONFIRMING_CHANNELS = frozenset({"web", "dashboard"})


def toolbox_for(
    tenant_id: str,
    widget_id: str | None,
    conversation_id: str,
    channel: str = "web",
    session: Session | None = None,
) -> Toolbox | None:
    """The turn's toolbox, or None when the widget has no enabled action."""
    if not widget_id:
        return None
    tools = load_tools(tenant_id, widget_id, session)
    if channel not in CONFIRMING_CHANNELS:
        tools = [t for t in tools if not t.changes_something]
    return Toolbox(tenant_id, widget_id, conversation_id, tools) if tools else None
