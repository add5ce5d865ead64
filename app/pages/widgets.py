"""Widgets: the list of chat widgets with create, duplicate, enable/disable and delete."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.dialogs import confirm_dialog, form_dialog
from app.components.forms import field_error
from app.components.shell import dashboard_page, empty_state, page_header
from app.pages import widget_editor  # noqa: F401  (registers /widgets/[wid])
from app.state.widgets import WidgetListState, WidgetRow


def create_dialog() -> rx.Component:
    return form_dialog(
        "New widget",
        "Name it after the site or team it serves; you can change everything later.",
        rx.input(
            name="name",
            placeholder="e.g. Help center",
            max_length=120,
            required=True,
            auto_focus=True,
            id="new-widget-name",
            width="100%",
        ),
        field_error(WidgetListState.create_error, "new-widget-error"),
        submit_label="Create widget",
        submit_id="create-widget-submit",
        on_submit=WidgetListState.create,
        open=WidgetListState.create_open,
        on_open_change=WidgetListState.set_create_open,
        spacing="3",
        max_width="440px",
    )


def delete_dialog() -> rx.Component:
    return confirm_dialog(
        "Delete this widget?",
        "“",
        WidgetListState.delete_name,
        "” stops answering on every site that embeds it. Its conversations "
        "stay in Conversations. This cannot be undone.",
        confirm_label="Delete widget",
        confirm_id="confirm-delete-widget",
        on_confirm=WidgetListState.confirm_delete,
        on_cancel=WidgetListState.cancel_delete,
        open=WidgetListState.delete_id != "",
    )


def widget_card(row: WidgetRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.center(
                    rx.icon("message-square", size=18, color=rx.color("accent", 11)),
                    width="36px",
                    height="36px",
                    min_width="36px",
                    border_radius="10px",
                    background=rx.color("accent", 3),
                ),
                rx.vstack(
                    rx.link(
                        rx.text(row.name, weight="bold", size="3", class_name="widget-name"),
                        href=routes.WIDGETS + "/" + row.id,
                        underline="hover",
                        color_scheme="gray",
                        high_contrast=True,
                    ),
                    rx.text("Created ", row.created, size="1", color_scheme="gray"),
                    spacing="0",
                    min_width="0",
                ),
                rx.spacer(),
                rx.switch(
                    checked=row.enabled,
                    on_change=lambda value: WidgetListState.set_enabled(row.id, value),
                    aria_label="Enabled",
                    class_name="widget-enabled",
                ),
                width="100%",
                align="center",
            ),
            rx.hstack(
                rx.cond(
                    row.enabled,
                    rx.badge("Live", color_scheme="green", variant="soft"),
                    rx.badge("Disabled", color_scheme="gray", variant="soft"),
                ),
                rx.cond(
                    row.domains != "",
                    rx.text(
                        row.domains,
                        size="1",
                        color_scheme="gray",
                        overflow="hidden",
                        text_overflow="ellipsis",
                        white_space="nowrap",
                    ),
                    rx.text(
                        "No allowed domains yet: only the preview can show it",
                        size="1",
                        color_scheme="amber",
                    ),
                ),
                align="center",
                spacing="2",
                width="100%",
                min_width="0",
            ),
            rx.separator(size="4"),
            rx.hstack(
                rx.link(
                    rx.button(rx.icon("pencil", size=14), "Edit", size="1", variant="soft"),
                    href=routes.WIDGETS + "/" + row.id,
                ),
                rx.button(
                    rx.icon("copy", size=14),
                    "Duplicate",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=WidgetListState.duplicate(row.id),
                    class_name="widget-duplicate",
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("trash-2", size=14),
                    "Delete",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=WidgetListState.ask_delete(row.id, row.name),
                    class_name="widget-delete",
                ),
                width="100%",
                align="center",
            ),
            spacing="3",
            width="100%",
        ),
        class_name="widget-card",
        width="100%",
    )


def skeleton_cards() -> rx.Component:
    return rx.grid(
        *[
            rx.card(
                rx.vstack(
                    rx.skeleton(rx.box(height="36px", width="60%")),
                    rx.skeleton(rx.box(height="16px", width="80%")),
                    rx.skeleton(rx.box(height="24px", width="100%")),
                    spacing="3",
                ),
            )
            for _ in range(3)
        ],
        columns=rx.breakpoints(initial="1", sm="2", lg="3"),
        spacing="4",
        width="100%",
    )


@dashboard_page(routes.WIDGETS, "Widgets")
def widgets() -> rx.Component:
    return rx.vstack(
        page_header(
            "Widgets",
            "Chat widgets for your websites: their look, behaviour and embed snippet.",
            rx.button(
                rx.icon("plus", size=16),
                "New widget",
                on_click=WidgetListState.open_create,
                id="new-widget",
            ),
        ),
        rx.cond(
            WidgetListState.loaded,
            rx.cond(
                WidgetListState.rows.length() > 0,
                rx.grid(
                    rx.foreach(WidgetListState.rows, widget_card),
                    columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                    spacing="4",
                    width="100%",
                    id="widget-list",
                ),
                empty_state(
                    "message-square",
                    "No widgets yet",
                    "Create a widget, choose its look and greeting, then copy the snippet "
                    "onto your site. Add knowledge first so it has something to answer from.",
                ),
            ),
            skeleton_cards(),
        ),
        create_dialog(),
        delete_dialog(),
        spacing="5",
        width="100%",
        on_mount=WidgetListState.load,
    )
