"""Form pieces of the widget editor: labelled fields with inline errors, sections, snippets."""

from __future__ import annotations

import reflex as rx

from app.components.forms import error_text, field_label


def control_id(component: rx.Component) -> str:
    """The id of the first control inside `component` (a select's id sits on its trigger)."""
    if isinstance(getattr(component, "id", None), str) and component.id:
        return component.id
    for child in getattr(component, "children", []):
        if isinstance(child, rx.Component) and (found := control_id(child)):
            return found
    return ""


def form_field(
    label: str,
    control: rx.Component,
    *,
    hint: str = "",
    error: rx.Var | str = "",
    error_id: str = "",
    html_for: str = "",
) -> rx.Component:
    """A label bound to its control (`html_for`, else the first id inside `control`), the
    control, a grey hint and a red inline error (shown only when set)."""
    target = html_for or control_id(control)
    if not target:
        raise ValueError(f"form_field {label!r}: the control needs an id for its label")
    return rx.vstack(
        field_label(label, target),
        control,
        rx.cond(
            error != "",
            error_text(error, error_id),
            rx.cond(hint != "", rx.text(hint, size="1", color_scheme="gray")),
        ),
        spacing="1",
        width="100%",
    )


def form_section(title: str, description: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.vstack(
                rx.heading(title, size="3", as_="h2"),
                rx.text(description, size="1", color_scheme="gray"),
                spacing="1",
            ),
            *children,
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def snippet_block(
    title: str, description: str, code: rx.Var, copy_id: str, on_copy: rx.EventSpec
) -> rx.Component:
    """A code snippet with a copy button (the handler copies the server's text, not the DOM)."""
    return rx.vstack(
        rx.hstack(
            rx.vstack(
                rx.text(title, size="2", weight="medium"),
                rx.text(description, size="1", color_scheme="gray"),
                spacing="0",
            ),
            rx.spacer(),
            rx.button(
                rx.icon("copy", size=14),
                "Copy",
                size="1",
                variant="soft",
                on_click=on_copy,
                id=copy_id,
                type="button",
            ),
            width="100%",
            align="center",
        ),
        rx.el.pre(
            code,
            id=f"{copy_id}-code",
            style={
                "font_family": "var(--code-font-family)",
                "font_size": "12px",
                "line_height": "1.5",
                "white_space": "pre-wrap",
                "word_break": "break-all",
                "margin": "0",
                "padding": "12px",
                "border_radius": "8px",
                "background": rx.color("gray", 3),
                "border": f"1px solid {rx.color('gray', 5)}",
                "width": "100%",
            },
        ),
        spacing="2",
        width="100%",
    )
