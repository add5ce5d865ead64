"""Settings page: workspace name, plan and usage, provider credentials, account.

Handlers resolve the identity from the session cookie and pass its role to the services,
which refuse what the role may not do. Secrets typed into the credential form are sent
once with the form submit and never stored in this state; the page shows only "set" and
the last 4 characters.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from app import routes
from app.db import session_scope
from app.models import Tenant, User
from app.services import credentials, model_catalog, providers, two_factor, workspace
from app.services.permissions import Action, PermissionDeniedError, can
from app.state.auth import AuthState, post_form_script

AUTOMATIC_MODEL = "auto"  # the select's value for "no default model" ('' cannot be a value)
TABS = ("workspace", "providers", "members", "webhooks", "account", "audit")


@dataclasses.dataclass
class ProviderCard:
    key: str = ""
    label: str = ""
    status: str = ""  # "Set •••• 1234" / "Not set"
    is_set: bool = False
    base_url: str = ""  # OpenAI-compatible only
    test_message: str = ""
    test_ok: bool = False


def _fmt(n: int) -> str:
    return f"{n:,}"


class SettingsState(AuthState):
    loaded: bool = False
    can_rename: bool = False
    can_billing: bool = False
    can_credentials: bool = False
    can_delete: bool = False
    can_security: bool = False
    require_two_factor: bool = False
    two_factor_on: bool = False

    workspace_name: str = ""
    name_error: str = ""

    tier: str = "free"
    tokens_used: int = 0
    tokens_budget: int = 0
    usage_lines: list[list[str]] = []  # [label, value]

    tab: str = "workspace"
    provider_cards: list[ProviderCard] = []
    default_model: str = ""
    # The default-model list: {"value", "label"}, asked from the connected providers.
    model_options: list[dict[str, str]] = []
    models_note: str = ""
    models_loading: bool = False
    model_error: str = ""
    credential_error: str = ""
    testing: str = ""  # provider being tested

    current_password_error: str = ""
    new_password_error: str = ""
    confirm_password_error: str = ""
    delete_error: str = ""
    delete_open: bool = False

    @rx.var
    def token_percent(self) -> int:
        if self.tokens_budget <= 0:
            return 100
        return min(100, round(100 * self.tokens_used / self.tokens_budget))

    @rx.var
    def token_line(self) -> str:
        return f"{_fmt(self.tokens_used)} of {_fmt(self.tokens_budget)} tokens this month"

    def _reload(self, tenant_id: str, role: str) -> None:
        with session_scope() as session:
            tenant = session.get(Tenant, tenant_id)
            if tenant is None:
                return
            usage = workspace.plan_usage(session, tenant_id)
            masked = credentials.masked_credentials(tenant)
            previous = {c.key: c for c in self.provider_cards}
            cards = []
            for key, (label, fields, _model) in providers.PROVIDERS.items():
                secret_field = next(f for f in fields if not f.endswith("base_url"))
                url = (masked.get("compat_base_url") or "") if key == "openai_compatible" else ""
                is_set = bool(masked.get(secret_field)) or bool(url)
                status = (
                    f"Set {masked[secret_field]}"
                    if masked.get(secret_field)
                    else ("Set (no key)" if url else "Not set")
                )
                old = previous.get(key)
                cards.append(
                    ProviderCard(
                        key=key,
                        label=label,
                        status=status,
                        is_set=is_set,
                        base_url=url,
                        test_message=old.test_message if old else "",
                        test_ok=old.test_ok if old else False,
                    )
                )
            self.provider_cards = cards
            self.workspace_name = tenant.name
            self.require_two_factor = tenant.require_two_factor
            self.tenant_name = tenant.name
            self.default_model = tenant.default_model or ""
        self.tier = usage.tier
        self.tokens_used, self.tokens_budget = usage.tokens_used, usage.tokens_budget
        self.usage_lines = [
            ["Chat requests per hour (limit)", _fmt(usage.chats_per_hour)],
            ["Messages per visitor per minute (limit)", _fmt(usage.visitor_per_minute)],
            ["Messages this month", _fmt(usage.messages_this_month)],
            ["Documents", _fmt(usage.documents)],
            ["Active API keys", _fmt(usage.active_keys)],
            ["Members", _fmt(usage.members)],
        ]
        self.can_rename = can(role, Action.rename_workspace)
        self.can_billing = can(role, Action.manage_billing)
        self.can_credentials = can(role, Action.manage_credentials)
        self.can_delete = can(role, Action.delete_workspace)
        self.can_security = can(role, Action.manage_members)
        self.loaded = True

    @rx.event
    def load(self):
        ident = self._require()
        # /settings?tab=providers opens that tab; a plain visit starts on the first one.
        requested = str(self.router.url.query_parameters.get("tab", ""))
        self.tab = requested if requested in TABS else "workspace"
        self._reload(ident.tenant_id, ident.role)
        with session_scope() as session:
            user = session.get(User, ident.user_id)
            self.two_factor_on = bool(user and two_factor.is_enabled(user))
        return SettingsState.load_models

    @rx.event
    def set_tab(self, value: str):
        self.tab = value if value in TABS else "workspace"

    @rx.var
    def model_choice(self) -> str:
        return self.default_model or AUTOMATIC_MODEL

    @rx.event(background=True)
    async def load_models(self):
        """Ask each connected provider for its models (seconds at most, off the event loop)."""
        async with self:
            ident = self._require()
            self.models_loading = True
        with session_scope() as session:
            tenant = session.get(Tenant, ident.tenant_id)
            creds = credentials.credentials_for(tenant) if tenant is not None else None
        catalog = await model_catalog.list_models(creds) if creds is not None else None
        async with self:
            self.models_loading = False
            if catalog is None:
                return
            options = [
                {
                    "value": o.model,
                    "label": f"{o.model} · {model_catalog.LABELS.get(o.provider, o.provider)}",
                }
                for o in catalog.options
            ]
            if self.default_model and self.default_model not in {o["value"] for o in options}:
                options.insert(0, {"value": self.default_model, "label": self.default_model})
            self.model_options = options
            self.models_note = "; ".join(
                f"Could not list {model_catalog.LABELS.get(p, p)} models ({why}): "
                + ("showing its known models." if model_catalog.known_models(p) else "none shown.")
                for p, why in catalog.unreachable.items()
            )

    # ---- workspace and plan -------------------------------------------------------------

    @rx.event
    def rename(self, form: dict):
        ident = self._require()
        self.name_error = ""
        try:
            with session_scope() as session:
                workspace.rename_workspace(
                    session,
                    ident.tenant_id,
                    ident.role,
                    str(form.get("name", ""))[:500],
                    actor=self._actor(ident),
                )
        except PermissionDeniedError as exc:
            return rx.toast.error(str(exc))
        except workspace.WorkspaceError as exc:
            self.name_error = str(exc)
            return None
        self._reload(ident.tenant_id, ident.role)
        return rx.toast.success("Workspace renamed.")

    @rx.event
    def set_require_two_factor(self, value: bool):
        ident = self._require()
        try:
            with session_scope() as session:
                two_factor.set_workspace_requirement(
                    session, ident.tenant_id, ident.role, bool(value), self._actor(ident)
                )
        except PermissionDeniedError as exc:
            return rx.toast.error(str(exc))
        self._reload(ident.tenant_id, ident.role)
        if value and not self.two_factor_on:
            # The owner who asks for it sets it up first, like everyone else.
            return rx.redirect(routes.TWO_FACTOR)
        return rx.toast.success(
            "Two-factor codes are now required." if value else "Two-factor codes are optional."
        )

    @rx.event
    def change_tier(self, tier: str | list[str]):
        ident = self._require()
        tier = tier if isinstance(tier, str) else (tier[0] if tier else "")
        try:
            with session_scope() as session:
                workspace.set_tier(
                    session, ident.tenant_id, ident.role, tier, actor=self._actor(ident)
                )
        except (PermissionDeniedError, workspace.WorkspaceError) as exc:
            return rx.toast.error(str(exc))
        self._reload(ident.tenant_id, ident.role)
        return rx.toast.success(f"Plan changed to {tier}.")

    # ---- providers ----------------------------------------------------------------------

    @rx.event
    def save_provider(self, form: dict):
        """Save the fields of one provider's form; secrets go straight to encrypted storage."""
        ident = self._require()
        self.credential_error = ""
        updates = {
            k: str(v)[:1000] for k, v in form.items() if k in providers.EDITABLE and str(v).strip()
        }
        try:
            with session_scope() as session:
                tenant = session.get(Tenant, ident.tenant_id)
                providers.save_credentials(
                    session, tenant, ident.role, updates, actor=self._actor(ident)
                )
        except PermissionDeniedError as exc:
            return rx.toast.error(str(exc))
        except providers.ProviderSettingsError as exc:
            self.credential_error = str(exc)
            return rx.toast.error(str(exc))
        self._reload(ident.tenant_id, ident.role)
        return [
            SettingsState.load_models,
            rx.toast.success("Credentials saved (encrypted)."),
            rx.call_script(
                "document.querySelectorAll('form.provider-form input[type=password]')"
                ".forEach(i=>{i.value=''})"
            ),
        ]

    @rx.event
    def clear_provider(self, provider: str):
        ident = self._require()
        try:
            with session_scope() as session:
                tenant = session.get(Tenant, ident.tenant_id)
                providers.clear_provider(
                    session, tenant, ident.role, provider, actor=self._actor(ident)
                )
        except (PermissionDeniedError, providers.ProviderSettingsError) as exc:
            return rx.toast.error(str(exc))
        self._reload(ident.tenant_id, ident.role)
        return [SettingsState.load_models, rx.toast.success("Credentials removed.")]

    @rx.event
    def save_default_model(self, form: dict):
        ident = self._require()
        self.model_error = ""
        try:
            with session_scope() as session:
                tenant = session.get(Tenant, ident.tenant_id)
                chosen = str(form.get("default_model", ""))[:500]
                providers.set_default_model(
                    session,
                    tenant,
                    ident.role,
                    "" if chosen == AUTOMATIC_MODEL else chosen,
                    actor=self._actor(ident),
                )
        except PermissionDeniedError as exc:
            return rx.toast.error(str(exc))
        except providers.ProviderSettingsError as exc:
            self.model_error = str(exc)
            return None
        self._reload(ident.tenant_id, ident.role)
        return rx.toast.success("Default model saved.")

    @rx.event(background=True)
    async def test_provider(self, provider: str):
        async with self:
            ident = self._require()
            if self.testing:
                return
            self.testing = provider
        try:
            with session_scope() as session:
                tenant = session.get(Tenant, ident.tenant_id)
            result = await providers.check_connection(tenant, ident.role, provider)
            ok, message = result.ok, result.message
        except (PermissionDeniedError, providers.ProviderSettingsError) as exc:
            ok, message = False, str(exc)
        async with self:
            self.testing = ""
            self.provider_cards = [
                dataclasses.replace(c, test_message=message, test_ok=ok) if c.key == provider else c
                for c in self.provider_cards
            ]
        yield rx.toast.success(message) if ok else rx.toast.error(message)

    # ---- account ------------------------------------------------------------------------

    @rx.event
    def change_password(self, form: dict):
        ident = self._require()
        self.current_password_error = self.new_password_error = self.confirm_password_error = ""
        new = str(form.get("new_password", ""))[:2000]
        if new != str(form.get("confirm_password", ""))[:2000]:
            self.confirm_password_error = "The two new passwords differ."  # noqa: S105
            return None
        try:
            with session_scope() as session:
                revoked = workspace.change_password(
                    session,
                    ident.user_id,
                    ident.session_id,
                    str(form.get("current_password", ""))[:2000],
                    new,
                    tenant_id=ident.tenant_id,
                    actor=self._actor(ident),
                )
        except workspace.WorkspaceError as exc:
            setattr(self, f"{exc.field or 'new_password'}_error", str(exc))
            return None
        others = f" {revoked} other session(s) were signed out." if revoked else ""
        return [
            rx.toast.success("Password changed." + others),
            rx.call_script("document.getElementById('password-form').reset()"),
        ]

    @rx.event
    def set_delete_open(self, value: bool):
        self.delete_open = value
        self.delete_error = ""

    @rx.event
    def delete_workspace(self, form: dict):
        ident = self._require()
        self.delete_error = ""
        try:
            with session_scope() as session:
                workspace.delete_workspace(
                    session,
                    ident.tenant_id,
                    ident.role,
                    str(form.get("confirm", ""))[:500],
                    actor=self._actor(ident),
                )
        except PermissionDeniedError as exc:
            self.delete_open = False
            return rx.toast.error(str(exc))
        except workspace.WorkspaceError as exc:
            self.delete_error = str(exc)
            return None
        self.delete_open = False
        self.signed_in = False
        # The session rows are gone with the workspace; this also clears the cookie.
        return rx.call_script(post_form_script(routes.AUTH_LOGOUT, {}))
