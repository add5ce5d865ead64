"""/signup and /login: centered cards with inline validation."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.forms import field_error, labeled, submit_button
from app.components.shell import brand, theme_toggle
from app.page_registry import page
from app.state.account_forms import LoginState, SignupState, SocialButton
from app.state.auth import AuthState


def _field(label: str, name: str, kind: str, placeholder: str, error, autocomplete: str):
    return labeled(
        label,
        name,
        rx.input(
            name=name,
            id=name,
            type=kind,
            placeholder=placeholder,
            size="3",
            width="100%",
            required=True,
            auto_complete=autocomplete,
            aria_invalid=rx.cond(error != "", "true", "false"),
            color_scheme=rx.cond(error != "", "red", "gray"),
        ),
        field_error(error, f"{name}-error"),
    )


def _card(title: str, subtitle: str, form: rx.Component, footer: rx.Component) -> rx.Component:
    return rx.el.main(
        rx.center(
            rx.vstack(
                brand(),
                rx.card(
                    rx.vstack(
                        rx.heading(title, size="6", as_="h1"),
                        rx.text(subtitle, color_scheme="gray", size="2"),
                        form,
                        spacing="4",
                        width="100%",
                    ),
                    width="100%",
                    padding="24px",
                    size="3",
                ),
                footer,
                theme_toggle(),
                width="100%",
                max_width="420px",
                align="center",
                spacing="5",
                padding="16px",
            ),
            min_height="100vh",
            background=rx.color("gray", 2),
        ),
    )


@page(
    routes.SIGNUP,
    title="Sign up · ChatConnect",
    on_load=[AuthState.redirect_if_signed_in, LoginState.load],
)
def signup() -> rx.Component:
    form = rx.form(
        rx.vstack(
            _field(
                "Work email", "email", "email", "you@company.com", SignupState.email_error, "email"
            ),
            _field(
                "Password",
                "password",
                "password",
                "At least 10 characters",
                SignupState.password_error,
                "new-password",
            ),
            _field(
                "Workspace name",
                "workspace",
                "text",
                "Acme Inc.",
                SignupState.workspace_error,
                "organization",
            ),
            rx.cond(
                SignupState.form_error != "",
                rx.callout(
                    SignupState.form_error, icon="triangle-alert", color_scheme="red", width="100%"
                ),
            ),
            submit_button("Create workspace", "signup-submit"),
            spacing="4",
            width="100%",
        ),
        on_submit=SignupState.submit,
        width="100%",
    )
    return _card(
        "Create your workspace",
        "Add a chat assistant to your website in minutes.",
        rx.vstack(social_section(), form, width="100%"),
        rx.text(
            "Already have an account? ",
            rx.link("Log in", href=routes.LOGIN, underline="always"),
            size="2",
        ),
    )


def _social_button(button: SocialButton) -> rx.Component:
    return rx.button(
        "Continue with ",
        button.label,
        type="button",
        variant="outline",
        size="3",
        width="100%",
        id="social-" + button.name,
        on_click=LoginState.start_social(button.name),
    )


def social_section() -> rx.Component:
    """Provider sign-in buttons (only those configured), above an "or" divider."""
    return rx.cond(
        LoginState.social.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(
            rx.foreach(LoginState.social, _social_button),
            rx.hstack(
                rx.separator(size="4"),
                rx.text("or", size="1", color_scheme="gray"),
                rx.separator(size="4"),
                align="center",
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
    )


def _sso_link() -> rx.Component:
    return rx.button(
        rx.icon("building-2", size=16),
        "Sign in with SSO",
        type="button",
        variant="ghost",
        on_click=LoginState.show_sso,
        id="sso-open",
    )


def _sso_form() -> rx.Component:
    """Single sign-on: the work email's domain picks the company's identity provider."""
    return rx.form(
        rx.vstack(
            _field(
                "Work email",
                "email",
                "email",
                "you@company.com",
                LoginState.email_error,
                "username",
            ),
            rx.button("Continue", type="submit", size="3", width="100%", id="sso-submit"),
            rx.button(
                "Back",
                type="button",
                variant="ghost",
                on_click=LoginState.cancel_code,
                id="sso-back",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=LoginState.start_sso,
        width="100%",
        id="sso-form",
    )


def _code_form() -> rx.Component:
    """The login's second step for accounts with two-factor codes."""
    return rx.form(
        rx.vstack(
            rx.text(
                "Enter the 6-digit code from your authenticator app, or one of your recovery "
                "codes.",
                size="2",
            ),
            _field(
                "Code",
                "code",
                "text",
                "123456",
                LoginState.code_error,
                "one-time-code",
            ),
            rx.cond(
                LoginState.form_error != "",
                rx.callout(LoginState.form_error, icon="triangle-alert", color_scheme="red"),
            ),
            rx.button("Verify", type="submit", size="3", width="100%", id="code-submit"),
            rx.button(
                "Use another account",
                type="button",
                variant="ghost",
                on_click=LoginState.cancel_code,
                id="code-cancel",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=LoginState.submit_code,
        reset_on_submit=True,
        width="100%",
        id="code-form",
    )


@page(
    routes.LOGIN,
    title="Log in · ChatConnect",
    on_load=[AuthState.redirect_if_signed_in, LoginState.load],
)
def login() -> rx.Component:
    form = rx.form(
        rx.vstack(
            _field(
                "Email", "email", "email", "you@company.com", LoginState.email_error, "username"
            ),
            _field(
                "Password",
                "password",
                "password",
                "Your password",
                LoginState.password_error,
                "current-password",
            ),
            rx.link(
                "Forgot password?",
                href=routes.FORGOT_PASSWORD,
                size="2",
                id="forgot-password-link",
            ),
            rx.cond(
                LoginState.form_error != "",
                rx.callout(
                    LoginState.form_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    width="100%",
                    id="login-form-error",
                ),
            ),
            submit_button("Log in", "login-submit"),
            spacing="4",
            width="100%",
        ),
        on_submit=LoginState.submit,
        width="100%",
    )
    return _card(
        "Welcome back",
        "Log in to your ChatConnect workspace.",
        rx.match(
            LoginState.step,
            ("code", _code_form()),
            ("sso", _sso_form()),
            rx.vstack(social_section(), form, _sso_link(), width="100%"),
        ),
        rx.text(
            "New here? ",
            rx.link("Create a workspace", href=routes.SIGNUP, underline="always"),
            size="2",
        ),
    )
