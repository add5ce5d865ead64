"""The visitor's side of human handoff in the chat page: the "Talk to a person" button,
the "what happens next" line, staff replies and typing pushed live, the lead form.

A mixin of EmbedState (app/state/embed.py): same widget, visitor and conversation
checks, all on the server. Live updates arrive through app/state/live.py, which calls
`_live_update` with the client's state open; it re-reads the thread from the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import handoff_flow, live, visitors
from app.services.escalation import rules_of
from app.services.handoff_flow import NextStep
from app.services.inbox import Reason
from app.services.leads import LeadError
from app.state import live as live_push

TYPING_SHOWN_S = 4.0


class EmbedHandoffMixin(rx.State, mixin=True):
    handoff_status: str = "bot"
    handoff_line: str = ""
    offer_lead: bool = False
    staff_name: str = ""
    staff_typing: str = ""  # the name of the person typing, "" when nobody is
    person_button: str = "off"  # off | always | after_first
    lead_consent: str = ""
    lead_fields: list[str] = []
    lead_error: str = ""

    _typing_at: float = 0.0
    _tenant_id: str = ""  # resolved from the widget on the server, never from the client

    def _apply_step(self, step: NextStep) -> None:
        self.handoff_status = step.status
        self.handoff_line = step.line
        self.offer_lead = step.offer_lead
        self.staff_name = step.staff_name

    def _load_rules(self, widget: visitors.PublicWidget) -> None:
        rules = rules_of(widget.escalation)
        self._tenant_id = widget.tenant_id
        self.person_button = rules.button
        self.lead_consent = rules.lead_consent
        self.lead_fields = list(rules.lead_fields)

    def _reset_handoff(self) -> None:
        self.handoff_status, self.handoff_line, self.offer_lead = "bot", "", False
        self.staff_name = self.staff_typing = self.lead_error = ""

    async def _load_handoff(self, widget: visitors.PublicWidget) -> None:
        """On load/restore: the widget's rules, the conversation's step, live updates."""
        self._load_rules(widget)
        self._reset_handoff()
        if self._conversation_id and not self.preview:  # type: ignore[attr-defined]
            await self._refresh_step()
            self._follow()

    def _follow(self) -> None:
        conversation_id = self._conversation_id  # type: ignore[attr-defined]
        if self.preview or not conversation_id or not self._tenant_id:  # type: ignore[attr-defined]
            live_push.unfollow(self)
            return
        live_push.follow(self, live.conversation_topic(self._tenant_id, conversation_id))

    async def _refresh_step(self) -> None:
        widget_id, visitor_id = self._widget_id, self._visitor_id  # type: ignore[attr-defined]
        conversation_id = self._conversation_id  # type: ignore[attr-defined]

        def read() -> NextStep | None:
            with session_scope() as session:
                widget = visitors.find_widget(session, widget_id)
                if widget is None:
                    return None
                return handoff_flow.visitor_next_step(session, widget, conversation_id, visitor_id)

        try:
            step = await asyncio.to_thread(read)
        except NotFoundError:
            step = None
        if step is not None:
            self._apply_step(step)

    async def _live_update(self, event: live.LiveEvent) -> None:
        """Called by app/state/live.py with this client's state open."""
        if event.data.get("conversation_id") != self._conversation_id:  # type: ignore[attr-defined]
            return
        loop = asyncio.get_running_loop()
        if event.kind == "typing":
            if event.data.get("stop"):
                self.staff_typing = ""
            elif event.data.get("expire"):
                if loop.time() - self._typing_at >= TYPING_SHOWN_S - 0.05:
                    self.staff_typing = ""
            else:
                self.staff_typing = str(event.data.get("name") or "Someone")
                self._typing_at = loop.time()
                live_push.after(
                    TYPING_SHOWN_S,
                    self,
                    live.LiveEvent(event.topic, "typing", {**event.data, "expire": True}),
                )
            return
        if event.kind == "message" and event.data.get("role") == "user":
            return  # the visitor's own message: already on screen
        widget = await asyncio.to_thread(self._widget_or_none)
        if widget is None:
            return
        if event.kind == "message":
            self.staff_typing = ""
            await self._restore(widget)  # type: ignore[attr-defined]
        await self._refresh_step()

    def _widget_or_none(self) -> visitors.PublicWidget | None:
        with session_scope() as session:
            return visitors.find_widget(session, self._widget_id)  # type: ignore[attr-defined]

    @rx.event
    async def request_person(self):
        if self.preview or self.status != "ready" or self.streaming:  # type: ignore[attr-defined]
            return
        widget_id, visitor_id = self._widget_id, self._visitor_id  # type: ignore[attr-defined]
        conversation_id = self._conversation_id  # type: ignore[attr-defined]
        host_url, user_agent = self._host_url, self._user_agent  # type: ignore[attr-defined]

        def write() -> tuple[str, NextStep] | None:
            with session_scope() as session:
                widget = visitors.find_widget(session, widget_id)
                if widget is None or not widget.enabled:
                    return None
                return handoff_flow.visitor_request(
                    session,
                    widget,
                    conversation_id,
                    visitor_id,
                    Reason.button,
                    host_url=host_url,
                    user_agent=user_agent,
                )

        try:
            result = await asyncio.to_thread(write)
        except NotFoundError:
            result = None
        if result is None:
            self.banner_kind, self.banner = (
                "error",
                "That conversation has ended. Please ask again.",
            )  # type: ignore[attr-defined]
            return
        new_id, step = result
        if new_id != conversation_id:
            self._conversation_id = new_id  # type: ignore[attr-defined]
            self._remember_conversation(new_id)  # type: ignore[attr-defined]
        self._apply_step(step)
        self._follow()

    @rx.event
    async def submit_lead(self, form_data: dict[str, Any]):
        widget_id, visitor_id = self._widget_id, self._visitor_id  # type: ignore[attr-defined]
        conversation_id = self._conversation_id  # type: ignore[attr-defined]

        def write() -> None:
            with session_scope() as session:
                widget = visitors.find_widget(session, widget_id)
                if widget is None or not widget.enabled:
                    raise NotFoundError("Widget")
                handoff_flow.visitor_lead(
                    session,
                    widget,
                    conversation_id,
                    visitor_id,
                    name=str(form_data.get("name") or ""),
                    email=str(form_data.get("email") or ""),
                    message=str(form_data.get("message") or ""),
                    consent=bool(form_data.get("consent")),
                )

        try:
            await asyncio.to_thread(write)
        except LeadError as exc:
            self.lead_error = str(exc)
            return
        except NotFoundError:
            self.lead_error = "This conversation has ended. Please start a new one."
            return
        self.lead_error = ""
        await self._refresh_step()
