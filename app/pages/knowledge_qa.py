"""Knowledge → Q&A: pairs answered word for word before retrieval."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import form_dialog
from app.components.forms import field_error, labeled
from app.components.shell import empty_state
from app.services.qa import MAX_ANSWER, MAX_QUESTION
from app.state.knowledge import (
    KnowledgeState,
    QARow,
)

# ---- Q&A pairs ---------------------------------------------------------------------------


def pair_card(pair: QARow) -> rx.Component:
    return rx.card(
        rx.flex(
            rx.vstack(
                rx.text(pair.question, weight="medium", size="2"),
                rx.text(pair.answer, size="2", color_scheme="gray", white_space="pre-wrap"),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            rx.hstack(
                rx.tooltip(
                    rx.switch(
                        checked=pair.enabled,
                        on_change=lambda value: KnowledgeState.toggle_pair(pair.id, value),
                        aria_label="Enabled: " + pair.question,
                    ),
                    content="Enabled",
                ),
                rx.icon_button(
                    rx.icon("pencil", size=15),
                    variant="ghost",
                    color_scheme="gray",
                    aria_label="Edit " + pair.question,
                    on_click=KnowledgeState.edit_pair(pair.id),
                ),
                rx.icon_button(
                    rx.icon("trash-2", size=15),
                    variant="ghost",
                    color_scheme="red",
                    aria_label="Delete " + pair.question,
                    on_click=KnowledgeState.ask_confirm("delete_qa", pair.id, pair.question),
                ),
                spacing="3",
                align="center",
            ),
            spacing="3",
            align="start",
            width="100%",
        ),
        width="100%",
        class_name="qa-pair",
        opacity=rx.cond(pair.enabled, "1", "0.6"),
    )


def pair_dialog() -> rx.Component:
    return form_dialog(
        rx.cond(KnowledgeState.qa_edit_id != "", "Edit Q&A pair", "New Q&A pair"),
        "When a visitor asks this question (or a close paraphrase), the widget "
        "answers with your text, citing it, without calling a model.",
        labeled(
            "Question",
            "qa-question",
            rx.input(
                name="question",
                id="qa-question",
                default_value=KnowledgeState.qa_question,
                max_length=MAX_QUESTION,
                width="100%",
            ),
        ),
        labeled(
            "Answer",
            "qa-answer",
            rx.text_area(
                name="answer",
                id="qa-answer",
                default_value=KnowledgeState.qa_answer,
                max_length=MAX_ANSWER,
                rows="6",
                width="100%",
            ),
        ),
        rx.text(
            rx.switch(
                checked=KnowledgeState.qa_enabled,
                on_change=KnowledgeState.set_qa_enabled,
                margin_right="8px",
            ),
            "Enabled",
            as_="label",
            size="2",
        ),
        field_error(KnowledgeState.qa_error, "qa-error", size="2"),
        submit_label="Save",
        submit_id="qa-save",
        on_submit=KnowledgeState.save_pair,
        open=KnowledgeState.qa_open,
        on_open_change=KnowledgeState.set_qa_open,
        content_key=KnowledgeState.qa_edit_id,
        spacing="3",
        max_width="520px",
    )


def qa_tab() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text(
                "Exact answers for questions you know visitors ask. A close match "
                "(similarity ≥ 0.86) answers directly.",
                size="2",
                color_scheme="gray",
                flex="1",
                min_width="220px",
            ),
            rx.button(
                rx.icon("plus", size=16), "Add pair", on_click=KnowledgeState.new_pair, id="qa-new"
            ),
            width="100%",
            align="center",
            spacing="3",
            wrap="wrap",
        ),
        rx.cond(
            KnowledgeState.pairs.length() > 0,
            rx.vstack(rx.foreach(KnowledgeState.pairs, pair_card), spacing="2", width="100%"),
            empty_state(
                "message-circle-question",
                "No Q&A pairs yet",
                "Add the questions you answer most often, with the exact answer you want "
                "given. Conversations can turn a weak answer into a pair too.",
            ),
        ),
        pair_dialog(),
        spacing="4",
        width="100%",
    )
