"""The widget editor's "Actions" card: built-in actions switched on or off, the owner's
HTTP actions listed, added, edited and deleted (app.services.actions validates, encrypts
header values and writes the audit log). Header values are write-only: the page gets
their names only."""

from __future__ import annotations

import json
from dataclasses import dataclass

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import actions as svc
from app.services.action_builtins import BUILTINS
from app.services.permissions import PermissionDeniedError
from app.state.auth import AuthState

EXAMPLE_SCHEMA = json.dumps(
    {
        "type": "object",
        "properties": {"order_id": {"type": "string", "description": "The order number"}},
        "required": ["order_id"],
    },
    indent=2,
)


@dataclass
class ActionRow:
    id: str = ""
    name: str = ""
    description: str = ""
    method: str = ""
    url: str = ""
    headers: str = ""  # names only
    changes_something: bool = False
    enabled: bool = True


@dataclass
class BuiltinRow:
    name: str = ""
    description: str = ""
    enabled: bool = False
    changes_something: bool = False


def parse_headers(text: str) -> dict[str, str | None]:
    """ "Name: value" lines; "Name:" with nothing after removes it; names not listed keep
    their stored value."""
    out: dict[str, str | None] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise svc.ActionError(
                f"Write headers as Name: value ({line.strip()[:40]!r}).", "headers"
            )
        out[name.strip()] = value.strip()
    return out


class WidgetActionsState(AuthState):
    actions: list[ActionRow] = []
    builtins: list[BuiltinRow] = []
    actions_error: str = ""
    # The add/edit dialog.
    form_open: bool = False
    form_id: str = ""
    form_name: str = ""
    form_description: str = ""
    form_parameters: str = ""
    form_method: str = "GET"
    form_url: str = ""
    form_headers: str = ""
    form_stored_headers: str = ""
    form_changes: bool = False
    form_enabled: bool = True
    form_timeout: str = "10"
    form_errors: dict[str, str] = {}
    _widget_id: str = ""

    @rx.event
    def load(self):
        ident = self._require()
        self._widget_id = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1][:64]
        try:
            with session_scope() as session:
                rows = svc.list_actions(session, ident.tenant_id, self._widget_id)
                own = [
                    ActionRow(
                        id=a.id,
                        name=a.name,
                        description=a.description,
                        method=a.method,
                        url=a.url_template,
                        headers=", ".join(a.header_names),
                        changes_something=a.changes_something,
                        enabled=a.enabled,
                    )
                    for a in rows
                    if not a.builtin
                ]
                on = {a.name for a in rows if a.builtin and a.enabled}
        except NotFoundError:
            return
        self.actions = own
        self.builtins = [
            BuiltinRow(b.name, b.description, b.name in on, b.changes_something)
            for b in BUILTINS.values()
        ]

    @rx.event
    def toggle_builtin(self, name: str, value: bool):
        ident = self._require()
        try:
            with session_scope() as session:
                svc.set_builtin(
                    session, ident.tenant_id, ident.role, self._widget_id, str(name),
                    bool(value), actor=self._actor(ident),
                )  # fmt: skip
        except (svc.ActionError, PermissionDeniedError, NotFoundError) as exc:
            self.actions_error = _message(exc)
            return
        self.actions_error = ""
        self.load()

    @rx.event
    def open_new(self):
        self.form_open, self.form_id, self.form_errors = True, "", {}
        self.form_name = self.form_description = self.form_url = self.form_headers = ""
        self.form_stored_headers = ""
        self.form_parameters, self.form_method = EXAMPLE_SCHEMA, "GET"
        self.form_changes, self.form_enabled, self.form_timeout = False, True, "10"

    @rx.event
    def open_edit(self, action_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                rows = svc.list_actions(session, ident.tenant_id, self._widget_id)
        except NotFoundError:
            return
        action = next((a for a in rows if a.id == action_id and not a.builtin), None)
        if action is None:
            return
        self.form_open, self.form_id, self.form_errors = True, action.id, {}
        self.form_name, self.form_description = action.name, action.description
        self.form_parameters = json.dumps(action.parameters, indent=2)
        self.form_method, self.form_url = action.method, action.url_template
        self.form_headers = ""  # write-only: values are never sent to the page
        self.form_stored_headers = ", ".join(action.header_names)
        self.form_changes, self.form_enabled = action.changes_something, action.enabled
        self.form_timeout = f"{action.timeout_s:g}"

    @rx.event
    def set_form_open(self, value: bool):
        self.form_open = bool(value)

    @rx.event
    def set_form_method(self, value: str):
        self.form_method = str(value)

    @rx.event
    def set_form_changes(self, value: bool):
        self.form_changes = bool(value)

    @rx.event
    def set_form_enabled(self, value: bool):
        self.form_enabled = bool(value)

    @rx.event
    def save_action(self, form: dict):
        ident = self._require()
        for key in ("name", "description", "parameters", "url", "headers", "timeout"):
            setattr(self, f"form_{key}", str(form.get(key) or ""))
        try:
            data = svc.ActionInput(
                name=self.form_name,
                description=self.form_description,
                parameters=self.form_parameters,
                method=self.form_method,
                url_template=self.form_url,
                headers=parse_headers(self.form_headers),
                changes_something=self.form_changes,
                enabled=self.form_enabled,
                timeout_s=_float(self.form_timeout),
            )
            with session_scope() as session:
                if self.form_id:
                    svc.update_action(
                        session, ident.tenant_id, ident.role, self.form_id, data,
                        actor=self._actor(ident),
                    )  # fmt: skip
                else:
                    svc.create_action(
                        session, ident.tenant_id, ident.role, self._widget_id, data,
                        actor=self._actor(ident),
                    )  # fmt: skip
        except svc.ActionError as exc:
            self.form_errors = {exc.field or "form": str(exc)}
            return None
        except (PermissionDeniedError, NotFoundError) as exc:
            self.form_errors = {"form": _message(exc)}
            return None
        self.form_open, self.form_errors, self.form_headers = False, {}, ""
        self.load()
        return rx.toast.success("Action saved.")

    @rx.event
    def delete_action(self, action_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                svc.delete_action(
                    session, ident.tenant_id, ident.role, str(action_id), actor=self._actor(ident)
                )
        except (PermissionDeniedError, NotFoundError) as exc:
            self.actions_error = _message(exc)
            return None
        self.actions_error = ""
        self.load()
        return rx.toast.success("Action deleted.")


def _float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise svc.ActionError("The timeout is a number of seconds.", "timeout_s") from None


def _message(exc: Exception) -> str:
    if isinstance(exc, PermissionDeniedError):
        return "Only owners and admins can change actions."
    if isinstance(exc, NotFoundError):
        return "This widget or action no longer exists."
    return str(exc)
