"""Email pieces of the settings page: your address's verification, an invitation's email."""

from __future__ import annotations

import reflex as rx

from app.components.team_ui import section_card
from app.state.verification import EmailStatusState


def verified_badge() -> rx.Component:
    return rx.cond(
        EmailStatusState.verified,
        rx.badge(
            rx.icon("badge-check", size=14), "Verified", color_scheme="green", id="email-verified"
        ),
        rx.badge("Not verified", color_scheme="amber", id="email-unverified"),
    )


def email_address_card() -> rx.Component:
    """Account tab: the address, whether it is verified, and a way to get a new link."""
    return section_card(
        "Email address",
        "Password reset links and invitations go to this address.",
        rx.hstack(
            rx.text(EmailStatusState.email, size="3", weight="medium", id="account-email"),
            verified_badge(),
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            EmailStatusState.verified,
            rx.fragment(),
            rx.cond(
                EmailStatusState.email_enabled,
                rx.vstack(
                    rx.text(
                        "Confirm it with the link we emailed you. Until then you can use "
                        "your workspace fully, except inviting people.",
                        size="2",
                        color_scheme="gray",
                    ),
                    rx.cond(
                        EmailStatusState.delivery != "",
                        rx.text(
                            EmailStatusState.delivery,
                            size="2",
                            color_scheme=rx.cond(EmailStatusState.delivery_failed, "red", "gray"),
                            id="verify-delivery",
                        ),
                    ),
                    rx.button(
                        rx.icon("mail", size=16),
                        "Send a new link",
                        on_click=EmailStatusState.resend,
                        variant="soft",
                        width="fit-content",
                        id="verify-resend",
                    ),
                    rx.cond(
                        EmailStatusState.error != "",
                        rx.text(EmailStatusState.error, color_scheme="red", size="2", role="alert"),
                    ),
                    spacing="2",
                    width="100%",
                ),
                rx.text(
                    "This server does not send email (SMTP_URL is not set), so addresses "
                    "are not verified and nothing is restricted.",
                    size="2",
                    color_scheme="gray",
                    id="verify-mail-off",
                ),
            ),
        ),
        on_mount=EmailStatusState.load,
    )


def invitation_delivery(message: rx.Var, failed: rx.Var) -> rx.Component:
    """Under an open invitation: emailed / retrying (why) / failed."""
    return rx.cond(
        message != "",
        rx.text(
            message,
            size="1",
            color_scheme=rx.cond(failed, "red", "gray"),
            class_name="invite-delivery",
        ),
    )
