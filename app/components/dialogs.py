"""Dialogs shared by the dashboard pages: a confirmation with a (red) confirm button, and a
form in a dialog with the Cancel + submit row. Callers keep their element ids."""

from __future__ import annotations

from typing import Any

import reflex as rx


def confirm_dialog(
    title: str | rx.Var,
    *description: rx.Component | rx.Var | str,
    confirm_label: str | rx.Var,
    confirm_id: str,
    on_confirm: Any,
    on_cancel: Any,
    open: rx.Var,
    on_open_change: Any = None,
    confirm_color: str | rx.Var = "red",
    max_width: str = "440px",
) -> rx.Component:
    """An alert dialog asking to confirm one action: Cancel, then the confirm button."""
    root_props = {} if on_open_change is None else {"on_open_change": on_open_change}
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(*description, size="2"),
            rx.flex(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", color_scheme="gray", on_click=on_cancel)
                ),
                rx.alert_dialog.action(
                    rx.button(
                        confirm_label,
                        color_scheme=confirm_color,
                        on_click=on_confirm,
                        id=confirm_id,
                    )
                ),
                spacing="3",
                justify="end",
                margin_top="16px",
            ),
            max_width=max_width,
        ),
        open=open,
        **root_props,
    )


def form_footer(submit_label: str, submit_id: str, submit_color: str | None = None) -> rx.Component:
    """Cancel (closes the dialog, never submits) and the submit button, right-aligned."""
    color_props = {} if submit_color is None else {"color_scheme": submit_color}
    return rx.hstack(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        rx.button(submit_label, type="submit", id=submit_id, **color_props),
        justify="end",
        width="100%",
    )


def form_dialog(
    title: str | rx.Var,
    description: rx.Component | str,
    *fields: rx.Component,
    submit_label: str,
    submit_id: str,
    on_submit: Any,
    open: rx.Var,
    on_open_change: Any,
    submit_color: str | None = None,
    trigger: rx.Component | None = None,
    content_key: rx.Var | None = None,
    spacing: str = "4",
    max_width: str = "480px",
) -> rx.Component:
    """A dialog holding one form: the fields, then Cancel + submit. The form keeps what was
    typed when the server rejects it (reset_on_submit=False); `content_key` remounts the
    form when the record being edited changes."""
    content_props = {} if content_key is None else {"key": content_key}
    return rx.dialog.root(
        *([] if trigger is None else [rx.dialog.trigger(trigger)]),
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2", color_scheme="gray"),
            rx.form(
                rx.vstack(
                    *fields,
                    form_footer(submit_label, submit_id, submit_color),
                    spacing=spacing,
                    width="100%",
                    padding_top="12px",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            max_width=max_width,
            **content_props,
        ),
        open=open,
        on_open_change=on_open_change,
    )
