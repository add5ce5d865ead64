"""/invite/<token>: join a workspace from an invitation link."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.forms import field_error, labeled
from app.components.shell import brand, theme_toggle
from app.page_registry import page
from app.state.invite import InviteState


def _problem(title: str, text: str) -> rx.Component:
    return rx.vstack(
        rx.callout(title, icon="triangle-alert", color_scheme="amber", width="100%"),
        rx.text(text, size="2", color_scheme="gray"),
        rx.link("Go to the login page", href=routes.LOGIN, size="2"),
        spacing="3",
        width="100%",
        id="invite-problem",
    )


def _credentials_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            labeled(
                "Email",
                "email",
                rx.input(
                    name="email",
                    id="email",
                    type="email",
                    default_value=InviteState.invite_email,
                    key=InviteState.invite_email,
                    placeholder="you@company.com",
                    size="3",
                    width="100%",
                    auto_complete="username",
                ),
                field_error(InviteState.email_error, "email-error"),
            ),
            labeled(
                "Password",
                "password",
                rx.input(
                    name="password",
                    id="password",
                    type="password",
                    placeholder=rx.cond(
                        InviteState.mode == "signup", "At least 10 characters", "Your password"
                    ),
                    size="3",
                    width="100%",
                    auto_complete=rx.cond(
                        InviteState.mode == "signup", "new-password", "current-password"
                    ),
                ),
                field_error(InviteState.password_error, "password-error"),
            ),
            rx.button(
                rx.cond(InviteState.mode == "signup", "Create account and join", "Log in and join"),
                type="submit",
                size="3",
                width="100%",
                id="invite-submit",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=InviteState.submit,
        reset_on_submit=False,
        width="100%",
    )


def _join() -> rx.Component:
    return rx.vstack(
        rx.text(
            "You are invited to join ",
            rx.text.strong(InviteState.invite_workspace, id="invite-workspace"),
            " as ",
            rx.badge(InviteState.invite_role, id="invite-role-badge"),
            ".",
            size="3",
        ),
        rx.cond(
            InviteState.signed_in_as != "",
            rx.vstack(
                rx.text("Signed in as ", rx.text.strong(InviteState.signed_in_as), size="2"),
                rx.button(
                    "Join workspace",
                    size="3",
                    width="100%",
                    on_click=InviteState.join_signed_in,
                    id="invite-join",
                ),
                width="100%",
            ),
            rx.vstack(
                rx.segmented_control.root(
                    rx.segmented_control.item("I'm new", value="signup"),
                    rx.segmented_control.item("I have an account", value="login"),
                    value=InviteState.mode,
                    on_change=InviteState.set_mode,
                    width="100%",
                    id="invite-mode",
                ),
                _credentials_form(),
                width="100%",
                spacing="4",
            ),
        ),
        rx.cond(
            InviteState.form_error != "",
            rx.callout(
                InviteState.form_error,
                icon="triangle-alert",
                color_scheme="red",
                width="100%",
                id="invite-form-error",
            ),
        ),
        spacing="4",
        width="100%",
    )


@page(
    routes.INVITE + "/[invite_token]",
    title="Join a workspace · ChatConnect",
    on_load=InviteState.load,
)
def invite() -> rx.Component:
    body = rx.match(
        InviteState.status,
        ("valid", _join()),
        (
            "expired",
            _problem(
                "This invitation has expired.", "Ask the person who invited you for a new link."
            ),
        ),
        (
            "used",
            _problem(
                "This invitation was already used.",
                "Each link works once. Ask for a new one, or log in.",
            ),
        ),
        (
            "invalid",
            _problem("This invitation link is not valid.", "Check that you copied the whole link."),
        ),
        rx.center(rx.spinner(size="3"), width="100%", padding="24px"),
    )
    return rx.el.main(
        rx.center(
            rx.vstack(
                brand(),
                rx.card(
                    rx.vstack(
                        rx.heading("Join a workspace", size="6", as_="h1"),
                        body,
                        spacing="4",
                        width="100%",
                    ),
                    width="100%",
                    padding="24px",
                    size="3",
                ),
                theme_toggle(),
                width="100%",
                max_width="440px",
                align="center",
                spacing="5",
                padding="16px",
            ),
            min_height="100vh",
            background=rx.color("gray", 2),
        ),
    )
