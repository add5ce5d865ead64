"""Settings > Webhooks: endpoints for handoff events, their delivery log and a test event.
Owners and admins manage them (checked in app.services.webhooks); members only read."""

from __future__ import annotations

from dataclasses import dataclass, field

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import webhooks
from app.services.permissions import Action, PermissionDeniedError, can
from app.state.auth import AuthState


@dataclass
class DeliveryView:
    event: str = ""
    status: str = ""
    attempts: int = 0
    code: str = ""
    when: str = ""
    error: str = ""


@dataclass
class EndpointView:
    id: str = ""
    url: str = ""
    events: str = ""
    slack: bool = False
    deliveries: list[DeliveryView] = field(default_factory=list)


class WebhooksState(AuthState):
    endpoints: list[EndpointView] = []
    can_manage: bool = False
    chosen: list[str] = list(webhooks.EVENTS)
    slack: bool = False
    new_secret: str = ""
    hook_error: str = ""

    def _reload(self) -> None:
        ident = self._require()
        with session_scope() as session:
            rows = webhooks.list_endpoints(session, ident.tenant_id)
            views = []
            for e in rows:
                log = webhooks.deliveries(session, ident.tenant_id, e.id, limit=10)
                views.append(
                    EndpointView(
                        id=e.id,
                        url=e.url,
                        events=", ".join(e.events),
                        slack=e.slack,
                        deliveries=[
                            DeliveryView(
                                event=d.event,
                                status=str(d.status),
                                attempts=d.attempts,
                                code=str(d.last_status_code or "—"),
                                when=d.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                                error=d.last_error or "",
                            )
                            for d in log
                        ],
                    )
                )
        self.endpoints = views
        self.can_manage = can(ident.role, Action.manage_webhooks)

    @rx.event
    def load(self):
        self.new_secret = self.hook_error = ""
        self._reload()

    @rx.event
    def refresh(self):
        self._reload()

    @rx.event
    def toggle_event(self, name: str, on: bool):
        chosen = [e for e in self.chosen if e != name]
        self.chosen = [e for e in webhooks.EVENTS if e in {*chosen, *([name] if on else [])}]

    @rx.event
    def set_slack(self, value: bool):
        self.slack = bool(value)

    @rx.event
    def create(self, form: dict):
        ident = self._require()
        try:
            with session_scope() as session:
                _, secret = webhooks.create_endpoint(
                    session,
                    ident.tenant_id,
                    ident.role,
                    str(form.get("url") or ""),
                    list(self.chosen),
                    slack=self.slack,
                    actor=self._actor(ident),
                )
        except (webhooks.WebhookError, PermissionDeniedError) as exc:
            self.hook_error = str(exc)
            return
        self.hook_error, self.new_secret = "", secret
        self._reload()

    @rx.event
    def send_test(self, endpoint_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                webhooks.send_test(session, ident.tenant_id, ident.role, endpoint_id)
        except (PermissionDeniedError, NotFoundError) as exc:
            return rx.toast.error(str(exc) if isinstance(exc, PermissionDeniedError) else "Gone.")
        self._reload()
        return rx.toast.success("Test event queued; refresh the log to see its delivery.")

    @rx.event
    def delete(self, endpoint_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                webhooks.delete_endpoint(
                    session, ident.tenant_id, ident.role, endpoint_id, actor=self._actor(ident)
                )
        except (PermissionDeniedError, NotFoundError):
            return rx.toast.error("That endpoint cannot be deleted.")
        self._reload()
        return None
