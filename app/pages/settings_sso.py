"""Settings → Workspace → Single sign-on (owners only)."""

from __future__ import annotations

import reflex as rx

from app.components.forms import field_error, labeled
from app.components.team_ui import section_card
from app.state.sso import DomainView, SsoState


def _domain_row(row: DomainView) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text(row.domain, size="2", weight="medium"),
            rx.cond(
                row.verified,
                rx.badge("Verified", color_scheme="green"),
                rx.badge("Not verified", color_scheme="amber"),
            ),
            rx.spacer(),
            rx.cond(
                ~row.verified,
                rx.button("Verify", size="1", variant="soft", on_click=SsoState.verify(row.id)),
            ),
            rx.button(
                "Remove",
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=SsoState.remove(row.id),
                aria_label="Remove " + row.domain,
            ),
            width="100%",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            ~row.verified,
            rx.text(
                "Add a TXT record ",
                rx.code(row.txt_name),
                " with the value ",
                rx.code(row.txt_value),
                ", then verify.",
                size="1",
                color_scheme="gray",
                style={"overflow_wrap": "anywhere"},
            ),
        ),
        width="100%",
        spacing="1",
        class_name="sso-domain",
    )


def _switch(name: str, label: str, checked: rx.Var) -> rx.Component:
    return rx.el.label(
        rx.hstack(
            rx.switch(name=name, default_checked=checked, key=checked.to_string()),
            rx.text(label, size="2"),
            align="center",
        ),
    )


def sso_section() -> rx.Component:
    return rx.cond(
        SsoState.allowed,
        section_card(
            "Single sign-on (SSO)",
            "Let people with your company's email domains sign in through your identity "
            "provider (Okta, Entra ID, Keycloak, Google Workspace: any OpenID Connect "
            "provider). Their password login is then refused; owners keep theirs.",
            rx.text(
                "Redirect URI to register with the provider: ",
                rx.code(SsoState.callback_url, id="sso-callback-url"),
                size="2",
                style={"overflow_wrap": "anywhere"},
            ),
            rx.form(
                rx.vstack(
                    labeled(
                        "Issuer URL",
                        "sso-issuer",
                        rx.input(
                            name="issuer",
                            id="sso-issuer",
                            default_value=SsoState.issuer,
                            key=SsoState.issuer,
                            placeholder="https://example.okta.com",
                            width="100%",
                        ),
                    ),
                    labeled(
                        "Client id",
                        "sso-client-id",
                        rx.input(
                            name="client_id",
                            id="sso-client-id",
                            default_value=SsoState.client_id,
                            key=SsoState.client_id,
                            width="100%",
                        ),
                    ),
                    labeled(
                        "Client secret",
                        "sso-client-secret",
                        rx.input(
                            name="client_secret",
                            id="sso-client-secret",
                            type="password",
                            auto_complete="off",
                            placeholder=rx.cond(
                                SsoState.configured, "Saved (leave empty to keep)", ""
                            ),
                            width="100%",
                        ),
                    ),
                    _switch("enabled", "SSO on for verified domains", SsoState.enabled),
                    _switch("jit", "Add new people on first sign-in", SsoState.jit),
                    labeled(
                        "Their role",
                        "sso-role",
                        rx.select.root(
                            rx.select.trigger(id="sso-role", aria_label="Role of new people"),
                            rx.select.content(
                                rx.select.item("Member", value="member"),
                                rx.select.item("Admin", value="admin"),
                            ),
                            value=SsoState.default_role,
                            on_change=SsoState.set_default_role,
                        ),
                    ),
                    field_error(SsoState.error, "sso-error"),
                    rx.button("Save", type="submit", id="sso-save"),
                    spacing="3",
                    width="100%",
                    max_width="520px",
                ),
                on_submit=SsoState.save,
                reset_on_submit=False,
            ),
            rx.separator(size="4"),
            rx.text("Email domains", size="2", weight="medium"),
            rx.vstack(
                rx.foreach(SsoState.domains, _domain_row),
                spacing="3",
                width="100%",
                id="sso-domains",
            ),
            rx.form(
                rx.hstack(
                    rx.input(
                        name="domain",
                        id="sso-domain",
                        placeholder="example.com",
                        aria_label="Email domain",
                    ),
                    rx.button("Add domain", type="submit", variant="soft", id="sso-add-domain"),
                    wrap="wrap",
                ),
                field_error(SsoState.domain_error, "sso-domain-error"),
                on_submit=SsoState.add_domain,
                reset_on_submit=True,
            ),
        ),
    )
