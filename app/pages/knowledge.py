"""Knowledge: upload and watch documents ingest, paste text, write Q&A pairs, test retrieval."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.chat_markdown import chat_markdown
from app.components.dialogs import confirm_dialog, form_dialog
from app.components.forms import field_error, labeled
from app.components.knowledge_upload import TRUNCATE, stage_badge, upload_card
from app.components.knowledge_websites import websites_tab
from app.components.shell import dashboard_page, empty_state, page_header
from app.components.tables import stacked_on_phones
from app.pages.knowledge_catalogues import catalogues_tab
from app.services.documents import MAX_TITLE
from app.services.qa import MAX_ANSWER, MAX_QUESTION
from app.state.knowledge import (
    CONFIRM_TEXT,
    ChunkRow,
    DocRow,
    KnowledgeState,
    QARow,
    WidgetOption,
)

# ---- documents table ---------------------------------------------------------------------


def sort_header(label: str, column: str, **props) -> rx.Component:  # type: ignore[no-untyped-def]
    active = KnowledgeState.sort_field == column
    return rx.table.column_header_cell(
        rx.button(
            label,
            rx.cond(
                active,
                rx.cond(
                    KnowledgeState.sort_desc,
                    rx.icon("arrow-down", size=14),
                    rx.icon("arrow-up", size=14),
                ),
                rx.icon("arrow-up-down", size=14, opacity="0.4"),
            ),
            variant="ghost",
            color_scheme=rx.cond(active, "indigo", "gray"),
            size="1",
            on_click=KnowledgeState.sort_by(column),
            id=f"sort-{column}",
            aria_label=f"Sort by {label.lower()}",
        ),
        white_space="nowrap",
        **props,
    )


def doc_status(row: DocRow) -> rx.Component:
    return rx.vstack(
        stage_badge(row.status),
        rx.cond(
            row.active,
            rx.progress(
                value=row.progress, max=100, size="1", width="90px", aria_label="Ingestion progress"
            ),
        ),
        spacing="1",
    )


def doc_actions(row: DocRow) -> rx.Component:
    return rx.hstack(
        rx.cond(
            row.can_retry,
            rx.tooltip(
                rx.icon_button(
                    rx.icon("rotate-ccw", size=15),
                    variant="ghost",
                    color_scheme="orange",
                    aria_label="Retry " + row.title,
                    on_click=KnowledgeState.ask_confirm("retry", row.id, row.title),
                ),
                content="Retry",
            ),
        ),
        rx.tooltip(
            rx.icon_button(
                rx.icon("refresh-cw", size=15),
                variant="ghost",
                color_scheme="gray",
                disabled=row.active,
                aria_label="Re-index " + row.title,
                on_click=KnowledgeState.ask_confirm("reindex", row.id, row.title),
            ),
            content="Re-index",
        ),
        rx.tooltip(
            rx.icon_button(
                rx.icon("trash-2", size=15),
                variant="ghost",
                color_scheme="red",
                aria_label="Delete " + row.title,
                on_click=KnowledgeState.ask_confirm("delete", row.id, row.title),
            ),
            content="Delete",
        ),
        spacing="3",
        justify="end",
    )


# Column labels of the documents table (the stacked phone layout shows them per cell).
DOC_HEADERS = ("Title", "Type", "Size", "Chunks", "Status", "Error", "Updated", "")


def doc_row(row: DocRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.text(row.title, weight="medium", size="2"),
            max_width="280px",
            class_name="doc-title",
        ),
        rx.table.cell(rx.code(row.kind, variant="soft", size="1")),
        rx.table.cell(row.size, white_space="nowrap"),
        rx.table.cell(row.chunks),
        rx.table.cell(doc_status(row)),
        rx.table.cell(
            rx.cond(
                row.error != "",
                rx.text(row.error, size="1", color_scheme="red"),
                rx.cond(row.active, rx.text(row.step, size="1", color_scheme="gray"), "—"),
            ),
            max_width="240px",
        ),
        rx.table.cell(rx.text(row.updated, size="1", color_scheme="gray"), white_space="nowrap"),
        rx.table.cell(doc_actions(row)),
        class_name="doc-row",
        data_status=row.status,
        align="center",
    )


def skeleton_rows() -> rx.Component:
    return rx.vstack(
        *[rx.skeleton(rx.box(height="36px", width="100%"), loading=True) for _ in range(4)],
        spacing="2",
        width="100%",
    )


def documents_table() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.input(
                    rx.input.slot(rx.icon("search", size=16)),
                    placeholder="Search titles…",
                    value=KnowledgeState.search,
                    on_change=KnowledgeState.set_search.debounce(300),
                    id="doc-search",
                    max_length=100,
                    width=["100%", "280px"],
                ),
                rx.spacer(),
                rx.text(KnowledgeState.page_label, size="2", color_scheme="gray", id="doc-count"),
                width="100%",
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            rx.cond(
                ~KnowledgeState.loaded,
                skeleton_rows(),
                rx.cond(
                    KnowledgeState.total == 0,
                    rx.center(
                        rx.text(
                            rx.cond(
                                KnowledgeState.search != "",
                                "No document title matches this search.",
                                "No documents yet: upload files above or paste text.",
                            ),
                            size="2",
                            color_scheme="gray",
                        ),
                        padding_y="32px",
                        width="100%",
                    ),
                    rx.box(
                        rx.table.root(
                            rx.table.header(
                                rx.table.row(
                                    sort_header("Title", "title"),
                                    sort_header("Type", "kind"),
                                    sort_header("Size", "size_bytes"),
                                    sort_header("Chunks", "chunk_count"),
                                    sort_header("Status", "status"),
                                    rx.table.column_header_cell(
                                        rx.text(
                                            "Error", size="1", weight="medium", color_scheme="gray"
                                        )
                                    ),
                                    sort_header("Updated", "updated_at"),
                                    rx.table.column_header_cell(""),
                                )
                            ),
                            rx.table.body(rx.foreach(KnowledgeState.docs, doc_row)),
                            size="2",
                            width="100%",
                            min_width="860px",
                            id="doc-table",
                            style=stacked_on_phones(DOC_HEADERS),
                        ),
                        width="100%",
                        overflow_x="auto",
                    ),
                ),
            ),
            rx.flex(
                rx.button(
                    rx.icon("chevron-left", size=16),
                    "Previous",
                    variant="soft",
                    color_scheme="gray",
                    disabled=~KnowledgeState.has_prev,
                    on_click=KnowledgeState.go_page(-1),
                    id="doc-prev",
                ),
                rx.text(
                    "Page ",
                    KnowledgeState.page + 1,
                    " of ",
                    KnowledgeState.page_count,
                    size="2",
                    color_scheme="gray",
                ),
                rx.button(
                    "Next",
                    rx.icon("chevron-right", size=16),
                    variant="soft",
                    color_scheme="gray",
                    disabled=~KnowledgeState.has_next,
                    on_click=KnowledgeState.go_page(1),
                    id="doc-next",
                ),
                justify="end",
                align="center",
                spacing="4",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )


def action_confirm_dialog() -> rx.Component:
    """One dialog for every confirmed action here; CONFIRM_TEXT holds (title, text, button)."""

    def text_for(index: int) -> rx.Var:
        return rx.match(
            KnowledgeState.confirm_kind,
            *[(kind, texts[index]) for kind, texts in CONFIRM_TEXT.items()],
            "",
        )

    danger = (KnowledgeState.confirm_kind == "delete") | (
        KnowledgeState.confirm_kind == "delete_qa"
    )
    return confirm_dialog(
        text_for(0),
        rx.text(rx.text.strong(KnowledgeState.confirm_title)),
        rx.text(text_for(1), margin_top="8px"),
        confirm_label=text_for(2),
        confirm_id="confirm-yes",
        confirm_color=rx.cond(danger, "red", "indigo"),
        on_confirm=KnowledgeState.confirm_action,
        on_cancel=KnowledgeState.cancel_confirm,
        open=KnowledgeState.confirm_open,
        on_open_change=lambda _open: KnowledgeState.cancel_confirm(),
    )


def documents_tab() -> rx.Component:
    return rx.vstack(upload_card(), documents_table(), spacing="4", width="100%")


# ---- pasted text -------------------------------------------------------------------------


def text_tab() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.text("Title", size="2", weight="medium"),
                rx.input(
                    name="title",
                    id="paste-title",
                    placeholder="e.g. Shipping policy",
                    max_length=MAX_TITLE,
                    width="100%",
                ),
                rx.text("Text", size="2", weight="medium"),
                rx.text_area(
                    name="text",
                    id="paste-text",
                    placeholder="Paste the text your assistant should know…",
                    rows="12",
                    width="100%",
                    resize="vertical",
                ),
                rx.cond(
                    KnowledgeState.paste_error != "",
                    rx.callout(
                        KnowledgeState.paste_error,
                        icon="triangle-alert",
                        color_scheme="red",
                        size="1",
                        id="paste-error",
                        width="100%",
                    ),
                ),
                rx.flex(
                    rx.text(
                        "Stored and ingested like an uploaded .txt file, so re-index and "
                        "retry work too.",
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.spacer(),
                    rx.button(
                        rx.icon("plus", size=16), "Add text", type="submit", id="paste-submit"
                    ),
                    width="100%",
                    align="center",
                    spacing="3",
                    wrap="wrap",
                ),
                spacing="3",
                width="100%",
            ),
            on_submit=KnowledgeState.submit_text,
            width="100%",
        ),
        width="100%",
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


# ---- page --------------------------------------------------------------------------------


def tab_trigger(label: str, value: str, icon: str) -> rx.Component:
    return rx.tabs.trigger(
        rx.hstack(rx.icon(icon, size=15), rx.text(label), spacing="2", align="center"),
        value=value,
        id=f"tab-{value}",
    )


@dashboard_page(routes.KNOWLEDGE, "Knowledge")
def knowledge() -> rx.Component:
    return rx.vstack(
        page_header(
            "Knowledge",
            "Documents, websites, product catalogues, pasted text and Q&A pairs your assistant "
            "answers from, for this workspace only.",
        ),
        rx.tabs.root(
            # Wraps onto a second line on phones (like Settings) instead of cutting off.
            rx.tabs.list(
                tab_trigger("Documents", "documents", "files"),
                tab_trigger("Websites", "websites", "globe"),
                tab_trigger("Paste text", "text", "clipboard-paste"),
                tab_trigger("Q&A pairs", "qa", "message-circle-question"),
                tab_trigger("Catalogues", "catalogues", "shopping-bag"),
                tab_trigger("Test retrieval", "test", "flask-conical"),
                style={"flex_wrap": "wrap", "max_width": "100%"},
            ),
            rx.tabs.content(documents_tab(), value="documents", padding_top="16px"),
            rx.tabs.content(websites_tab(), value="websites", padding_top="16px"),
            rx.tabs.content(text_tab(), value="text", padding_top="16px"),
            rx.tabs.content(qa_tab(), value="qa", padding_top="16px"),
            rx.tabs.content(catalogues_tab(), value="catalogues", padding_top="16px"),
            rx.tabs.content(test_tab(), value="test", padding_top="16px"),
            value=KnowledgeState.tab,
            on_change=KnowledgeState.set_tab,
            width="100%",
        ),
        action_confirm_dialog(),
        spacing="5",
        width="100%",
        on_mount=KnowledgeState.load,
    )
