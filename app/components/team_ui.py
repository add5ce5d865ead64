"""Small pieces shared by the API keys and settings pages (team area)."""

from __future__ import annotations

from typing import Any

import reflex as rx


def secret_box(value: rx.Var, copy_id: str, value_id: str) -> rx.Component:
    """A monospace value with a copy button (for one-time secrets and invite links)."""
    return rx.hstack(
        rx.code(
            value,
            id=value_id,
            size="2",
            variant="soft",
            style={"word_break": "break-all", "white_space": "pre-wrap"},
            flex="1",
            padding="8px",
        ),
        rx.tooltip(
            rx.icon_button(
                rx.icon("copy", size=16),
                on_click=[rx.set_clipboard(value), rx.toast.success("Copied to the clipboard.")],
                id=copy_id,
                aria_label="Copy",
                variant="soft",
            ),
            content="Copy",
        ),
        width="100%",
        align="center",
    )


def one_time_secret_dialog(
    title: str,
    description: rx.Component | str,
    *,
    secret: rx.Var,
    copy_id: str,
    value_id: str,
    done_label: str,
    on_done: Any,
    done_id: str,
    max_width: str = "520px",
) -> rx.Component:
    """Shows a one-time secret (new API key, invite link) with a copy button until done.
    Open exactly while the state holds the secret; the state clears it on done."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.alert_dialog.description(description, size="2"),
            rx.box(secret_box(secret, copy_id, value_id), padding_y="16px"),
            rx.flex(
                rx.alert_dialog.action(rx.button(done_label, on_click=on_done, id=done_id)),
                justify="end",
            ),
            max_width=max_width,
        ),
        open=secret != "",
    )


def table_skeleton(rows: int = 3) -> rx.Component:
    return rx.vstack(
        *[rx.skeleton(rx.box(height="40px", width="100%")) for _ in range(rows)],
        width="100%",
        spacing="2",
    )


def read_only_notice(text: str, notice_id: str) -> rx.Component:
    return rx.callout(text, icon="lock", color_scheme="gray", variant="surface", id=notice_id)


def section_card(title: str, description: str, *children: rx.Component, **props) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.vstack(
                rx.heading(title, size="4", as_="h2"),
                rx.text(description, size="2", color_scheme="gray"),
                spacing="1",
            ),
            *children,
            spacing="4",
            width="100%",
        ),
        width="100%",
        size="3",
        **props,
    )
