"""Overview: the workspace at a glance, and the root redirect."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.insights import channel_badge, kpi_grid, section_card, skeleton_cards
from app.components.provider_notice import offline_answers_notice
from app.components.shell import dashboard_page, page_header
from app.page_registry import page
from app.state.insights_views import ConversationView
from app.state.overview import PERIOD_DAYS, OverviewState


@page("/", on_load=rx.redirect(routes.OVERVIEW))
def index() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")


def _step(key: str, done: rx.Var, title: str, text: str, href: str, action: str) -> rx.Component:
    return rx.hstack(
        rx.cond(
            done,
            rx.icon("circle-check-big", size=22, color=rx.color("green", 9)),
            rx.icon("circle", size=22, color=rx.color("gray", 8)),
        ),
        rx.vstack(
            rx.text(
                title,
                size="2",
                weight="medium",
                text_decoration=rx.cond(done, "line-through", "none"),
                color=rx.cond(done, rx.color("gray", 10), rx.color("gray", 12)),
            ),
            rx.text(text, size="1", color_scheme="gray"),
            spacing="0",
            flex="1",
            min_width="0",
        ),
        rx.cond(
            done,
            rx.badge("Done", color_scheme="green", variant="soft"),
            rx.link(rx.button(action, size="1", variant="soft"), href=href),
        ),
        align="center",
        spacing="3",
        width="100%",
        padding_y="6px",
        id=f"step-{key}",
        data_done=rx.cond(done, "true", "false"),
    )


def checklist() -> rx.Component:
    s = OverviewState
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.vstack(
                    rx.heading("Get started", size="4", as_="h2"),
                    rx.text(
                        "Four steps to a widget that answers from your docs. "
                        "They tick themselves as you go.",
                        size="2",
                        color_scheme="gray",
                    ),
                    spacing="1",
                ),
                rx.spacer(),
                rx.text(s.steps_done, " of 4 done", size="2", weight="medium", id="steps-done"),
                width="100%",
                align="start",
                wrap="wrap",
            ),
            rx.progress(value=s.steps_done * 25, width="100%", aria_label="Setup progress"),
            _step(
                "widget",
                s.has_widget,
                "Create a widget",
                "Name it, pick colors and a greeting.",
                routes.WIDGETS,
                "Create",
            ),
            _step(
                "knowledge",
                s.has_knowledge,
                "Add knowledge",
                "Upload documents or paste text; wait until one is ready.",
                routes.KNOWLEDGE,
                "Upload",
            ),
            _step(
                "tested",
                s.tested,
                "Test it",
                "Ask a question in the widget preview.",
                routes.WIDGETS,
                "Try it",
            ),
            _step(
                "embedded",
                s.embedded,
                "Embed it on your site",
                "Paste the snippet; the first visitor on your site ticks this.",
                routes.WIDGETS,
                "Get snippet",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="setup-checklist",
    )


def _recent_row(c: ConversationView) -> rx.Component:
    return rx.link(
        rx.hstack(
            rx.icon("message-circle", size=16, color=rx.color("accent", 10)),
            rx.vstack(
                rx.text(
                    c.title,
                    size="2",
                    weight="medium",
                    white_space="nowrap",
                    overflow="hidden",
                    text_overflow="ellipsis",
                    max_width="100%",
                ),
                rx.hstack(
                    rx.text(c.widget, size="1", color_scheme="gray"),
                    rx.text("·", size="1", color_scheme="gray"),
                    rx.text(c.last, size="1", color_scheme="gray"),
                    spacing="1",
                    wrap="wrap",
                ),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            channel_badge(c.channel),
            rx.badge(c.messages, " msgs", variant="outline", color_scheme="gray"),
            align="center",
            spacing="3",
            width="100%",
            padding="10px",
            border_radius="8px",
            _hover={"background": rx.color("gray", 3)},
        ),
        href=routes.CONVERSATIONS + "/" + c.id,
        underline="none",
        color="inherit",
        width="100%",
        class_name="recent-conversation",
    )


def recent() -> rx.Component:
    return section_card(
        "Recent conversations",
        rx.cond(
            OverviewState.recent.length() > 0,
            rx.vstack(rx.foreach(OverviewState.recent, _recent_row), spacing="1", width="100%"),
            rx.vstack(
                rx.icon("messages-square", size=24, color=rx.color("gray", 9)),
                rx.text(
                    "No conversations yet. Open a widget and ask it something in the preview, "
                    "or embed it on your site.",
                    size="2",
                    color_scheme="gray",
                    text_align="center",
                ),
                rx.link(rx.button("Go to widgets", variant="soft"), href=routes.WIDGETS),
                align="center",
                padding_y="24px",
                width="100%",
                id="recent-empty",
            ),
        ),
        rx.cond(
            OverviewState.recent.length() > 0,
            rx.link("All conversations →", href=routes.CONVERSATIONS, size="2"),
        ),
    )


@dashboard_page(routes.OVERVIEW, "Overview")
def overview() -> rx.Component:
    s = OverviewState
    return rx.vstack(
        page_header("Overview", "Your workspace at a glance"),
        rx.cond(s.loaded & ~s.has_provider, offline_answers_notice()),
        rx.heading(s.tenant_name, size="4", id="overview-workspace", as_="h2"),
        rx.cond(
            s.loaded,
            rx.vstack(
                rx.cond(s.steps_done < 4, checklist()),
                rx.vstack(
                    rx.text(
                        f"Last {PERIOD_DAYS} days, compared with the {PERIOD_DAYS} days before",
                        size="2",
                        color_scheme="gray",
                    ),
                    kpi_grid(s.kpis),
                    spacing="2",
                    width="100%",
                ),
                recent(),
                rx.cond(s.steps_done == 4, checklist()),
                spacing="5",
                width="100%",
            ),
            rx.vstack(skeleton_cards(), skeleton_cards(2, "200px"), spacing="4", width="100%"),
        ),
        spacing="5",
        width="100%",
        on_mount=OverviewState.load,
    )
