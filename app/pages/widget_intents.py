"""Intents: what widgets in intent or hybrid mode answer without an LLM (workspace-wide)."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.shell import dashboard_page
from app.components.widget_form import form_field, form_section
from app.state.intents import ACTION_LABELS, IntentRow, IntentsState

S = IntentsState


def _tester() -> rx.Component:
    return form_section(
        "Test a phrase",
        "Type what a visitor might write: see which intent answers, its score and the runner-up.",
        rx.hstack(
            rx.box(
                form_field(
                    "Phrase",
                    rx.input(
                        value=S.phrase,
                        on_change=S.set_phrase,
                        id="intent-test-phrase",
                        placeholder="where is my order 1234?",
                        width="100%",
                    ),
                ),
                flex="1",
            ),
            rx.button("Test", on_click=S.try_phrase, id="intent-test-button"),
            align="end",
            width="100%",
        ),
        rx.cond(
            S.tested,
            rx.data_list.root(
                rx.data_list.item(
                    rx.data_list.label("Intent"),
                    rx.data_list.value(rx.badge(S.test_intent, id="intent-test-result")),
                ),
                rx.data_list.item(
                    rx.data_list.label("Score"),
                    rx.data_list.value(rx.text(S.test_score, id="intent-test-score")),
                ),
                rx.data_list.item(rx.data_list.label("Decided by"), rx.data_list.value(S.test_via)),
                rx.data_list.item(
                    rx.data_list.label("Runner-up"),
                    rx.data_list.value(rx.text(S.test_runner_up, id="intent-test-runner-up")),
                ),
                id="intent-test-output",
            ),
        ),
    )


def _row(row: IntentRow) -> rx.Component:
    return rx.hstack(
        rx.button(
            row.name,
            variant=rx.cond(S.selected == row.id, "solid", "soft"),
            on_click=S.select(row.id),
            id="intent-" + row.name,
            flex="1",
            justify="start",
        ),
        rx.switch(
            checked=row.enabled,
            on_change=lambda value: S.toggle(row.id, value),
            aria_label="Enabled: " + row.name,
        ),
        width="100%",
        align="center",
    )


def _editor() -> rx.Component:
    return form_section(
        "Edit intent",
        "Examples are matched by meaning; keywords (whole words) decide outright.",
        rx.heading(S.name, size="4", as_="h3", id="intent-editing"),
        form_field(
            "Example phrases (one per line)",
            rx.text_area(
                value=S.examples,
                on_change=S.set_examples,
                id="intent-examples",
                rows="8",
                width="100%",
            ),
        ),
        form_field(
            "Keywords (one per line)",
            rx.text_area(
                value=S.keywords,
                on_change=S.set_keywords,
                id="intent-keywords",
                rows="3",
                width="100%",
            ),
        ),
        form_field(
            "Action",
            rx.select.root(
                rx.select.trigger(width="100%", id="intent-action"),
                rx.select.content(
                    *[rx.select.item(label, value=key) for key, label in ACTION_LABELS.items()]
                ),
                value=S.action,
                on_change=S.set_action,
            ),
        ),
        form_field(
            "Reply",
            rx.text_area(
                value=S.reply, on_change=S.set_reply, id="intent-reply", rows="3", width="100%"
            ),
            hint="Used by “Canned reply”; for opening hours it replaces the configured hours.",
            error=S.error,
            error_id="intent-error",
        ),
        rx.hstack(
            rx.switch(checked=S.enabled, on_change=S.set_enabled, id="intent-enabled"),
            rx.el.label("Enabled", html_for="intent-enabled"),
            align="center",
        ),
        rx.hstack(
            rx.button(
                "Delete",
                on_click=S.delete_selected,
                id="intent-delete",
                color_scheme="red",
                variant="soft",
            ),
            rx.button("Save intent", on_click=S.save, id="intent-save"),
            justify="end",
            width="100%",
        ),
    )


def _new_intent() -> rx.Component:
    return rx.vstack(
        rx.heading("Add an intent", size="3", as_="h2"),
        form_field(
            "Name",
            rx.input(
                value=S.new_name,
                on_change=S.set_new_name,
                id="intent-new-name",
                placeholder="returns_policy",
                width="100%",
            ),
        ),
        form_field(
            "An example phrase",
            rx.input(
                value=S.new_example,
                on_change=S.set_new_example,
                id="intent-new-example",
                placeholder="how do I return an item",
                width="100%",
            ),
        ),
        form_field(
            "Reply",
            rx.text_area(
                value=S.new_reply,
                on_change=S.set_new_reply,
                id="intent-new-reply",
                rows="2",
                width="100%",
            ),
            error=S.new_error,
            error_id="intent-new-error",
        ),
        rx.button("Add intent", on_click=S.create, id="intent-add"),
        width="100%",
        spacing="3",
    )


@dashboard_page(routes.INTENTS, "Intents", on_load=S.load)
def intents_page() -> rx.Component:
    return rx.vstack(
        rx.heading("Intents", size="6", as_="h1"),
        rx.text(
            "Widgets in intent mode answer only through these; in hybrid mode anything they "
            "do not catch goes to the AI. Choose the mode in each widget's settings.",
            color_scheme="gray",
        ),
        _tester(),
        rx.grid(
            rx.card(
                rx.vstack(
                    rx.heading("Intents", size="3", as_="h2"),
                    rx.foreach(S.rows, _row),
                    rx.divider(),
                    _new_intent(),
                    width="100%",
                ),
                width="100%",
            ),
            _editor(),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="4",
            width="100%",
        ),
        spacing="4",
        width="100%",
        id="intents-page",
    )
