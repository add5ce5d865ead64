"""Overview: the workspace at a glance, and the root redirect."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.shell import dashboard_page, empty_state, page_header
from app.state.auth import AuthState


@rx.page(route="/", on_load=rx.redirect(routes.OVERVIEW))
def index() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")


@dashboard_page(routes.OVERVIEW, "Overview")
def overview() -> rx.Component:
    steps = [
        ("Create a widget", "message-square"),
        ("Add knowledge", "book-open"),
        ("Test it", "flask-conical"),
        ("Embed it on your site", "code"),
    ]
    return rx.vstack(
        page_header(
            "Overview", rx.cond(AuthState.tenant_name != "", "Your workspace at a glance", "")
        ),
        rx.heading(AuthState.tenant_name, size="4", id="overview-workspace"),
        rx.card(
            rx.vstack(
                rx.heading("Get started", size="4"),
                *[
                    rx.hstack(
                        rx.icon("circle", size=16, color=rx.color("gray", 8)),
                        rx.icon(icon, size=16),
                        rx.text(label, size="2"),
                        align="center",
                    )
                    for label, icon in steps
                ],
                spacing="3",
            ),
            width="100%",
        ),
        empty_state(
            "chart-no-axes-combined",
            "No conversations yet",
            "Conversations, messages, answered rate, tokens and cost will appear here "
            "once visitors start chatting with your widgets.",
        ),
        spacing="5",
        width="100%",
    )
