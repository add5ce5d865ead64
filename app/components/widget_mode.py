"""The widget editor's answer-mode selector: LLM, intents only, or intents then LLM."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.widget_form import form_field

MODE_LABELS = {
    "llm": "AI answers (LLM and knowledge)",
    "intent": "Intents only (no AI)",
    "hybrid": "Intents first, AI for the rest",
}


def answer_mode_field(value: rx.Var, on_change: rx.EventHandler) -> rx.Component:
    return form_field(
        "Answer mode",
        rx.vstack(
            rx.select.root(
                rx.select.trigger(width="100%", id="widget-mode"),
                rx.select.content(
                    *[rx.select.item(label, value=key) for key, label in MODE_LABELS.items()]
                ),
                value=value,
                on_change=on_change,
            ),
            rx.link("Edit intents", href=routes.INTENTS, size="2", id="edit-intents-link"),
            spacing="1",
            width="100%",
        ),
        hint="Intents answer greetings, order status, products, hours and handoff without AI.",
    )
