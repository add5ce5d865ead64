"""Knowledge → Documents and Pasted text: the live ingestion table, row actions, pasting."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import confirm_dialog
from app.components.knowledge_upload import stage_badge, upload_card
from app.components.tables import stacked_on_phones
from app.services.documents import MAX_TITLE
from app.state.knowledge import (
    CONFIRM_TEXT,
    DocRow,
    KnowledgeState,
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
