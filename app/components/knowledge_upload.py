"""The Knowledge page's upload card: drop zone, chosen files, and one progress row per file
that follows it from the first uploaded byte to ready (or its refusal)."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.vars import Var, VarData
from reflex_components_core.core.upload import get_upload_files_context_var_data

from app.state.knowledge import MAX_FILES_PER_UPLOAD, UPLOAD_ID, KnowledgeState, UploadRow

ACCEPTED_TYPES = "PDF, DOCX, TXT, Markdown, CSV"
TRUNCATE = {"overflow": "hidden", "text_overflow": "ellipsis", "white_space": "nowrap"}


def chosen_files_meta(upload_id: str = UPLOAD_ID) -> Var:
    """Name and size of each chosen file, read in the browser (rx.selected_files has names
    only); the sizes let one request-wide upload progress be split per file."""
    key = f'"{upload_id}"'
    return Var(
        _js_expr=(
            f"(filesById[{key}] ? filesById[{key}].map((f) => ({{name: f.name, size: f.size}}))"
            " : [])"
        ),
        _var_type=list[dict[str, Any]],
        _var_data=VarData.merge(get_upload_files_context_var_data()),
    )


STAGE_COLORS = {
    "uploading": "indigo",
    "queued": "gray",
    "parsing": "blue",
    "chunking": "blue",
    "embedding": "blue",
    "indexing": "blue",
    "ready": "green",
    "failed": "red",
    "refused": "red",
}


def stage_badge(stage: Var) -> rx.Component:
    return rx.match(
        stage,
        *[
            (name, rx.badge(name.capitalize(), color_scheme=color, variant="soft"))
            for name, color in STAGE_COLORS.items()
        ],
        rx.badge(stage, variant="soft"),
    )


def upload_row(row: UploadRow) -> rx.Component:
    bad = (row.stage == "refused") | (row.stage == "failed")
    return rx.vstack(
        rx.flex(
            rx.cond(
                bad,
                rx.icon("circle-alert", size=16, color=rx.color("red", 10), flex_shrink="0"),
                rx.cond(
                    row.stage == "ready",
                    rx.icon("circle-check", size=16, color=rx.color("green", 10), flex_shrink="0"),
                    rx.icon("file", size=16, color=rx.color("gray", 10), flex_shrink="0"),
                ),
            ),
            rx.text(row.name, size="2", weight="medium", **TRUNCATE),
            rx.text(row.size_label, size="1", color_scheme="gray", white_space="nowrap"),
            rx.spacer(),
            stage_badge(row.stage),
            align="center",
            spacing="2",
            min_width="0",
            width="100%",
        ),
        rx.cond(
            bad,
            rx.text(row.message, size="1", color_scheme="red", class_name="upload-error"),
            rx.vstack(
                rx.progress(
                    value=row.progress,
                    max=100,
                    aria_label="Upload progress",
                    size="1",
                    width="100%",
                    color_scheme=rx.cond(row.stage == "ready", "green", "indigo"),
                ),
                rx.flex(
                    rx.text(
                        rx.match(row.stage, ("uploading", ""), ("ready", ""), "Ingesting · "),
                        row.message,
                        size="1",
                        color_scheme="gray",
                    ),
                    rx.spacer(),
                    rx.text(
                        row.progress,
                        "%",
                        size="1",
                        color_scheme="gray",
                        class_name="upload-percent",
                    ),
                    width="100%",
                ),
                spacing="1",
                width="100%",
            ),
        ),
        class_name="upload-row",
        data_stage=row.stage,
        data_name=row.name,
        spacing="2",
        padding="10px 12px",
        border_radius="8px",
        border=f"1px solid {rx.color('gray', 4)}",
        background=rx.color("gray", 2),
        width="100%",
    )


def _name_file_input(zone: rx.Component, name: str) -> rx.Component:
    """Give the drop zone's hidden <input type=file> an accessible name (rx.upload offers
    no prop for that input)."""
    for child in zone.children:
        if getattr(child, "tag", "") == "input":
            child.custom_attrs["aria-label"] = name
        else:
            _name_file_input(child, name)
    return zone


def upload_card() -> rx.Component:
    chosen = rx.selected_files(UPLOAD_ID)
    return rx.card(
        rx.vstack(
            _name_file_input(
                rx.upload.root(
                    rx.vstack(
                        rx.center(
                            rx.icon("cloud-upload", size=22, color=rx.color("accent", 10)),
                            width="44px",
                            height="44px",
                            border_radius="50%",
                            background=rx.color("accent", 3),
                        ),
                        rx.text("Drop files here or click to choose", weight="medium", size="2"),
                        rx.text(
                            f"{ACCEPTED_TYPES} · up to ",
                            KnowledgeState.max_upload_mb,
                            f" MB each · {MAX_FILES_PER_UPLOAD} at a time",
                            size="1",
                            color_scheme="gray",
                            text_align="center",
                        ),
                        align="center",
                        spacing="2",
                        padding="24px 12px",
                        width="100%",
                    ),
                    id=UPLOAD_ID,
                    multiple=True,
                    max_files=MAX_FILES_PER_UPLOAD,
                    max_size=KnowledgeState.max_upload_mb * 1024 * 1024,
                    on_drop_rejected=KnowledgeState.drop_rejected,
                    width="100%",
                    border=f"2px dashed {rx.color('gray', 6)}",
                    border_radius="12px",
                    cursor="pointer",
                    _hover={"border_color": rx.color("accent", 8)},
                ),
                "Choose documents to upload",
            ),
            rx.cond(
                chosen.length() > 0,  # type: ignore[attr-defined]
                rx.flex(
                    rx.flex(
                        rx.foreach(
                            chosen,
                            lambda name: rx.badge(
                                rx.icon("file", size=12),
                                name,
                                variant="surface",
                                color_scheme="gray",
                            ),
                        ),
                        spacing="2",
                        wrap="wrap",
                        flex="1",
                        min_width="0",
                    ),
                    rx.hstack(
                        rx.button(
                            "Clear",
                            variant="soft",
                            color_scheme="gray",
                            on_click=rx.clear_selected_files(UPLOAD_ID),
                        ),
                        rx.button(
                            rx.icon("upload", size=16),
                            "Upload ",
                            chosen.length(),  # type: ignore[attr-defined]
                            rx.cond(chosen.length() == 1, " file", " files"),  # type: ignore[attr-defined]
                            id="upload-submit",
                            loading=KnowledgeState.uploading,
                            on_click=[
                                KnowledgeState.begin_upload(chosen_files_meta()),
                                KnowledgeState.handle_upload(
                                    rx.upload_files(
                                        upload_id=UPLOAD_ID,
                                        on_upload_progress=KnowledgeState.upload_progress,
                                    )
                                ),
                            ],
                        ),
                        spacing="2",
                    ),
                    spacing="3",
                    align="center",
                    wrap="wrap",
                    width="100%",
                ),
            ),
            rx.cond(
                KnowledgeState.uploads.length() > 0,
                rx.vstack(
                    rx.flex(
                        rx.text("This session's uploads", size="2", weight="medium"),
                        rx.spacer(),
                        rx.button(
                            "Clear finished",
                            size="1",
                            variant="soft",
                            color_scheme="gray",
                            on_click=KnowledgeState.clear_finished,
                        ),
                        width="100%",
                        align="center",
                    ),
                    rx.foreach(KnowledgeState.uploads, upload_row),
                    spacing="2",
                    width="100%",
                    id="upload-list",
                ),
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
    )
