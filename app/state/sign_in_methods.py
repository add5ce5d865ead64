"""Settings → Account → Sign-in methods: see them, remove any but the last."""

from __future__ import annotations

import dataclasses

import reflex as rx

from app.db import session_scope
from app.services import sign_in_methods
from app.state.auth import AuthState


@dataclasses.dataclass
class MethodView:
    id: str = ""
    label: str = ""
    detail: str = ""


class SignInMethodsState(AuthState):
    methods: list[MethodView] = []

    @rx.var
    def can_remove(self) -> bool:
        return len(self.methods) > 1

    def _reload(self, user_id: str) -> None:
        with session_scope() as session:
            rows = sign_in_methods.list_methods(session, user_id)
        self.methods = [MethodView(m.id, m.label, m.detail) for m in rows]

    @rx.event
    def load(self):
        self._reload(self._require().user_id)

    @rx.event
    def remove(self, method_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                sign_in_methods.remove_method(
                    session, ident.user_id, method_id[:64], self._actor(ident)
                )
        except sign_in_methods.SignInMethodError as exc:
            self._reload(ident.user_id)
            return rx.toast.error(str(exc))
        self._reload(ident.user_id)
        return rx.toast.success("Sign-in method removed.")
