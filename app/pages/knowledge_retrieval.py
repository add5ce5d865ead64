"""Knowledge → Test retrieval: what a question retrieves, ranked, with the quoted sentence."""

from __future__ import annotations

import reflex as rx

from app.components.chat_markdown import chat_markdown
from app.components.knowledge_upload import TRUNCATE
from app.state.knowledge import (
    ChunkRow,
    KnowledgeState,
    WidgetOption,
)

# ---- test retrieval ----------------------------------------------------------------------


def chunk_card(chunk: ChunkRow) -> rx.Component:
    return rx.box(
        rx.flex(
            rx.badge("#", chunk.n, variant="soft", color_scheme="gray"),
            rx.text(chunk.title, weight="medium", size="2", **TRUNCATE),
            rx.text(chunk.where, size="1", color_scheme="gray", white_space="nowrap"),
            rx.spacer(),
            rx.cond(chunk.qa, rx.badge("Q&A pair", color_scheme="violet")),
            rx.cond(chunk.cited, rx.badge("cited", color_scheme="green")),
            rx.badge(
                "rank ",
                chunk.score,
                variant="outline",
                class_name="chunk-score",
                title="Hybrid rank score: dense + keyword, normalized per question (best = 1)",
            ),
            rx.badge(
                "relevance ",
                chunk.relevance,
                variant="soft",
                color_scheme="gray",
                class_name="chunk-relevance",
                title=(
                    "Raw cosine similarity of the chunk to the question (about 0.5 and up: "
                    "on topic; — : found by keywords only)"
                ),
            ),
            spacing="2",
            align="center",
            wrap="wrap",
        ),
        rx.cond(
            chunk.quote != "",
            rx.text(
                chunk.before,
                rx.el.mark(
                    chunk.quote,
                    class_name="chunk-quote",
                    title="The sentence the answer quotes",
                    style={
                        "background": rx.color("amber", 4),
                        "color": rx.color("gray", 12),
                        "border_radius": "3px",
                        "padding": "0 2px",
                    },
                ),
                chunk.after,
                size="2",
                color_scheme="gray",
                margin_top="6px",
            ),
            rx.text(chunk.text, size="2", color_scheme="gray", margin_top="6px"),
        ),
        class_name="chunk",
        padding="12px",
        border_radius="8px",
        border=f"1px solid {rx.color('gray', 4)}",
        width="100%",
    )


def widget_item(option: WidgetOption) -> rx.Component:
    return rx.select.item(option.name, value=option.id)


def test_tab() -> rx.Component:
    return rx.vstack(
        rx.card(
            rx.form(
                rx.flex(
                    rx.select.root(
                        rx.select.trigger(placeholder="Widget", id="test-widget"),
                        rx.select.content(
                            rx.select.item("No widget (workspace defaults)", value="none"),
                            rx.foreach(KnowledgeState.widget_options, widget_item),
                        ),
                        value=KnowledgeState.test_widget,
                        on_change=KnowledgeState.set_test_widget,
                    ),
                    rx.input(
                        name="question",
                        id="test-question",
                        default_value=KnowledgeState.test_question,
                        placeholder="Ask what a visitor would ask…",
                        max_length=1000,
                        flex="1",
                        min_width="200px",
                    ),
                    rx.button(
                        rx.icon("search", size=16),
                        "Test",
                        type="submit",
                        loading=KnowledgeState.test_running,
                        id="test-submit",
                    ),
                    spacing="3",
                    wrap="wrap",
                    width="100%",
                ),
                on_submit=KnowledgeState.run_test,
                reset_on_submit=False,
            ),
            rx.text(
                "Runs a real turn on the dashboard channel: retrieved chunks with their scores, "
                "then the answer the widget would give (logged and metered as a dashboard test).",
                size="1",
                color_scheme="gray",
                margin_top="8px",
            ),
            width="100%",
        ),
        rx.cond(
            KnowledgeState.test_error != "",
            rx.callout(
                KnowledgeState.test_error,
                icon="triangle-alert",
                color_scheme="red",
                id="test-error",
                width="100%",
            ),
        ),
        rx.cond(
            KnowledgeState.test_running,
            rx.vstack(
                rx.skeleton(rx.box(height="80px", width="100%"), loading=True),
                rx.skeleton(rx.box(height="60px", width="100%"), loading=True),
                spacing="2",
                width="100%",
            ),
            rx.cond(
                KnowledgeState.test_done,
                rx.vstack(
                    rx.card(
                        rx.flex(
                            rx.heading("Answer", size="3", as_="h3"),
                            rx.spacer(),
                            rx.cond(
                                KnowledgeState.answered,
                                rx.badge("answered", color_scheme="green"),
                                rx.badge("not answered", color_scheme="orange"),
                            ),
                            align="center",
                            width="100%",
                        ),
                        chat_markdown(
                            KnowledgeState.answer_html, id="test-answer", margin_top="8px"
                        ),
                        rx.text(KnowledgeState.answer_meta, size="1", color_scheme="gray"),
                        width="100%",
                    ),
                    rx.heading("Retrieved chunks", size="3", margin_top="8px", as_="h3"),
                    rx.cond(
                        KnowledgeState.chunks.length() > 0,
                        rx.vstack(
                            rx.foreach(KnowledgeState.chunks, chunk_card),
                            spacing="2",
                            width="100%",
                            id="test-chunks",
                        ),
                        rx.text(
                            "Nothing was retrieved: add documents, or wait until they are ready.",
                            size="2",
                            color_scheme="gray",
                        ),
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )
