"""Settings → Workspace → Single sign-on (owners): the provider, and the email domains with
their DNS TXT records. The client secret is sent once with the form and never held here."""

from __future__ import annotations

import dataclasses

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import workspace_sso
from app.services.oauth_providers import redirect_uri
from app.services.permissions import Action, PermissionDeniedError, can
from app.state.auth import AuthState


@dataclasses.dataclass
class DomainView:
    id: str = ""
    domain: str = ""
    verified: bool = False
    txt_name: str = ""
    txt_value: str = ""


class SsoState(AuthState):
    allowed: bool = False
    configured: bool = False
    issuer: str = ""
    client_id: str = ""
    enabled: bool = False
    jit: bool = False
    default_role: str = "member"
    domains: list[DomainView] = []
    error: str = ""
    domain_error: str = ""
    callback_url: str = ""

    def _reload(self) -> None:
        ident = self._require()
        self.allowed = can(ident.role, Action.manage_sso)
        if not self.allowed:
            return
        self.callback_url = redirect_uri("sso")
        with session_scope() as session:
            config = workspace_sso.get_config(session, ident.tenant_id)
            rows = workspace_sso.list_domains(session, ident.tenant_id)
            self.domains = [
                DomainView(
                    r.id, r.domain, r.verified_at is not None, *workspace_sso.txt_instructions(r)
                )
                for r in rows
            ]
        self.configured = config is not None
        if config is not None:
            self.issuer, self.client_id = config.issuer, config.client_id
            self.enabled, self.jit = config.enabled, config.jit
            self.default_role = str(config.default_role)

    @rx.event
    def load(self):
        self._reload()

    @rx.event
    def set_default_role(self, value: str):
        self.default_role = value if value in ("member", "admin") else "member"

    @rx.event
    def save(self, form: dict):
        ident = self._require()
        self.error = ""
        try:
            with session_scope() as session:
                workspace_sso.configure(
                    session,
                    ident.tenant_id,
                    ident.role,
                    self._actor(ident),
                    issuer=str(form.get("issuer", ""))[:600],
                    client_id=str(form.get("client_id", ""))[:300],
                    client_secret=str(form.get("client_secret", ""))[:2000],
                    enabled=form.get("enabled") == "on",
                    jit=form.get("jit") == "on",
                    default_role=self.default_role,
                )
        except (workspace_sso.SsoError, PermissionDeniedError) as exc:
            self.error = str(exc)
            return None
        self._reload()
        return [
            rx.toast.success("Single sign-on saved."),
            rx.call_script("document.getElementById('sso-client-secret').value=''"),
        ]

    @rx.event
    def add_domain(self, form: dict):
        ident = self._require()
        self.domain_error = ""
        try:
            with session_scope() as session:
                workspace_sso.add_domain(
                    session,
                    ident.tenant_id,
                    ident.role,
                    str(form.get("domain", ""))[:300],
                    self._actor(ident),
                )
        except (workspace_sso.SsoError, PermissionDeniedError) as exc:
            self.domain_error = str(exc)
            return None
        self._reload()
        return None

    @rx.event
    def verify(self, domain_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                workspace_sso.verify_domain(
                    session, ident.tenant_id, ident.role, domain_id, self._actor(ident)
                )
        except (workspace_sso.SsoError, PermissionDeniedError) as exc:
            return rx.toast.error(str(exc))
        except NotFoundError:
            pass
        self._reload()
        return rx.toast.success("Domain verified.")

    @rx.event
    def remove(self, domain_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                workspace_sso.remove_domain(
                    session, ident.tenant_id, ident.role, domain_id, self._actor(ident)
                )
        except PermissionDeniedError as exc:
            return rx.toast.error(str(exc))
        except NotFoundError:
            pass
        self._reload()
        return None
