"""Who is signed in. Every dashboard loader and handler resolves the session on the server.

The session cookie is HttpOnly: page JavaScript never sees it. The backend reads it from
the websocket handshake headers (`router.headers.cookie`), which Reflex never sends back
to the browser.
"""

from __future__ import annotations

import json
from http.cookies import CookieError, SimpleCookie

import reflex as rx

from app import routes
from app.db import session_scope
from app.services import accounts, audit
from app.services.accounts import Identity


def _cookie_token(cookie_header: str) -> str | None:
    jar = SimpleCookie()
    try:
        jar.load(cookie_header or "")
    except CookieError:
        return None
    morsel = jar.get(routes.SESSION_COOKIE)
    return morsel.value if morsel else None


def post_form_script(action: str, fields: dict[str, str]) -> str:
    """JavaScript that submits a hidden POST form: how the cookie-setting routes are reached."""
    return (
        "(()=>{const f=document.createElement('form');f.method='POST';"
        f"f.action={json.dumps(action)};"
        f"for(const [k,v] of Object.entries({json.dumps(fields)}))"
        "{const i=document.createElement('input');i.type='hidden';i.name=k;i.value=v;"
        "f.appendChild(i);}document.body.appendChild(f);f.submit();})()"
    )


class AuthState(rx.State):
    """The signed-in user and workspace, as the sidebar shows them."""

    user_email: str = ""
    tenant_name: str = ""
    role: str = ""
    signed_in: bool = False

    def _identity(self) -> Identity | None:
        token = _cookie_token(self.router.headers.cookie)
        with session_scope() as session:
            return accounts.identity_for_token(session, token)

    def _actor(self, ident: Identity) -> audit.Actor:
        """Who the audit log names for this handler's changes, with where they came from."""
        return audit.Actor.user(
            ident.user_id,
            ident.email,
            self.router.session.client_ip or "",
            self.router.headers.user_agent or "",
        )

    def _require(self, allow_two_factor_setup: bool = False) -> Identity:
        """The identity for this handler, or PermissionError (never trust page state).

        While the workspace requires two-factor codes that this account lacks, only the
        two-factor page's handlers (`allow_two_factor_setup`) may act.
        """
        ident = self._identity()
        if ident is None:
            self.signed_in = False
            raise PermissionError("not signed in")
        if ident.two_factor_setup_required and not allow_two_factor_setup:
            raise PermissionError("two-factor setup required")
        return ident

    @rx.event
    def require_login(self):
        """on_load of every dashboard page."""
        ident = self._identity()
        if ident is None:
            self.signed_in = False
            self.user_email = self.tenant_name = self.role = ""
            return rx.redirect(routes.LOGIN)
        self.signed_in = True
        self.user_email = ident.email
        self.tenant_name = ident.tenant_name
        self.role = ident.role.value
        on_setup_page = (self.router.url.path or "").rstrip("/") == routes.TWO_FACTOR
        if ident.two_factor_setup_required and not on_setup_page:
            return rx.redirect(routes.TWO_FACTOR)
        return None

    @rx.event
    def redirect_if_signed_in(self):
        """on_load of /login and /signup."""
        if self._identity() is not None:
            return rx.redirect(routes.OVERVIEW)
        return None

    @rx.event
    def logout(self):
        self.signed_in = False
        self.user_email = self.tenant_name = self.role = ""
        return rx.call_script(post_form_script(routes.AUTH_LOGOUT, {}))
