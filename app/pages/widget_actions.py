"""The widget editor's "Actions" card (tool calling): built-ins on/off, the owner's HTTP
actions with an add/edit dialog. Mounted by app/pages/widget_editor.py."""

from __future__ import annotations

import reflex as rx

from app.components.forms import field_error, labeled
from app.services.actions import METHODS
from app.state.widget_actions import ActionRow, BuiltinRow
from app.state.widget_actions import WidgetActionsState as A


def _builtin(row: BuiltinRow) -> rx.Component:
    return rx.el.label(
        rx.switch(
            checked=row.enabled,
            on_change=lambda value: A.toggle_builtin(row.name, value),
            id="builtin-" + row.name,
            aria_label="Enable " + row.name,
        ),
        rx.vstack(
            rx.hstack(
                rx.code(row.name, size="2"),
                rx.cond(
                    row.changes_something,
                    rx.badge("visitor confirms", size="1", variant="soft", color_scheme="blue"),
                ),
                spacing="2",
                align="center",
            ),
            rx.text(row.description, size="1", color_scheme="gray"),
            spacing="1",
        ),
        style={"display": "flex", "gap": "10px", "align_items": "start"},
    )


def _action(row: ActionRow) -> rx.Component:
    return rx.hstack(
        rx.vstack(
            rx.hstack(
                rx.code(row.name, size="2"),
                rx.badge(row.method, size="1", variant="outline"),
                rx.cond(~row.enabled, rx.badge("off", size="1", color_scheme="gray")),
                rx.cond(
                    row.changes_something,
                    rx.badge("visitor confirms", size="1", variant="soft", color_scheme="blue"),
                ),
                spacing="2",
                align="center",
                wrap="wrap",
            ),
            rx.text(row.url, size="1", color_scheme="gray", style={"overflowWrap": "anywhere"}),
            rx.cond(
                row.headers != "",
                rx.text(
                    "Headers: ", row.headers, " (values hidden)", size="1", color_scheme="gray"
                ),
            ),
            spacing="1",
            flex="1",
            min_width="0",
        ),
        rx.button(
            "Edit",
            size="1",
            variant="soft",
            on_click=A.open_edit(row.id),
            aria_label="Edit " + row.name,
        ),
        rx.button(
            "Delete",
            size="1",
            variant="soft",
            color_scheme="red",
            on_click=A.delete_action(row.id),
            aria_label="Delete " + row.name,
        ),
        width="100%",
        align="start",
        class_name="widget-action",
    )


def _err(field: str) -> rx.Component:
    return field_error(A.form_errors.get(field, ""), "action-error-" + field)


def _dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(rx.cond(A.form_id != "", "Edit action", "Add an action")),
            rx.form(
                rx.vstack(
                    labeled(
                        "Name (the model calls it by this)",
                        "action-name",
                        rx.input(
                            name="name",
                            id="action-name",
                            default_value=A.form_name,
                            key=A.form_id + "n",
                            placeholder="order_status",
                            width="100%",
                        ),
                        _err("name"),
                    ),
                    labeled(
                        "What it does (the model reads this)",
                        "action-description",
                        rx.text_area(
                            name="description",
                            id="action-description",
                            default_value=A.form_description,
                            key=A.form_id + "d",
                            rows="2",
                            width="100%",
                        ),
                        _err("description"),
                    ),
                    labeled(
                        "Parameters (JSON schema of an object)",
                        "action-parameters",
                        rx.text_area(
                            name="parameters",
                            id="action-parameters",
                            default_value=A.form_parameters,
                            key=A.form_id + "p",
                            rows="7",
                            width="100%",
                            font_family="var(--code-font-family)",
                        ),
                        _err("parameters"),
                    ),
                    rx.hstack(
                        labeled(
                            "Method",
                            "action-method",
                            rx.select.root(
                                rx.select.trigger(id="action-method"),
                                rx.select.content(*[rx.select.item(m, value=m) for m in METHODS]),
                                value=A.form_method,
                                on_change=A.set_form_method,
                            ),
                        ),
                        labeled(
                            "Timeout (s)",
                            "action-timeout",
                            rx.input(
                                name="timeout",
                                id="action-timeout",
                                type="number",
                                min=1,
                                max=30,
                                default_value=A.form_timeout,
                                key=A.form_id + "t",
                            ),
                            _err("timeout_s"),
                        ),
                        width="100%",
                        spacing="3",
                    ),
                    labeled(
                        "URL ({param} placeholders go in the path or query)",
                        "action-url",
                        rx.input(
                            name="url",
                            id="action-url",
                            default_value=A.form_url,
                            key=A.form_id + "u",
                            placeholder="https://shop.example.com/api/orders/{order_id}",
                            width="100%",
                        ),
                        _err("url_template"),
                    ),
                    labeled(
                        "Headers (Name: value, one a line; values are stored encrypted)",
                        "action-headers",
                        rx.text_area(
                            name="headers",
                            id="action-headers",
                            default_value=A.form_headers,
                            key=A.form_id + "h",
                            rows="2",
                            width="100%",
                            placeholder="Authorization: Bearer …",
                        ),
                        rx.cond(
                            A.form_stored_headers != "",
                            rx.text(
                                "Stored: ",
                                A.form_stored_headers,
                                ". Leave them out to keep them; write “Name:” to remove one.",
                                size="1",
                                color_scheme="gray",
                            ),
                        ),
                        _err("headers"),
                    ),
                    rx.el.label(
                        rx.checkbox(
                            checked=A.form_changes,
                            on_change=A.set_form_changes,
                            id="action-changes",
                            name="changes",  # the state holds the value; named, not by id
                        ),
                        rx.text(
                            "It changes something (the visitor confirms before it runs)", size="2"
                        ),
                        style={"display": "flex", "gap": "8px", "align_items": "center"},
                    ),
                    rx.el.label(
                        rx.checkbox(
                            checked=A.form_enabled,
                            on_change=A.set_form_enabled,
                            id="action-on",
                            name="enabled",
                        ),
                        rx.text("Enabled", size="2"),
                        style={"display": "flex", "gap": "8px", "align_items": "center"},
                    ),
                    _err("form"),
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                        rx.button("Save action", type="submit", id="action-save"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                    width="100%",
                ),
                on_submit=A.save_action,
                reset_on_submit=False,
            ),
            max_width="560px",
        ),
        open=A.form_open,
        on_open_change=A.set_form_open,
    )


def actions_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Actions", size="4", as_="h2"),
            rx.text(
                "What the assistant may do besides answering (with OpenAI or Anthropic "
                "models). Actions that change something run only after the visitor confirms.",
                size="2",
                color_scheme="gray",
            ),
            rx.text("Built-in", size="2", weight="bold"),
            rx.foreach(A.builtins, _builtin),
            rx.hstack(
                rx.text("Your actions (HTTP)", size="2", weight="bold"),
                rx.button(
                    rx.icon("plus", size=14),
                    "Add action",
                    size="1",
                    on_click=A.open_new,
                    id="add-action",
                ),
                justify="between",
                align="center",
                width="100%",
            ),
            rx.cond(
                A.actions.length() > 0,
                rx.vstack(rx.foreach(A.actions, _action), spacing="3", width="100%"),
                rx.text("None yet.", size="2", color_scheme="gray"),
            ),
            field_error(A.actions_error, "actions-error"),
            _dialog(),
            spacing="3",
            width="100%",
        ),
        width="100%",
        on_mount=A.load,
        id="widget-actions",
    )
