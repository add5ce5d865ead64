"""Sign-up and login forms: inline errors, then hand the one-time code to the cookie route."""

from __future__ import annotations

import dataclasses
import json
import time
from urllib.parse import quote

import reflex as rx

from app import routes
from app.db import session_scope
from app.models import User
from app.services import accounts, two_factor
from app.services.oauth_providers import enabled_providers
from app.services.throttle import ThrottleUnavailableError
from app.state.auth import post_form_script

SECOND_STEP_S = 300.0
# What /login?error=<reason> says after a refused provider sign-in (reasons are slugs).
SOCIAL_ERRORS = {
    "wrong_state": "That sign-in expired or was started in another browser. Please try again.",
    "unverified_email": (
        "That account's email address is not verified by the provider, so it cannot sign in "
        "here. Verify it with the provider, or log in with your password."
    ),
    "provider_declined": "The sign-in was cancelled at the provider.",
    "unknown_provider": "That sign-in method is not available.",
    "no_sso": "Single sign-on is not set up for that email address. Log in with your password.",
    "not_a_member": (
        "Your company's sign-in worked, but you are not a member of its ChatConnect "
        "workspace yet. Ask an admin to invite you."
    ),
    "domain_not_covered": "Your company's sign-in returned an address SSO does not cover.",
    "use_sso": "Your company signs in with single sign-on: use “Sign in with SSO”.",
}
SOCIAL_FALLBACK = "Signing in with that provider did not work. Please try again."


@dataclasses.dataclass
class SocialButton:
    name: str = ""
    label: str = ""
    href: str = ""


def social_buttons() -> list[SocialButton]:
    return [
        SocialButton(p.name, p.label, f"{routes.OAUTH_PREFIX}/{p.name}/start")
        for p in enabled_providers().values()
    ]


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
    """Password first; accounts with two-factor codes then give a code (second step).

    Between the steps the account id waits in backend-only state (never sent to the
    browser) for at most five minutes.
    """

    step: str = "password"  # password | code | sso
    code_error: str = ""
    social: list[SocialButton] = []
    _pending_user_id: str = ""
    _pending_until: float = 0.0

    @rx.event
    def load(self):
        """on_load of /login and /signup: the provider buttons, and a refused sign-in's reason."""
        self.social = social_buttons()
        reason = str(self.router.url.query_parameters.get("error", ""))[:64]
        self.form_error = SOCIAL_ERRORS.get(reason, SOCIAL_FALLBACK) if reason else ""

    @rx.event
    def show_sso(self):
        self._clear_errors()
        self.step = "sso"

    @rx.event
    def start_sso(self, form: dict):
        """Off to /api/auth/oauth/sso/start, which finds the workspace from the domain."""
        self._clear_errors()
        try:
            email = accounts.normalize_email(str(form.get("email", ""))[:300])
        except accounts.AccountError as exc:
            self._show(exc)
            return None
        href = f"{routes.OAUTH_PREFIX}/sso/start?email={quote(email)}"
        return rx.call_script(f"window.location.assign({json.dumps(href)})")

    @rx.event
    def start_social(self, name: str):
        """Leave the app for the provider's start route (an HTTP redirect, not a page: the
        client-side router must not handle it, so the browser loads it itself)."""
        button = next((b for b in social_buttons() if b.name == name), None)
        if button is None:
            self.form_error = SOCIAL_ERRORS["unknown_provider"]
            return None
        return rx.call_script(f"window.location.assign({json.dumps(button.href)})")

    @rx.event
    def submit(self, form: dict):
        self._clear_errors()
        ip, agent = self._client()
        try:
            with session_scope() as session:
                user = accounts.authenticate(
                    session, str(form.get("email", "")), str(form.get("password", "")), ip, agent
                )
                if two_factor.is_enabled(user):
                    self._pending_user_id = user.id
                    self._pending_until = time.time() + SECOND_STEP_S
                    self.step = "code"
                    self.code_error = ""
                    return None
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

    @rx.event
    def submit_code(self, form: dict):
        self.code_error = self.form_error = ""
        ip, agent = self._client()
        if not self._pending_user_id or time.time() > self._pending_until:
            self.cancel_code()
            self.form_error = "That took too long. Log in again."
            return None
        try:
            with session_scope() as session:
                user = session.get(User, self._pending_user_id)
                if user is None or not two_factor.is_enabled(user):
                    self.cancel_code()
                    return None
                method = two_factor.check_code(
                    session, user, str(form.get("code", ""))[:64], ip, agent
                )
                code = accounts.start_login(
                    session, user, ip=ip, user_agent=agent, method=f"password+{method}"
                )
        except two_factor.TwoFactorError as exc:
            self.code_error = str(exc)
            return None
        except accounts.LoginThrottledError as exc:
            self.code_error = str(exc)
            return None
        except ThrottleUnavailableError:
            self.code_error = "Login is briefly unavailable. Please try again in a minute."
            return None
        self._pending_user_id = ""
        return self._complete(code)

    @rx.event
    def cancel_code(self):
        self._pending_user_id = ""
        self._pending_until = 0.0
        self.step = "password"
        self.code_error = ""
