"""/forgot-password, /reset-password/<token> and /verify-email/<token>: account links from email.

Same centered card as /login and /signup (`app.pages.auth._card`).
"""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.forms import field_error, labeled, submit_button
from app.page_registry import page
from app.pages.auth import _card
from app.services.password_reset import RESET_MINUTES
from app.state.password import ForgotPasswordState, ResetPasswordState
from app.state.verification import VerifyEmailState


def _password_input(name: str, placeholder: str, error: rx.Var, label: str) -> rx.Component:
    return labeled(
        label,
        name,
        rx.input(
            name=name,
            id=name,
            type="password",
            placeholder=placeholder,
            size="3",
            width="100%",
            required=True,
            max_length=1024,
            auto_complete="new-password",
            aria_invalid=rx.cond(error != "", "true", "false"),
            color_scheme=rx.cond(error != "", "red", "gray"),
        ),
        field_error(error, f"{name}-error"),
    )


def _notice(
    title: str, text: str | rx.Var | rx.Component, color: str, notice_id: str, *links: rx.Component
) -> rx.Component:
    return rx.vstack(
        rx.callout(
            title,
            icon="circle-check" if color == "green" else "triangle-alert",
            color_scheme=color,
            width="100%",
        ),
        text if isinstance(text, rx.Component) else rx.text(text, size="2", color_scheme="gray"),
        *links,
        spacing="3",
        width="100%",
        id=notice_id,
    )


def _back_to_login() -> rx.Component:
    return rx.text("Remembered it? ", rx.link("Log in", href=routes.LOGIN), size="2")


# ---- forgot password ------------------------------------------------------------------


def forgot_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            labeled(
                "Email",
                "email",
                rx.input(
                    name="email",
                    id="email",
                    type="email",
                    placeholder="you@company.com",
                    size="3",
                    width="100%",
                    required=True,
                    max_length=254,
                    auto_complete="username",
                    aria_invalid=rx.cond(ForgotPasswordState.email_error != "", "true", "false"),
                ),
                field_error(ForgotPasswordState.email_error, "email-error"),
            ),
            rx.cond(
                ForgotPasswordState.form_error != "",
                rx.callout(
                    ForgotPasswordState.form_error,
                    icon="triangle-alert",
                    color_scheme="red",
                    width="100%",
                    id="forgot-form-error",
                ),
            ),
            submit_button("Send reset link", "forgot-submit"),
            spacing="4",
            width="100%",
        ),
        on_submit=ForgotPasswordState.submit,
        reset_on_submit=False,
        width="100%",
    )


def forgot_body() -> rx.Component:
    return rx.cond(
        ForgotPasswordState.email_enabled,
        rx.cond(
            ForgotPasswordState.sent,
            _notice(
                "Check your inbox.",
                "If an account uses that address, we have emailed it a link to choose a new "
                f"password. The link works once, for {RESET_MINUTES} minutes. Nothing there? "
                "Look in spam, or try again in a few minutes.",
                "green",
                "forgot-sent",
            ),
            forgot_form(),
        ),
        _notice(
            "This server does not send email.",
            rx.text(
                "Ask the person who runs ChatConnect for a reset link. They can create one with ",
                rx.code("python -m app.manage reset-link you@company.com"),
                f" (it works once, for {RESET_MINUTES} minutes).",
                size="2",
                color_scheme="gray",
            ),
            "amber",
            "forgot-no-email",
        ),
    )


@page(
    route=routes.FORGOT_PASSWORD,
    title="Forgot password · ChatConnect",
    on_load=ForgotPasswordState.load,
)
def forgot_password() -> rx.Component:
    return _card(
        "Forgot your password?",
        "A single-use link lets you choose a new one.",
        forgot_body(),
        _back_to_login(),
    )


# ---- reset password -------------------------------------------------------------------


def reset_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _password_input(
                "password",
                "At least 10 characters",
                ResetPasswordState.password_error,
                "New password",
            ),
            _password_input(
                "confirm", "The same again", ResetPasswordState.confirm_error, "Repeat it"
            ),
            submit_button("Set new password", "reset-submit"),
            spacing="4",
            width="100%",
        ),
        on_submit=ResetPasswordState.submit,
        reset_on_submit=False,
        width="100%",
    )


def _new_link() -> rx.Component:
    return rx.link("Request a new link", href=routes.FORGOT_PASSWORD, size="2")


def reset_body() -> rx.Component:
    return rx.match(
        ResetPasswordState.status,
        ("valid", reset_form()),
        (
            "done",
            _notice(
                "Your password was changed.",
                "Every session of your account was signed out. Log in with the new password.",
                "green",
                "reset-done",
                rx.link(
                    rx.button("Log in", size="3", width="100%"),
                    href=routes.LOGIN,
                    width="100%",
                    id="reset-login",
                ),
            ),
        ),
        (
            "expired",
            _notice(
                "This link has expired.",
                f"Reset links work for {RESET_MINUTES} minutes.",
                "amber",
                "reset-problem",
                _new_link(),
            ),
        ),
        (
            "used",
            _notice(
                "This link was already used.",
                "Each reset link works once.",
                "amber",
                "reset-problem",
                _new_link(),
            ),
        ),
        (
            "invalid",
            _notice(
                "This reset link is not valid.",
                "Check that you copied all of it.",
                "amber",
                "reset-problem",
                _new_link(),
            ),
        ),
        rx.center(rx.spinner(size="3"), width="100%", padding="24px"),
    )


def reset_page() -> rx.Component:
    return _card(
        "Choose a new password",
        "Setting it signs your account out everywhere.",
        reset_body(),
        rx.cond(ResetPasswordState.status == "done", rx.fragment(), _back_to_login()),
    )


page(
    route=routes.RESET_PASSWORD + "/[reset_token]",
    title="Reset password · ChatConnect",
    on_load=ResetPasswordState.load,
)(reset_page)
# The same page for links of the form /reset-password?token=...
page(
    route=routes.RESET_PASSWORD,
    title="Reset password · ChatConnect",
    on_load=ResetPasswordState.load,
)(reset_page)


# ---- verify email ---------------------------------------------------------------------


def verify_body() -> rx.Component:
    settings_link = rx.link("Settings → Account", href=routes.SETTINGS, size="2")
    return rx.match(
        VerifyEmailState.status,
        (
            "verified",
            _notice(
                "Your email address is confirmed.",
                VerifyEmailState.verified_email,
                "green",
                "verify-done",
                rx.link("Go to your dashboard", href=routes.OVERVIEW, size="2"),
            ),
        ),
        (
            "used",
            _notice(
                "This link was already used.",
                "Each link works once; your address may already be confirmed.",
                "amber",
                "verify-problem",
                settings_link,
            ),
        ),
        (
            "expired",
            _notice(
                "This link has expired.",
                "Log in and send a new one from Settings → Account.",
                "amber",
                "verify-problem",
                settings_link,
            ),
        ),
        (
            "invalid",
            _notice(
                "This confirmation link is not valid.",
                "Check that you copied all of it, or send a new one from Settings → Account.",
                "amber",
                "verify-problem",
                settings_link,
            ),
        ),
        rx.center(rx.spinner(size="3"), width="100%", padding="24px"),
    )


def verify_page() -> rx.Component:
    return _card("Confirm your email", "ChatConnect account", verify_body(), rx.fragment())


page(
    route=routes.VERIFY_EMAIL + "/[verify_token]",
    title="Confirm email · ChatConnect",
    on_load=VerifyEmailState.load,
)(verify_page)
