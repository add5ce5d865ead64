"""The widget editor's "Human handoff" card: when visitors are passed to a person.
Saved on its own (Save handoff settings), validated by app.services.escalation."""

from __future__ import annotations

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import widgets as svc
from app.services.escalation import rules_of
from app.services.widgets import WidgetError
from app.state.auth import AuthState


class WidgetHandoffState(AuthState):
    button: str = "off"
    phrases: bool = True
    thumbs_down: bool = False
    low_confidence_n: str = "0"
    reply_minutes: str = "5"
    lead_consent: str = ""
    handoff_error: str = ""
    _widget_id: str = ""

    @rx.event
    def load(self):
        ident = self._require()
        self._widget_id = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1][:64]
        try:
            with session_scope() as session:
                widget = svc.get_widget(session, ident.tenant_id, self._widget_id)
                rules = rules_of(widget.escalation)
        except NotFoundError:
            return
        self.button, self.phrases, self.thumbs_down = rules.button, rules.phrases, rules.thumbs_down
        self.low_confidence_n = str(rules.low_confidence_n)
        self.reply_minutes = str(rules.reply_minutes)
        self.lead_consent = rules.lead_consent
        self.handoff_error = ""

    @rx.event
    def set_button(self, value: str):
        self.button = value

    @rx.event
    def set_phrases(self, value: bool):
        self.phrases = bool(value)

    @rx.event
    def set_thumbs_down(self, value: bool):
        self.thumbs_down = bool(value)

    @rx.event
    def save(self, form: dict):
        ident = self._require()
        rules = {
            "button": self.button,
            "phrases": self.phrases,
            "thumbs_down": self.thumbs_down,
            "low_confidence_n": str(form.get("low_confidence_n") or "0"),
            "reply_minutes": str(form.get("reply_minutes") or "5"),
            "lead_consent": str(form.get("lead_consent") or ""),
        }
        try:
            with session_scope() as session:
                svc.update_widget(session, ident.tenant_id, self._widget_id, escalation=rules)
        except WidgetError as exc:
            self.handoff_error = str(exc)
            return None
        except NotFoundError:
            self.handoff_error = "This widget no longer exists."
            return None
        self.handoff_error = ""
        self.load()
        return rx.toast.success("Handoff settings saved.")
