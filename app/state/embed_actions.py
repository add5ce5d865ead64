"""The widget's side of actions: confirm cards and the product cards' "Add to cart".

A mixin of EmbedState (app/state/embed.py): same widget, visitor and conversation, all
resolved on the server. The page only ever holds a confirmation's opaque token; whether it
may run is decided by app.services.action_confirm (same tenant and conversation, not
expired, used once).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace

import reflex as rx

from app.db import session_scope
from app.services import action_confirm, visitors
from app.services.action_confirm import ConfirmationRefusedError

log = logging.getLogger("chatconnect.embed")


@dataclass
class ConfirmCard:
    """A change-action waiting for the visitor: Confirm runs it, Cancel drops it."""

    token: str = ""
    summary: str = ""
    state: str = "pending"  # pending | done | failed | cancelled | refused
    result: str = ""


def confirm_cards(pending: list[action_confirm.PendingAction]) -> list[ConfirmCard]:
    return [ConfirmCard(token=p.token, summary=p.summary) for p in pending]


def _widget(widget_id: str) -> visitors.PublicWidget | None:
    with session_scope() as session:
        return visitors.find_widget(session, widget_id)


class EmbedActionsMixin(rx.State, mixin=True):
    def _own_conversation_ok(self, widget: visitors.PublicWidget) -> bool:
        if not self._conversation_id:  # type: ignore[attr-defined]
            return False
        try:
            with session_scope() as session:
                visitors.own_conversation(
                    session,
                    widget,
                    self._conversation_id,  # type: ignore[attr-defined]
                    self._visitor_id,  # type: ignore[attr-defined]
                )
        except Exception:
            return False
        return True

    def _set_confirm(self, token: str, **changes: str) -> None:
        for i, item in enumerate(self.messages):  # type: ignore[attr-defined]
            if any(c.token == token for c in item.confirms):
                confirms = [replace(c, **changes) if c.token == token else c for c in item.confirms]
                self.messages[i] = replace(item, confirms=confirms)  # type: ignore[attr-defined]

    @rx.event
    async def add_to_cart(self, product_id: str):
        """The card's button: a pending add_to_cart the visitor then confirms (or not)."""
        from app.state.embed_items import ChatItem

        widget = await asyncio.to_thread(_widget, self._widget_id)  # type: ignore[attr-defined]
        if widget is None or not widget.enabled:
            return
        if not await asyncio.to_thread(self._own_conversation_ok, widget):
            return
        try:
            pending = await asyncio.to_thread(
                action_confirm.request,
                widget.tenant_id,
                widget.id,
                self._conversation_id,  # type: ignore[attr-defined]
                "add_to_cart",
                {"product_id": str(product_id)[:32], "quantity": 1},
            )
        except ConfirmationRefusedError:
            self.banner_kind, self.banner = "error", "This product cannot be added here."  # type: ignore[attr-defined]
            return
        self.messages.append(  # type: ignore[attr-defined]
            ChatItem(role="assistant", text="", confirms=confirm_cards([pending]))
        )

    @rx.event
    async def resolve_action(self, token: str, accept: bool):
        widget = await asyncio.to_thread(_widget, self._widget_id)  # type: ignore[attr-defined]
        if widget is None or not widget.enabled or not self._conversation_id:  # type: ignore[attr-defined]
            return
        try:
            outcome = await action_confirm.resolve(
                widget.tenant_id,
                self._conversation_id,  # type: ignore[attr-defined]
                str(token),
                accept=bool(accept),
            )
        except ConfirmationRefusedError as exc:
            self._set_confirm(str(token), state="refused", result=str(exc))
            return
        except Exception:
            log.exception("action confirmation failed (widget %s)", widget.id)
            self._set_confirm(str(token), state="failed", result="Something went wrong.")
            return
        self._set_confirm(str(token), state=outcome.status, result=outcome.text)
