"""Opening hours for human handoff (Settings > Workspace). Owners and admins edit them;
members see them read-only. Checked on the server in `presence.set_hours`."""

from __future__ import annotations

import reflex as rx

from app.db import session_scope
from app.models import Tenant
from app.services import presence
from app.services.permissions import Action, PermissionDeniedError, can
from app.state.auth import AuthState


class HoursState(AuthState):
    timezone: str = "UTC"
    opens: dict[str, str] = {d: "" for d in presence.DAYS}
    closes: dict[str, str] = {d: "" for d in presence.DAYS}
    can_edit: bool = False
    hours_error: str = ""

    @rx.event
    def load(self):
        ident = self._require()
        with session_scope() as session:
            tenant = session.get(Tenant, ident.tenant_id)
            hours = (tenant.opening_hours if tenant else {}) or {}
        days = hours.get("days") or {}
        self.timezone = hours.get("timezone") or "UTC"
        self.opens = {d: (days.get(d) or ["", ""])[0] for d in presence.DAYS}
        self.closes = {d: (days.get(d) or ["", ""])[1] for d in presence.DAYS}
        self.can_edit = can(ident.role, Action.manage_hours)
        self.hours_error = ""

    @rx.event
    def save(self, form: dict):
        ident = self._require()
        days = {}
        for d in presence.DAYS:
            start, end = str(form.get(f"open_{d}") or ""), str(form.get(f"close_{d}") or "")
            if start or end:
                days[d] = [start, end]
        raw = {"timezone": str(form.get("timezone") or "UTC").strip(), "days": days}
        try:
            with session_scope() as session:
                presence.set_hours(
                    session, ident.tenant_id, raw, role=ident.role, actor=self._actor(ident)
                )
        except (presence.HoursError, PermissionDeniedError) as exc:
            self.hours_error = str(exc)
            return None
        self.load()
        return rx.toast.success("Opening hours saved.")
