"""/forgot-password and /reset-password/<token>: thin states over app.services.password_reset."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.db import session_scope
from app.services import account_tokens, accounts, password_reset
from app.services.throttle import ThrottleUnavailableError
from app.settings import get_settings


def token_from(path: str, query_token: str | None, prefix: str) -> str:
    """The token of /<prefix>/<token>, or of ?token=... (both forms appear in mail)."""
    path = (path or "").rstrip("/")
    token = path.rsplit("/", 1)[-1] if path.startswith(prefix + "/") else ""
    return (token or query_token or "")[: account_tokens.MAX_TOKEN_LENGTH]


class ForgotPasswordState(rx.State):
    email_enabled: bool = True
    sent: bool = False
    email_error: str = ""
    form_error: str = ""

    @rx.event
    def load(self):
        self.email_enabled = get_settings().email_enabled
        self.sent = False
        self.email_error = self.form_error = ""

    @rx.event
    def submit(self, form: dict):
        self.email_error = self.form_error = ""
        try:
            with session_scope() as session:
                password_reset.request_reset(
                    session, str(form.get("email", ""))[:300], self.router.session.client_ip or ""
                )
        except password_reset.ResetThrottledError as exc:
            self.form_error = str(exc)
            return
        except accounts.AccountError as exc:
            self.email_error = str(exc)
            return
        except ThrottleUnavailableError:
            self.form_error = "Password reset is briefly unavailable. Try again in a minute."
            return
        self.sent = True


class ResetPasswordState(rx.State):
    status: str = ""  # "" while loading, then valid | expired | used | invalid | done
    password_error: str = ""
    confirm_error: str = ""
    form_error: str = ""

    def _token(self) -> str:
        query = self.router.url.query_parameters.get("token")
        return token_from(
            self.router.url.path, query if isinstance(query, str) else None, routes.RESET_PASSWORD
        )

    @rx.event
    def load(self):
        self.password_error = self.confirm_error = self.form_error = ""
        with session_scope() as session:
            self.status = password_reset.token_status(session, self._token())

    @rx.event
    def submit(self, form: dict):
        self.password_error = self.confirm_error = self.form_error = ""
        password = str(form.get("password", ""))[:2000]
        if password != str(form.get("confirm", ""))[:2000]:
            self.confirm_error = "The two passwords are not the same."
            return
        try:
            with session_scope() as session:
                password_reset.reset_password(
                    session,
                    self._token(),
                    password,
                    ip=self.router.session.client_ip or "",
                    user_agent=self.router.headers.user_agent or "",
                )
        except account_tokens.TokenError as exc:
            self.status = exc.status
            return
        except accounts.AccountError as exc:
            self.password_error = str(exc)
            return
        self.status = "done"
