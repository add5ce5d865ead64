"""Leads (/leads): search, status, CSV export, a link to the conversation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import leads
from app.services.leads import LeadError
from app.state.auth import AuthState

STATUSES = ("new", "contacted", "closed")


@dataclass
class LeadView:
    id: str = ""
    created: str = ""
    name: str = ""
    email: str = ""
    message: str = ""
    consent: bool = False
    status: str = "new"
    conversation_id: str = ""


class LeadsState(AuthState):
    rows: list[LeadView] = []
    search: str = ""
    status_filter: str = "all"
    loaded: bool = False

    def _reload(self) -> None:
        ident = self._require()
        with session_scope() as session:
            rows = leads.list_leads(
                session,
                ident.tenant_id,
                search=self.search,
                status="" if self.status_filter == "all" else self.status_filter,
            )
        self.rows = [
            LeadView(
                id=r.id,
                created=r.created_at.strftime("%Y-%m-%d %H:%M"),
                name=r.name,
                email=r.email,
                message=r.message,
                consent=r.consent,
                status=str(r.status.value if hasattr(r.status, "value") else r.status),
                conversation_id=r.conversation_id or "",
            )
            for r in rows
        ]
        self.loaded = True

    @rx.event
    def load(self):
        self._reload()

    @rx.event
    def apply_search(self, form: dict):
        self.search = str(form.get("search") or "")[: leads.MAX_SEARCH]
        self._reload()

    @rx.event
    def choose_status(self, value: str):
        self.status_filter = value if value in STATUSES else "all"
        self._reload()

    @rx.event
    def set_status(self, lead_id: str, value: str):
        ident = self._require()
        try:
            with session_scope() as session:
                leads.set_status(session, ident.tenant_id, lead_id, value)
        except (LeadError, NotFoundError) as exc:
            return rx.toast.error(str(exc) if isinstance(exc, LeadError) else "Lead not found.")
        self._reload()
        return None

    @rx.event
    def export_csv(self):
        ident = self._require()
        with session_scope() as session:
            data = leads.export_csv(
                session,
                ident.tenant_id,
                search=self.search,
                status="" if self.status_filter == "all" else self.status_filter,
            )
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        return rx.download(data=data, filename=f"leads-{stamp}.csv", mime_type="text/csv")
