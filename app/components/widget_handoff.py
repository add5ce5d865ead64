"""The widget editor's "Human handoff" card."""

from __future__ import annotations

import reflex as rx

from app.components.forms import field_error, labeled
from app.state.widget_handoff import WidgetHandoffState as H


def handoff_card() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Human handoff", size="4", as_="h2"),
                rx.text(
                    "When visitors are passed to a person on your team (see Inbox).",
                    size="2",
                    color_scheme="gray",
                ),
                labeled(
                    "“Talk to a person” button",
                    "handoff-button",
                    rx.select.root(
                        rx.select.trigger(id="handoff-button", width="100%"),
                        rx.select.content(
                            rx.select.item("Off", value="off"),
                            rx.select.item("Always", value="always"),
                            rx.select.item("After the first answer", value="after_first"),
                        ),
                        value=H.button,
                        on_change=H.set_button,
                    ),
                ),
                rx.el.label(
                    rx.checkbox(
                        checked=H.phrases,
                        on_change=H.set_phrases,
                        id="handoff-phrases",
                        name="phrases",
                        aria_label="When the visitor asks for a person in words",
                    ),
                    rx.text("When the visitor asks for a person in words", size="2"),
                    style={"display": "flex", "gap": "8px", "align_items": "center"},
                ),
                rx.el.label(
                    rx.checkbox(
                        checked=H.thumbs_down,
                        on_change=H.set_thumbs_down,
                        id="handoff-thumbs",
                        name="thumbs_down",
                        aria_label="After a thumbs-down",
                    ),
                    rx.text("After a thumbs-down", size="2"),
                    style={"display": "flex", "gap": "8px", "align_items": "center"},
                ),
                labeled(
                    "After this many unsure answers in a row (0 = off)",
                    "handoff-streak",
                    rx.input(
                        name="low_confidence_n",
                        id="handoff-streak",
                        type="number",
                        min=0,
                        max=10,
                        default_value=H.low_confidence_n,
                        key=H.low_confidence_n,
                    ),
                ),
                labeled(
                    "Usual reply time (minutes)",
                    "handoff-minutes",
                    rx.input(
                        name="reply_minutes",
                        id="handoff-minutes",
                        type="number",
                        min=1,
                        max=1440,
                        default_value=H.reply_minutes,
                        key=H.reply_minutes,
                    ),
                ),
                labeled(
                    "Consent text on the contact form",
                    "handoff-consent",
                    rx.input(
                        name="lead_consent",
                        id="handoff-consent",
                        default_value=H.lead_consent,
                        key=H.lead_consent,
                        max_length=300,
                        width="100%",
                    ),
                ),
                field_error(H.handoff_error, "handoff-error"),
                rx.button("Save handoff settings", type="submit", id="handoff-save"),
                spacing="3",
                width="100%",
            ),
            on_submit=H.save,
            reset_on_submit=False,
        ),
        width="100%",
        on_mount=H.load,
        id="widget-handoff",
    )
