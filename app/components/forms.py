"""Form pieces shared by every page: a labelled field group, the red inline error and the
sign-in pages' submit button."""

from __future__ import annotations

import reflex as rx


def error_text(message: rx.Var | str, error_id: str, size: str = "1") -> rx.Component:
    """The red error line itself; `role=alert` makes screen readers announce it."""
    return rx.text(message, color_scheme="red", size=size, id=error_id, role="alert")


def field_error(message: rx.Var, error_id: str, size: str = "1") -> rx.Component:
    """A red inline error with a stable id, rendered only while the message is set."""
    return rx.cond(message != "", error_text(message, error_id, size))


def field_label(label: str, html_for: str, **text_props) -> rx.Component:  # type: ignore[no-untyped-def]
    """A real <label for=...>: `rx.text(as_="label", html_for=...)` would turn `html_for`
    into a CSS property and leave the control without a name."""
    props = {"size": "2", "weight": "medium", **text_props}
    return rx.el.label(rx.text(label, as_="span", **props), html_for=html_for)


def labeled(label: str, html_for: str, *children: rx.Component) -> rx.Component:
    """A label tied to the control `html_for`, then the control, hints and errors below it."""
    return rx.vstack(
        field_label(label, html_for),
        *children,
        spacing="1",
        width="100%",
        align="start",
    )


def submit_button(label: str, button_id: str) -> rx.Component:
    """The full-width submit of the sign-in pages (log in, sign up, reset password). Those
    pages are prerendered: a submit before React has hydrated them is the browser's own GET
    (`/login?email=...&password=...`: credentials in the URL, the history and access logs),
    or is wiped by the page's on_load; so it stays disabled until hydration."""
    return rx.button(
        label, type="submit", size="3", width="100%", id=button_id,
        disabled=~rx.State.is_hydrated,
    )  # fmt: skip
