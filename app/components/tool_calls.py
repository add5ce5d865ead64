"""The tool calls of an answer in the transcript: name, arguments (secrets masked when they
were stored), status and latency; errors shown as the model received them (shortened)."""

from __future__ import annotations

import reflex as rx

from app.state.tool_call_views import ToolCallView


def _call(call: ToolCallView) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.icon("wrench", size=12),
            rx.code(call.name, size="1"),
            rx.badge(
                call.status,
                size="1",
                variant="soft",
                high_contrast=True,
                color_scheme=rx.match(
                    call.status,
                    ("ok", "green"),
                    ("awaiting_confirmation", "blue"),
                    ("invalid", "amber"),
                    "red",
                ),
            ),
            rx.cond(call.confirmed, rx.badge("confirmed by visitor", size="1", variant="outline")),
            rx.cond(call.latency != "", rx.text(call.latency, size="1", color_scheme="gray")),
            align="center",
            spacing="2",
            wrap="wrap",
        ),
        rx.text(
            call.arguments,
            size="1",
            font_family="var(--code-font-family)",
            color_scheme="gray",
            style={"overflowWrap": "anywhere"},
        ),
        rx.cond(call.error != "", rx.text(call.error, size="1", color_scheme="red")),
        padding="8px",
        border_radius="8px",
        border=f"1px solid {rx.color('gray', 5)}",
        width="100%",
        class_name="tool-call",
    )


def tool_calls(calls: rx.Var) -> rx.Component:
    return rx.cond(
        calls.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(
            rx.text("Tool calls", size="1", weight="bold", color_scheme="gray"),
            rx.foreach(calls, _call),
            spacing="2",
            width="100%",
        ),
    )
