"""/verify-email/<token> and the Account tab's "email address" card."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.db import session_scope
from app.models import User
from app.services import account_tokens, verification
from app.services.throttle import ThrottleUnavailableError
from app.settings import get_settings
from app.state.auth import AuthState
from app.state.password import token_from


class VerifyEmailState(AuthState):
    status: str = ""  # "" while loading, then verified | expired | used | invalid
    verified_email: str = ""

    @rx.event
    def load(self):
        query = self.router.url.query_parameters.get("token")
        token = token_from(
            self.router.url.path, query if isinstance(query, str) else None, routes.VERIFY_EMAIL
        )
        self.verified_email = ""
        try:
            with session_scope() as session:
                user = verification.verify(session, token)
                self.verified_email = user.email
        except account_tokens.TokenError as exc:
            self.status = exc.status
            return
        self.status = "verified"


class EmailStatusState(AuthState):
    """Whether the signed-in person's address is verified, and a way to get a new link."""

    email_enabled: bool = False
    email: str = ""
    verified: bool = False
    delivery: str = ""  # the last verification email's state, in words
    delivery_failed: bool = False
    error: str = ""

    def _refresh(self, user_id: str) -> None:
        with session_scope() as session:
            user = session.get(User, user_id)
            status = verification.last_delivery(session, user_id)
        self.email_enabled = get_settings().email_enabled
        self.email = user.email if user else ""
        self.verified = bool(user and verification.is_verified(user))
        self.delivery = status.message if status and not self.verified else ""
        self.delivery_failed = bool(status and status.state in ("retrying", "failed"))

    @rx.event
    def load(self):
        self.error = ""
        self._refresh(self._require().user_id)

    @rx.event
    def resend(self):
        ident = self._require()
        self.error = ""
        try:
            with session_scope() as session:
                sent = verification.resend(session, ident.user_id, self.router.session.client_ip)
        except verification.VerificationError as exc:
            self.error = str(exc)
            return None
        except ThrottleUnavailableError:
            self.error = "Sending is briefly unavailable. Try again in a minute."
            return None
        self._refresh(ident.user_id)
        if sent:
            return rx.toast.success(f"We sent a new link to {self.email}.")
        return None
