"""Settings → Audit: the workspace's audit log for owners and admins, filtered and paged,
with a CSV download. Every handler re-checks the role on the server."""

from __future__ import annotations

import dataclasses
from datetime import UTC

import reflex as rx

from app.db import session_scope
from app.services import audit_log
from app.services.permissions import Action, PermissionDeniedError, can
from app.state.auth import AuthState

ANY_ACTION = "any"  # the select's value for "every action" ('' cannot be a value)


@dataclasses.dataclass
class AuditRow:
    id: str = ""
    time: str = ""
    actor: str = ""
    action: str = ""
    target: str = ""
    source: str = ""  # IP
    agent: str = ""  # user agent (a tooltip)
    changes: str = ""


def _row(event) -> AuditRow:  # type: ignore[no-untyped-def]
    actor = event.actor_label or event.actor_type
    if event.actor_type == "api_key":
        actor = f"API key {event.actor_label}"
    # Ids are 32 hex characters: the first 8 tell rows apart on screen (the CSV has them all).
    short_id = event.target_id[:8] + ("…" if len(event.target_id) > 8 else "")
    target = f"{event.target_type} {short_id}".strip()
    source = event.ip or "-"
    return AuditRow(
        id=event.id,
        time=event.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        actor=actor,
        action=event.action,
        target=target,
        source=source,
        agent=event.user_agent[:300],
        changes=audit_log.describe_changes(event),
    )


class AuditState(AuthState):
    allowed: bool = False
    rows: list[AuditRow] = []
    total: int = 0
    offset: int = 0
    actions: list[str] = []
    filter_actor: str = ""
    filter_action: str = ANY_ACTION
    filter_since: str = ""
    filter_until: str = ""
    filter_error: str = ""

    @rx.var
    def page_label(self) -> str:
        if self.total == 0:
            return "No events"
        last = min(self.offset + audit_log.PAGE_SIZE, self.total)
        return f"{self.offset + 1}-{last} of {self.total:,}"

    @rx.var
    def has_previous(self) -> bool:
        return self.offset > 0

    @rx.var
    def has_next(self) -> bool:
        return self.offset + audit_log.PAGE_SIZE < self.total

    def _filter(self) -> audit_log.AuditFilter:
        return audit_log.AuditFilter(
            actor=self.filter_actor[:254],
            action="" if self.filter_action == ANY_ACTION else self.filter_action[:64],
            since=audit_log.parse_day(self.filter_since, "since"),
            until=audit_log.parse_day(self.filter_until, "until"),
        )

    def _reload(self) -> None:
        ident = self._require()
        self.allowed = can(ident.role, Action.view_audit)
        if not self.allowed:
            self.rows, self.total = [], 0
            return
        try:
            flt = self._filter()
        except audit_log.AuditQueryError as exc:
            self.filter_error = str(exc)
            return
        self.filter_error = ""
        with session_scope() as session:
            page = audit_log.list_events(
                session, ident.tenant_id, ident.role, flt, self.offset, audit_log.PAGE_SIZE
            )
            self.actions = audit_log.action_names(session, ident.tenant_id)
            self.rows = [_row(e) for e in page.events]
            self.total = page.total

    @rx.event
    def load(self):
        self.offset = 0
        self._reload()

    @rx.event
    def apply_filters(self, form: dict):
        self.filter_actor = str(form.get("actor", ""))[:254].strip()
        self.filter_since = str(form.get("since", ""))[:10]
        self.filter_until = str(form.get("until", ""))[:10]
        self.offset = 0
        self._reload()

    @rx.event
    def set_action(self, value: str):
        self.filter_action = value if value == ANY_ACTION or value in self.actions else ANY_ACTION
        self.offset = 0
        self._reload()

    @rx.event
    def clear_filters(self):
        self.filter_actor = self.filter_since = self.filter_until = ""
        self.filter_action = ANY_ACTION
        self.offset = 0
        self._reload()
        return rx.call_script("document.getElementById('audit-filters').reset()")

    @rx.event
    def next_page(self):
        if self.has_next:
            self.offset += audit_log.PAGE_SIZE
        self._reload()

    @rx.event
    def previous_page(self):
        self.offset = max(0, self.offset - audit_log.PAGE_SIZE)
        self._reload()

    @rx.event
    def export(self):
        ident = self._require()
        try:
            with session_scope() as session:
                text = audit_log.export_csv(session, ident.tenant_id, ident.role, self._filter())
        except (PermissionDeniedError, audit_log.AuditQueryError) as exc:
            return rx.toast.error(str(exc))
        return rx.download(data=text, filename="audit-log.csv")
