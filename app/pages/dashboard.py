"""The signed-in pages. Later issues fill them; until then each says what will be there."""

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


def _placeholder(route: str, title: str, icon: str, description: str, empty: str):
    @dashboard_page(route, title)
    def page() -> rx.Component:
        return rx.vstack(
            page_header(title, description),
            empty_state(icon, f"No {title.lower()} yet", empty),
            spacing="5",
            width="100%",
        )

    page.__name__ = title.lower().replace(" ", "_")
    return page


widgets = _placeholder(
    routes.WIDGETS,
    "Widgets",
    "message-square",
    "Chat widgets for your websites.",
    "Create a widget to choose its look, greeting, starter questions and "
    "allowed domains, then copy the embed snippet.",
)
knowledge = _placeholder(
    routes.KNOWLEDGE,
    "Knowledge",
    "book-open",
    "Documents your assistant answers from.",
    "Upload PDF, DOCX, TXT, Markdown or CSV files, or paste text; they are "
    "parsed, chunked and indexed for this workspace only.",
)
conversations = _placeholder(
    routes.CONVERSATIONS,
    "Conversations",
    "messages-square",
    "What visitors asked and what they were told.",
    "Transcripts with sources, cost and feedback will be listed here.",
)
analytics = _placeholder(
    routes.ANALYTICS,
    "Analytics",
    "chart-line",
    "Trends across conversations, tokens, cost and feedback.",
    "Charts of conversations, messages, tokens, cost, feedback and "
    "unanswered questions will appear once there is traffic.",
)
api_keys = _placeholder(
    routes.API_KEYS,
    "API keys",
    "key-round",
    "Secret keys for the REST API.",
    "Create a key to call the chat and documents API from your backend. The secret is shown once.",
)
settings = _placeholder(
    routes.SETTINGS,
    "Settings",
    "settings",
    "Workspace, providers, members and your account.",
    "Workspace name, plan limits, LLM provider credentials and team members will be managed here.",
)
