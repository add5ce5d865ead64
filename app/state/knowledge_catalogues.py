"""Knowledge > Catalogues: add a shop, test the connection, sync now, schedule, delete.

Secrets typed here go straight to the service (encrypted there) and are cleared from the
page; the list only says whether a credential is set. Members manage catalogues like
other knowledge. The tenant always comes from the signed-in identity.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import reflex as rx

from app import routes
from app.connectors import CONNECTORS
from app.db import NotFoundError, session_scope
from app.services import catalogue_sync, catalogues
from app.services.accounts import Identity
from app.services.permissions import Action, can
from app.services.vectors import get_store
from app.state.auth import AuthState
from app.state.insights_views import when
from app.state.polling import poll_while_active

ACTIVE = {"new", "queued", "syncing"}
SECRET_KEYS = ("auth_value", "token", "password", "api_key")


@dataclass
class CatalogueRow:
    id: str = ""
    name: str = ""
    kind: str = ""
    url: str = ""
    status: str = ""
    schedule: str = "off"
    products: int = 0
    skipped: int = 0
    skipped_reasons: str = ""
    embedded: int = 0
    removed: int = 0
    last_sync: str = ""
    error: str = ""


def _rows(tenant_id: str) -> list[CatalogueRow]:
    with session_scope() as session:
        return [
            CatalogueRow(
                id=c.id,
                name=c.name,
                kind=CONNECTORS[c.kind].label if c.kind in CONNECTORS else c.kind,
                url=catalogues.base_url(c),
                status=c.status,
                schedule=str(c.schedule),
                products=c.product_count,
                skipped=c.skipped_count,
                skipped_reasons="; ".join(
                    f"{s.get('id') or '?'}: {s.get('reason')}" for s in c.skipped[:5]
                ),
                embedded=c.last_embedded,
                removed=c.last_removed,
                last_sync=when(c.last_synced_at) if c.last_synced_at else "never",
                error=c.last_error or "",
            )
            for c in catalogues.list_catalogues(session, tenant_id)
        ]


NOT_ALLOWED = "Only owners and admins can change shop connections (they hold credentials)."


class CatalogueState(AuthState):
    rows: list[CatalogueRow] = []
    draft: dict[str, str] = {"kind": "json", "schedule": "off"}
    form_error: str = ""
    test_message: str = ""
    test_ok: bool = False
    testing: bool = False
    watching: bool = False
    delete_id: str = ""
    delete_name: str = ""
    # Shop connections hold credentials: adding, rescheduling and deleting them is an
    # owner/admin decision (members still see them and may sync).
    can_manage: bool = False

    def _require_manager(self) -> Identity | None:
        ident = self._require()
        self.can_manage = can(ident.role, Action.manage_credentials)
        return ident if self.can_manage else None

    @rx.event
    def load(self):
        ident = self._require()
        self.can_manage = can(ident.role, Action.manage_credentials)
        self.rows = _rows(ident.tenant_id)
        return CatalogueState.watch if any(r.status in ACTIVE for r in self.rows) else None

    @rx.event
    def set_field(self, key: str, value: str) -> None:
        self._require()
        self.draft = {**self.draft, key: str(value)[:4000]}

    def _config(self) -> tuple[str, dict]:
        kind = self.draft.get("kind", "json")
        return kind, catalogues.form_config(kind, self.draft)

    @rx.event(background=True)
    async def test_connection(self):
        """Fetch the shop once (up to the connector's timeouts) without holding the page."""
        async with self:
            if self._require_manager() is None:
                self.form_error = NOT_ALLOWED
                return
            if self.testing:
                return
            self.form_error = self.test_message = ""
            try:
                kind, config = self._config()
            except catalogues.CatalogueError as exc:
                self.form_error = str(exc)
                return
            self.testing = True
        try:
            result = await asyncio.to_thread(catalogues.test_connection, kind, config)
        finally:
            async with self:
                self.testing = False
        async with self:
            self.test_ok, self.test_message = result.ok, result.message

    @rx.event
    def add(self):
        ident = self._require_manager()
        self.test_message = ""
        if ident is None:
            self.form_error = NOT_ALLOWED
            return None
        self.form_error = ""
        try:
            kind, config = self._config()
            with session_scope() as session:
                catalogues.create(
                    session,
                    ident.tenant_id,
                    kind,
                    self.draft.get("name", ""),
                    config,
                    schedule=self.draft.get("schedule", "off"),
                    actor=self._actor(ident),
                )
        except catalogues.CatalogueError as exc:
            self.form_error = str(exc)
            return None
        # Forget what was typed, credentials first.
        self.draft = {"kind": self.draft.get("kind", "json"), "schedule": "off"}
        catalogue_sync.wake_workers()
        self.rows = _rows(ident.tenant_id)
        resets = [rx.set_value(f"catalogue-{k}", "") for k in ("name", "url", *SECRET_KEYS)]
        return [rx.toast.success("Catalogue added; syncing now."), *resets, CatalogueState.watch]

    @rx.event
    def sync_now(self, catalogue_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                catalogues.request_sync(session, ident.tenant_id, catalogue_id)
        except NotFoundError:
            return rx.toast.error("That catalogue no longer exists.")
        catalogue_sync.wake_workers()
        self.rows = _rows(ident.tenant_id)
        return CatalogueState.watch

    @rx.event
    def set_schedule(self, catalogue_id: str, value: str):
        ident = self._require_manager()
        if ident is None:
            return rx.toast.error(NOT_ALLOWED)
        try:
            with session_scope() as session:
                catalogues.update(
                    session, ident.tenant_id, catalogue_id, schedule=value,
                    actor=self._actor(ident),
                )  # fmt: skip
        except (NotFoundError, catalogues.CatalogueError):
            return rx.toast.error("That schedule could not be saved.")
        self.rows = _rows(ident.tenant_id)
        return rx.toast.success("Schedule saved.")

    @rx.event
    def ask_delete(self, catalogue_id: str, name: str) -> None:
        if self._require_manager() is None:
            return
        self.delete_id, self.delete_name = catalogue_id, name[:120]

    @rx.event
    def cancel_delete(self) -> None:
        self.delete_id = ""

    @rx.event
    def confirm_delete(self):
        ident = self._require_manager()
        catalogue_id, self.delete_id = self.delete_id, ""
        if ident is None:
            return rx.toast.error(NOT_ALLOWED)
        try:
            with session_scope() as session:
                ids = catalogues.delete(
                    session, ident.tenant_id, catalogue_id, actor=self._actor(ident)
                )
        except NotFoundError:
            return rx.toast.error("That catalogue no longer exists.")
        catalogue_sync.drop_points(get_store(), ident.tenant_id, ids)
        self.rows = _rows(ident.tenant_id)
        return rx.toast.success("Catalogue deleted with its products.")

    @rx.event(background=True)
    async def watch(self):
        """Refresh the list every second while a sync is queued or running."""
        await poll_while_active(
            self,
            routes.KNOWLEDGE,
            lambda: None,
            lambda tenant_id, _: _rows(tenant_id),
            self._apply_rows,
        )

    def _apply_rows(self, rows: list[CatalogueRow]) -> bool:
        self.rows = rows
        return any(r.status in ACTIVE for r in rows)
