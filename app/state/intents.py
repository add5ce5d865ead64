"""The Intents page: list the workspace's intents, edit one, enable/disable, test a phrase.

Thin over app.services.intents (which seeds the defaults, validates and audits). The tenant
always comes from the signed-in identity; an intent id from another workspace is "not found".
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import intents as svc
from app.state.auth import AuthState

ACTION_LABELS = {
    "reply": "Canned reply",
    "order_status": "Order status (asks number and email)",
    "product_search": "Product search (cards)",
    "handoff": "Hand over to a person",
    "opening_hours": "Opening hours",
}


@dataclass
class IntentRow:
    id: str = ""
    name: str = ""
    action: str = ""
    action_label: str = ""
    enabled: bool = True
    examples: int = 0
    keywords: int = 0


class IntentsState(AuthState):
    rows: list[IntentRow] = []
    loaded: bool = False
    selected: str = ""
    name: str = ""
    examples: str = ""
    keywords: str = ""
    action: str = "reply"
    reply: str = ""
    enabled: bool = True
    error: str = ""

    new_name: str = ""
    new_example: str = ""
    new_reply: str = ""
    new_error: str = ""

    phrase: str = ""
    tested: bool = False
    test_intent: str = ""
    test_score: str = ""
    test_via: str = ""
    test_runner_up: str = ""

    def _reload(self, tenant_id: str) -> None:
        with session_scope() as session:
            stored = svc.ensure_defaults(session, tenant_id)
            self.rows = [
                IntentRow(
                    r.id,
                    r.name,
                    r.action,
                    ACTION_LABELS.get(r.action, r.action),
                    r.enabled,
                    len(r.examples),
                    len(r.keywords),
                )
                for r in stored
            ]
            current = next(
                (r for r in stored if r.id == self.selected), stored[0] if stored else None
            )
            if current is not None:
                self.selected, self.name = current.id, current.name
                self.examples = "\n".join(current.examples)
                self.keywords = "\n".join(current.keywords)
                self.action, self.reply, self.enabled = (
                    current.action,
                    current.reply,
                    current.enabled,
                )

    @rx.event
    def load(self):
        ident = self._require()
        self.error = ""
        self._reload(ident.tenant_id)
        self.loaded = True

    @rx.event
    def select(self, intent_id: str):
        ident = self._require()
        self.selected, self.error = intent_id, ""
        self._reload(ident.tenant_id)

    @rx.event
    def set_examples(self, value: str):
        self.examples = value[:20000]

    @rx.event
    def set_keywords(self, value: str):
        self.keywords = value[:5000]

    @rx.event
    def set_action(self, value: str):
        self.action = value if value in ACTION_LABELS else "reply"

    @rx.event
    def set_reply(self, value: str):
        self.reply = value[:2000]

    @rx.event
    def set_enabled(self, value: bool):
        self.enabled = bool(value)

    @rx.event
    def save(self):
        ident = self._require()
        self.error = ""
        try:
            with session_scope() as session:
                svc.update_intent(
                    session, ident.tenant_id, self.selected, examples=self.examples,
                    keywords=self.keywords, action=self.action, reply=self.reply,
                    enabled=self.enabled, actor=self._actor(ident),
                )  # fmt: skip
        except svc.IntentError as exc:
            self.error = str(exc)
            return rx.toast.error(str(exc))
        except NotFoundError:
            self._reload(ident.tenant_id)
            return rx.toast.error("That intent no longer exists.")
        self._reload(ident.tenant_id)
        return rx.toast.success(f"Saved “{self.name}”.")

    @rx.event
    def toggle(self, intent_id: str, value: bool):
        ident = self._require()
        try:
            with session_scope() as session:
                svc.update_intent(
                    session, ident.tenant_id, intent_id, enabled=bool(value),
                    actor=self._actor(ident),
                )  # fmt: skip
        except (svc.IntentError, NotFoundError) as exc:
            return rx.toast.error(str(exc) or "That intent no longer exists.")
        self._reload(ident.tenant_id)

    @rx.event
    def set_new_name(self, value: str):
        self.new_name = value[:60]

    @rx.event
    def set_new_example(self, value: str):
        self.new_example = value[:200]

    @rx.event
    def set_new_reply(self, value: str):
        self.new_reply = value[:2000]

    @rx.event
    def create(self):
        ident = self._require()
        self.new_error = ""
        try:
            with session_scope() as session:
                row = svc.create_intent(
                    session, ident.tenant_id, self.new_name, examples=[self.new_example],
                    reply=self.new_reply, actor=self._actor(ident),
                )  # fmt: skip
                session.flush()
                self.selected = row.id
        except svc.IntentError as exc:
            self.new_error = str(exc)
            return rx.toast.error(str(exc))
        self.new_name = self.new_example = self.new_reply = ""
        self._reload(ident.tenant_id)
        return rx.toast.success(f"Added “{self.name}”.")

    @rx.event
    def delete_selected(self):
        ident = self._require()
        name = self.name
        try:
            with session_scope() as session:
                svc.delete_intent(session, ident.tenant_id, self.selected, actor=self._actor(ident))
        except NotFoundError:
            pass
        self.selected = ""
        self._reload(ident.tenant_id)
        return rx.toast.success(f"Deleted “{name}”.")

    @rx.event
    def set_phrase(self, value: str):
        self.phrase = value[:500]

    @rx.event
    def try_phrase(self):
        ident = self._require()
        from app.services.vectors import query_embedder

        with session_scope() as session:
            result = svc.try_phrase(session, ident.tenant_id, self.phrase, query_embedder())
        self.tested = True
        self.test_intent = result.intent or "none (out of scope)"
        self.test_score = f"{result.score:.2f}"
        self.test_via = {"rule": "a rule or keyword", "similarity": "example similarity"}.get(
            result.via, "below the threshold"
        )
        self.test_runner_up = (
            f"{result.runner_up} ({result.runner_up_score:.2f})" if result.runner_up else "none"
        )
