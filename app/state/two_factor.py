"""The two-factor page: set up TOTP with a QR code, see recovery codes once, turn it off.

The seed and the QR code are in page state only between "Set up" and the confirming code;
recovery codes only until "I saved them". Handlers here stay usable while the workspace
requires two-factor codes the account lacks (that is what this page is for).
"""

from __future__ import annotations

import reflex as rx

from app import routes
from app.db import session_scope
from app.models import User
from app.services import two_factor
from app.state.auth import AuthState


class TwoFactorState(AuthState):
    loaded: bool = False
    enabled: bool = False
    required: bool = False  # a workspace of this account requires it
    codes_left: int = 0
    enrolling: bool = False
    qr_data_url: str = ""
    secret_text: str = ""
    code_error: str = ""
    recovery_codes: list[str] = []
    password_error: str = ""

    def _user(self, session) -> User:  # type: ignore[no-untyped-def]
        ident = self._require(allow_two_factor_setup=True)
        user = session.get(User, ident.user_id)
        if user is None:
            raise PermissionError("account gone")
        return user

    def _reload(self) -> None:
        with session_scope() as session:
            user = self._user(session)
            self.enabled = two_factor.is_enabled(user)
            self.required = two_factor.workspace_requires(session, user.id)
            self.codes_left = two_factor.recovery_codes_left(session, user.id)
        self.loaded = True

    @rx.event
    def load(self):
        self.enrolling = False
        self.qr_data_url = self.secret_text = self.code_error = self.password_error = ""
        self.recovery_codes = []
        self._reload()

    @rx.event
    def start(self):
        with session_scope() as session:
            user = self._user(session)
            try:
                enrolment = two_factor.begin_enrolment(session, user)
            except two_factor.TwoFactorError as exc:
                return rx.toast.error(str(exc))
        self.qr_data_url = enrolment.qr_data_url
        # Grouped by 4 for typing into an app by hand.
        self.secret_text = " ".join(
            enrolment.secret[i : i + 4] for i in range(0, len(enrolment.secret), 4)
        )
        self.code_error = ""
        self.enrolling = True
        return None

    @rx.event
    def confirm(self, form: dict):
        self.code_error = ""
        ident = self._require(allow_two_factor_setup=True)
        try:
            with session_scope() as session:
                user = self._user(session)
                codes = two_factor.confirm_enrolment(
                    session, user, str(form.get("code", ""))[:64], self._actor(ident)
                )
        except two_factor.TwoFactorError as exc:
            self.code_error = str(exc)
            return None
        self.enrolling = False
        self.qr_data_url = self.secret_text = ""
        self.recovery_codes = codes
        self._reload()
        return rx.toast.success("Two-factor codes are on.")

    @rx.event
    def saved_codes(self):
        self.recovery_codes = []
        return rx.redirect(routes.SETTINGS + "?tab=account")

    @rx.event
    def cancel(self):
        self.enrolling = False
        self.qr_data_url = self.secret_text = self.code_error = ""

    @rx.event
    def disable(self, form: dict):
        self.password_error = ""
        ident = self._require(allow_two_factor_setup=True)
        try:
            with session_scope() as session:
                user = self._user(session)
                two_factor.disable(
                    session, user, str(form.get("password", ""))[:2000], self._actor(ident)
                )
        except two_factor.TwoFactorError as exc:
            self.password_error = str(exc)
            return None
        self._reload()
        return rx.toast.success("Two-factor codes are off.")
