"""The /invite/<token> page: see which workspace invites you, then join it by signing up,
logging in, or (already signed in) with one click. Joining switches the session to it."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.db import session_scope
from app.models import User
from app.services import accounts, team, two_factor
from app.services.throttle import ThrottleUnavailableError
from app.state.auth import AuthState, post_form_script


class InviteState(AuthState):
    status: str = ""  # "" while loading, then valid | expired | used | invalid
    invite_workspace: str = ""
    invite_role: str = ""
    invite_email: str = ""
    signed_in_as: str = ""
    mode: str = "signup"  # signup | login
    email_error: str = ""
    password_error: str = ""
    form_error: str = ""

    def _token(self) -> str:
        path = (self.router.url.path or "").rstrip("/")
        token = path.rsplit("/", 1)[-1] if path.startswith("/invite/") else ""
        return token[:128]

    def _switch_to(self, session, user: User, tenant_id: str, old_session_id: str | None):  # type: ignore[no-untyped-def]
        """A fresh session bound to the joined workspace; the old one is revoked."""
        if old_session_id:
            accounts.revoke_session(session, old_session_id)
        code = accounts.start_login(
            session,
            user,
            ip=self.router.session.client_ip or "",
            user_agent=self.router.headers.user_agent or "",
            tenant_id=tenant_id,
            method="invitation",
        )
        return rx.call_script(post_form_script(routes.AUTH_COMPLETE, {"code": code}))

    @rx.event
    def load(self):
        ident = self._identity()
        self.signed_in_as = ident.email if ident else ""
        self.email_error = self.password_error = self.form_error = ""
        with session_scope() as session:
            preview = team.preview_invitation(session, self._token())
        self.status = preview.status
        self.invite_workspace, self.invite_role = preview.tenant_name, preview.role
        self.invite_email = preview.email

    @rx.event
    def set_mode(self, mode: str | list[str]):
        self.mode = "login" if mode in ("login", ["login"]) else "signup"
        self.email_error = self.password_error = self.form_error = ""

    def _accept(self, session, user: User, old_session_id: str | None):  # type: ignore[no-untyped-def]
        invitation = team.accept_invitation(
            session, self._token(), user, ip=self._ip(), user_agent=self._agent()
        )
        return self._switch_to(session, user, invitation.tenant_id, old_session_id)

    def _ip(self) -> str:
        return self.router.session.client_ip or ""

    def _agent(self) -> str:
        return self.router.headers.user_agent or ""

    @rx.event
    def join_signed_in(self):
        ident = self._require()
        self.form_error = ""
        try:
            with session_scope() as session:
                user = session.get(User, ident.user_id)
                return self._accept(session, user, ident.session_id)
        except team.TeamError as exc:
            self.form_error = str(exc)
            return None

    @rx.event
    def submit(self, form: dict):
        self.email_error = self.password_error = self.form_error = ""
        email = str(form.get("email", ""))[:300]
        password = str(form.get("password", ""))[:2000]
        try:
            with session_scope() as session:
                if self.mode == "signup":
                    user, invitation = team.sign_up_invited(
                        session,
                        self._token(),
                        email,
                        password,
                        ip=self._ip(),
                        user_agent=self._agent(),
                    )
                    return self._switch_to(session, user, invitation.tenant_id, None)
                user = accounts.authenticate(session, email, password, self._ip(), self._agent())
                if two_factor.is_enabled(user):
                    # The link's login has no code step: sign in first, then join.
                    raise accounts.AccountError(
                        "This account uses two-factor codes: log in first, then open this "
                        "link again."
                    )
                return self._accept(session, user, None)
        except (team.TeamError, accounts.AccountError) as exc:
            target = {"email": "email_error", "password": "password_error"}.get(
                exc.field or "", "form_error"
            )
            setattr(self, target, str(exc))
        except ThrottleUnavailableError:
            self.form_error = "Login is briefly unavailable. Please try again in a minute."
        return None
