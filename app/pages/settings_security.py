"""Settings: the workspace's two-factor requirement and the account's two-factor card."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.team_ui import section_card
from app.state.settings import SettingsState
from app.state.sign_in_methods import MethodView, SignInMethodsState


def security_section() -> rx.Component:
    return section_card(
        "Security",
        "Require two-factor codes at login for everyone in this workspace who signs in with "
        "a password. People without them are asked to set them up first.",
        rx.hstack(
            rx.switch(
                checked=SettingsState.require_two_factor,
                on_change=SettingsState.set_require_two_factor,
                disabled=~SettingsState.can_security,
                id="require-two-factor",
                aria_label="Require two-factor codes",
            ),
            rx.text("Require two-factor codes", size="2"),
            align="center",
        ),
    )


def two_factor_card() -> rx.Component:
    return section_card(
        "Two-factor codes",
        "A code from an authenticator app at every login, on top of your password.",
        rx.hstack(
            rx.cond(
                SettingsState.two_factor_on,
                rx.badge("On", color_scheme="green"),
                rx.badge("Off", color_scheme="gray"),
            ),
            rx.link(
                rx.button("Manage", variant="soft", size="2"),
                href=routes.TWO_FACTOR,
                id="two-factor-manage",
            ),
            align="center",
        ),
    )


def _method_row(method: MethodView) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.text(method.label, size="2", weight="medium"),
            rx.text(method.detail, size="1", color_scheme="gray"),
            spacing="0",
        ),
        rx.spacer(),
        rx.button(
            "Remove",
            size="1",
            variant="soft",
            color_scheme="red",
            disabled=~SignInMethodsState.can_remove,
            on_click=SignInMethodsState.remove(method.id),
            aria_label="Remove " + method.label,
        ),
        width="100%",
        align="center",
        class_name="sign-in-method",
    )


def sign_in_methods_card() -> rx.Component:
    return section_card(
        "Sign-in methods",
        "How you can sign in to this account. The last one cannot be removed.",
        rx.vstack(
            rx.foreach(SignInMethodsState.methods, _method_row),
            spacing="3",
            width="100%",
            id="sign-in-methods",
        ),
    )
