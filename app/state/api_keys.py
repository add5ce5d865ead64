"""API keys page: list, create (secret shown once), revoke.

Every handler resolves the identity from the session cookie and checks
`permissions.require(role, Action.manage_keys)` on the server; members get a read-only
list. The new secret lives in `secret` only while its dialog is open and is never logged.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import reflex as rx

from app.db import NotFoundError, session_scope
from app.models import ApiKey
from app.services import api_keys as svc
from app.services import audit
from app.services import widgets as widget_svc
from app.services.accounts import Identity
from app.services.permissions import Action, PermissionDeniedError, can, require
from app.state.auth import AuthState

ALL_WIDGETS = "all"  # the select's value for "any widget" (Radix items cannot be "")


@dataclasses.dataclass
class KeyRow:
    id: str = ""
    name: str = ""
    prefix: str = ""
    scopes: str = ""
    widget: str = ""
    created: str = ""
    last_used: str = ""
    revoked: bool = False


@dataclasses.dataclass
class WidgetOption:
    id: str = ""
    name: str = ""


def _when(value: datetime | None) -> str:
    return value.strftime("%b %d, %Y %H:%M") if value else "Never"


def _row(key: ApiKey, widget_names: dict[str, str]) -> KeyRow:
    return KeyRow(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        scopes=", ".join(key.scopes),
        widget=widget_names.get(key.widget_id or "", "Any widget")
        if key.widget_id
        else "Any widget",
        created=_when(key.created_at),
        last_used=_when(key.last_used_at),
        revoked=key.revoked_at is not None,
    )


def _who(ident: Identity, actor: audit.Actor | None) -> audit.Actor:
    return actor or audit.Actor.user(ident.user_id, ident.email)


def create_key_as(
    ident: Identity,
    name: str,
    scopes: list[str],
    widget_id: str | None,
    actor: audit.Actor | None = None,
) -> svc.CreatedKey:
    """The handler's server-side work, also called directly by the permission tests."""
    require(ident.role, Action.manage_keys)
    with session_scope() as session:
        return svc.create_key(
            session,
            ident.tenant_id,
            name,
            scopes,
            widget_id or None,
            created_by=ident.user_id,
            actor=_who(ident, actor),
        )


def revoke_key_as(ident: Identity, key_id: str, actor: audit.Actor | None = None) -> None:
    require(ident.role, Action.manage_keys)
    with session_scope() as session:
        svc.revoke_key(session, ident.tenant_id, key_id, actor=_who(ident, actor))


class ApiKeysState(AuthState):
    rows: list[KeyRow] = []
    widget_options: list[WidgetOption] = []
    loaded: bool = False
    can_manage: bool = False

    create_open: bool = False
    scope_chat: bool = True
    scope_documents: bool = False
    scope_inbox: bool = False
    scope_admin: bool = False
    widget_choice: str = ALL_WIDGETS
    name_error: str = ""
    scopes_error: str = ""
    form_error: str = ""

    secret: str = ""  # only while the "copy your key" dialog is open
    secret_name: str = ""

    revoke_id: str = ""
    revoke_name: str = ""

    def _reload(self, ident: Identity) -> None:
        with session_scope() as session:
            names = {w.id: w.name for w in widget_svc.list_widgets(session, ident.tenant_id)}
            self.rows = [_row(k, names) for k in svc.list_keys(session, ident.tenant_id)]
        self.widget_options = [WidgetOption(id=i, name=n) for i, n in names.items()]
        self.can_manage = can(ident.role, Action.manage_keys)
        self.loaded = True

    @rx.event
    def load(self):
        self._reload(self._require())

    @rx.event
    def open_create(self):
        ident = self._require()
        if not can(ident.role, Action.manage_keys):
            return rx.toast.error("Only owners and admins can create keys.")
        self.name_error = self.scopes_error = self.form_error = ""
        self.scope_chat, self.scope_documents, self.scope_admin = True, False, False
        self.scope_inbox = False
        self.widget_choice = ALL_WIDGETS
        self.create_open = True
        return None

    @rx.event
    def set_create_open(self, value: bool):
        self.create_open = value

    @rx.event
    def set_scope_chat(self, value: bool):
        self.scope_chat = value

    @rx.event
    def set_scope_documents(self, value: bool):
        self.scope_documents = value

    @rx.event
    def set_scope_inbox(self, value: bool):
        self.scope_inbox = value

    @rx.event
    def set_scope_admin(self, value: bool):
        self.scope_admin = value

    @rx.event
    def set_widget_choice(self, value: str):
        self.widget_choice = value

    @rx.event
    def create(self, form: dict):
        ident = self._require()
        self.name_error = self.scopes_error = self.form_error = ""
        scopes = [
            s
            for s, on in (
                ("chat", self.scope_chat),
                ("documents", self.scope_documents),
                ("inbox", self.scope_inbox),
                ("admin", self.scope_admin),
            )
            if on
        ]
        widget_id = None if self.widget_choice == ALL_WIDGETS else self.widget_choice
        try:
            created = create_key_as(
                ident, str(form.get("name", ""))[:500], scopes, widget_id, self._actor(ident)
            )
        except PermissionDeniedError as exc:
            self.create_open = False
            return rx.toast.error(str(exc))
        except NotFoundError:
            self.form_error = "That widget no longer exists."
            self._reload(ident)
            return None
        except svc.ApiKeyError as exc:
            target = {"name": "name_error", "scopes": "scopes_error"}.get(exc.field or "")
            setattr(self, target or "form_error", str(exc))
            return None
        self.create_open = False
        self.secret = created.secret
        self.secret_name = created.key.name
        self._reload(ident)
        return rx.toast.success("Key created. Copy it now: it is shown only once.")

    @rx.event
    def close_secret(self):
        """Forget the secret for good: it cannot be shown again."""
        self.secret = ""
        self.secret_name = ""

    @rx.event
    def ask_revoke(self, key_id: str, name: str):
        ident = self._require()
        if not can(ident.role, Action.manage_keys):
            return rx.toast.error("Only owners and admins can revoke keys.")
        self.revoke_id, self.revoke_name = key_id, name
        return None

    @rx.event
    def cancel_revoke(self):
        self.revoke_id = self.revoke_name = ""

    @rx.event
    def revoke(self):
        ident = self._require()
        key_id, name = self.revoke_id, self.revoke_name
        self.revoke_id = self.revoke_name = ""
        try:
            revoke_key_as(ident, key_id, self._actor(ident))
        except PermissionDeniedError as exc:
            return rx.toast.error(str(exc))
        except NotFoundError:
            self._reload(ident)
            return rx.toast.error("That key no longer exists.")
        self._reload(ident)
        return rx.toast.success(f"Revoked “{name}”. Requests with it now fail.")
