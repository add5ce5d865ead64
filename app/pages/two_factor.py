"""/two-factor: set up or turn off two-factor codes (TOTP) for your account."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.forms import field_error, labeled
from app.components.shell import dashboard_page, page_header
from app.components.team_ui import section_card, table_skeleton
from app.state.two_factor import TwoFactorState


def _code_input() -> rx.Component:
    return rx.input(
        name="code",
        id="totp-code",
        placeholder="123456",
        auto_complete="one-time-code",
        input_mode="numeric",
        max_length=12,
        width="100%",
        max_width="200px",
    )


def _enrol() -> rx.Component:
    return rx.vstack(
        rx.text(
            "1. Scan this code with an authenticator app (Google Authenticator, 1Password, "
            "Authy, …), or type the key below into it.",
            size="2",
        ),
        rx.box(
            rx.image(
                src=TwoFactorState.qr_data_url,
                alt="QR code to add ChatConnect to your authenticator app",
                width="220px",
                height="220px",
                id="totp-qr",
            ),
            background="white",
            border_radius="8px",
            padding="4px",
        ),
        rx.code(TwoFactorState.secret_text, id="totp-secret", size="2"),
        rx.text("2. Enter the 6-digit code the app shows.", size="2"),
        rx.form(
            rx.vstack(
                labeled("Code", "totp-code", _code_input()),
                field_error(TwoFactorState.code_error, "totp-code-error"),
                rx.hstack(
                    rx.button("Turn on", type="submit", id="totp-confirm"),
                    rx.button(
                        "Cancel",
                        type="button",
                        variant="soft",
                        color_scheme="gray",
                        on_click=TwoFactorState.cancel,
                    ),
                ),
                spacing="2",
                width="100%",
            ),
            on_submit=TwoFactorState.confirm,
            reset_on_submit=True,
            width="100%",
        ),
        spacing="3",
        width="100%",
    )


def _recovery_codes() -> rx.Component:
    return rx.callout.root(
        rx.vstack(
            rx.text(
                "Save these recovery codes somewhere safe. Each one signs you in once if you "
                "lose your phone. They are shown only now.",
                size="2",
                weight="medium",
            ),
            rx.grid(
                rx.foreach(
                    TwoFactorState.recovery_codes,
                    lambda c: rx.code(c, size="2", class_name="recovery-code"),
                ),
                columns="2",
                spacing="2",
                id="recovery-codes",
            ),
            rx.button("I saved them", on_click=TwoFactorState.saved_codes, id="codes-saved"),
            spacing="3",
        ),
        color_scheme="amber",
        variant="surface",
        width="100%",
    )


def _enabled() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.badge("On", color_scheme="green", id="totp-status"),
            rx.text(TwoFactorState.codes_left, " recovery codes left.", size="2"),
            align="center",
        ),
        rx.cond(
            TwoFactorState.required,
            rx.text(
                "A workspace you belong to requires two-factor codes, so they cannot be "
                "turned off.",
                size="2",
                color_scheme="gray",
            ),
            rx.form(
                rx.vstack(
                    labeled(
                        "Your password, to turn two-factor codes off",
                        "totp-off-password",
                        rx.input(
                            name="password",
                            id="totp-off-password",
                            type="password",
                            auto_complete="current-password",
                            width="100%",
                            max_width="320px",
                        ),
                    ),
                    field_error(TwoFactorState.password_error, "totp-off-error"),
                    rx.button(
                        "Turn off",
                        type="submit",
                        color_scheme="red",
                        variant="soft",
                        id="totp-disable",
                    ),
                    spacing="2",
                ),
                on_submit=TwoFactorState.disable,
                reset_on_submit=True,
            ),
        ),
        spacing="3",
        width="100%",
    )


@dashboard_page(routes.TWO_FACTOR, "Two-factor codes", on_load=TwoFactorState.load)
def two_factor_page() -> rx.Component:
    return rx.vstack(
        page_header(
            "Two-factor codes",
            "A code from your phone at every login, on top of your password.",
        ),
        rx.cond(
            TwoFactorState.required & ~TwoFactorState.enabled,
            rx.callout(
                "Your workspace requires two-factor codes. Set them up to continue.",
                icon="shield-alert",
                color_scheme="amber",
                id="totp-required",
            ),
        ),
        rx.cond(
            TwoFactorState.loaded,
            section_card(
                "Authenticator app",
                "Time-based one-time codes (TOTP), the kind every authenticator app makes.",
                rx.cond(
                    TwoFactorState.recovery_codes.length() > 0,  # type: ignore[attr-defined]
                    _recovery_codes(),
                    rx.cond(
                        TwoFactorState.enabled,
                        _enabled(),
                        rx.cond(
                            TwoFactorState.enrolling,
                            _enrol(),
                            rx.vstack(
                                rx.badge("Off", color_scheme="gray", id="totp-status"),
                                rx.button(
                                    rx.icon("shield-check", size=16),
                                    "Set up two-factor codes",
                                    on_click=TwoFactorState.start,
                                    id="totp-start",
                                ),
                                spacing="3",
                            ),
                        ),
                    ),
                ),
            ),
            table_skeleton(2),
        ),
        spacing="5",
        width="100%",
    )
