"""Sign-up and login forms: inline errors, then hand the one-time code to the cookie route."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.db import session_scope
from app.services import accounts
from app.services.throttle import ThrottleUnavailableError
from app.state.auth import post_form_script


class _FormState(rx.State):
    email_error: str = ""
    password_error: str = ""
    workspace_error: str = ""
    form_error: str = ""
    busy: bool = False

    def _clear_errors(self) -> None:
        self.email_error = self.password_error = self.workspace_error = self.form_error = ""

    def _show(self, exc: accounts.AccountError) -> None:
        target = {
            "email": "email_error",
            "password": "password_error",
            "workspace": "workspace_error",
        }.get(exc.field or "", "form_error")
        setattr(self, target, str(exc))

    def _client(self) -> tuple[str, str]:
        return self.router.session.client_ip or "", self.router.headers.user_agent or ""

    def _complete(self, code: str):
        return rx.call_script(post_form_script(routes.AUTH_COMPLETE, {"code": code}))


class SignupState(_FormState):
    @rx.event
    def submit(self, form: dict):
        self._clear_errors()
        ip, agent = self._client()
        try:
            with session_scope() as session:
                user, _tenant = accounts.sign_up(
                    session,
                    str(form.get("email", "")),
                    str(form.get("password", "")),
                    str(form.get("workspace", "")),
                    ip=ip,
                    user_agent=agent,
                )
                code = accounts.start_login(session, user, ip=ip, user_agent=agent)
        except accounts.AccountError as exc:
            self._show(exc)
            return None
        return self._complete(code)


class LoginState(_FormState):
    @rx.event
    def submit(self, form: dict):
        self._clear_errors()
        ip, agent = self._client()
        try:
            with session_scope() as session:
                user = accounts.authenticate(
                    session, str(form.get("email", "")), str(form.get("password", "")), ip, agent
                )
                code = accounts.start_login(session, user, ip=ip, user_agent=agent)
        except accounts.LoginThrottledError as exc:
            self.form_error = str(exc)
            return None
        except accounts.AccountError as exc:
            self._show(exc)
            return None
        except ThrottleUnavailableError:
            self.form_error = "Login is briefly unavailable. Please try again in a minute."
            return None
        return self._complete(code)
