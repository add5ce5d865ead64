"""Conversations: filterable list with CSV export, and the transcript of one conversation."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.chat_markdown import chat_markdown
from app.components.dialogs import form_dialog
from app.components.forms import field_error, labeled
from app.components.insights import channel_badge, skeleton_rows
from app.components.shell import dashboard_page, empty_state, page_header
from app.components.tables import stacked_on_phones
from app.components.tool_calls import tool_calls
from app.state.conversations import (
    ConversationsState,
    MessageView,
    SourceView,
    TranscriptState,
)
from app.state.insights_views import ConversationView

CONV_HEADERS = (
    "Conversation",
    "Channel",
    "Msgs",
    "Feedback",
    "Unanswered",
    "Cost",
    "Last message (UTC)",
)


def _date_field(label: str, value: rx.Var, on_change, field_id: str) -> rx.Component:  # type: ignore[no-untyped-def]
    return rx.hstack(
        rx.text(label, size="2", color_scheme="gray", width="36px"),
        rx.input(
            type="date",
            value=value,
            on_change=on_change,
            id=field_id,
            flex="1",
            aria_label=f"{label} date",
        ),
        align="center",
        spacing="2",
        width=rx.breakpoints(initial="100%", sm="auto"),
    )


def _filters() -> rx.Component:
    s = ConversationsState
    return rx.card(
        rx.vstack(
            rx.form(
                rx.hstack(
                    rx.input(
                        rx.input.slot(rx.icon("search", size=14)),
                        name="search",
                        placeholder="Search messages…",
                        default_value=s.search,
                        max_length=200,
                        id="conv-search",
                        flex="1",
                        min_width="0",
                    ),
                    rx.button("Search", type="submit", variant="soft", id="conv-search-submit"),
                    width="100%",
                ),
                on_submit=s.apply_search,
                width="100%",
            ),
            rx.flex(
                rx.select.root(
                    rx.select.trigger(
                        placeholder="All widgets", id="conv-widget", aria_label="Widget"
                    ),
                    rx.select.content(
                        rx.select.item("All widgets", value="all"),
                        rx.foreach(
                            s.widget_options,
                            lambda w: rx.select.item(w["name"], value=w["id"]),
                        ),
                    ),
                    value=s.widget_id,
                    on_change=s.choose_widget,
                ),
                rx.select.root(
                    rx.select.trigger(id="conv-channel", aria_label="Channel"),
                    rx.select.content(
                        rx.select.item("All channels", value="all"),
                        rx.select.item("Visitors (website)", value="web"),
                        rx.select.item("Dashboard tests", value="dashboard"),
                        rx.select.item("API", value="api"),
                    ),
                    value=s.channel,
                    on_change=s.choose_channel,
                ),
                rx.select.root(
                    rx.select.trigger(id="conv-feedback", aria_label="Feedback"),
                    rx.select.content(
                        rx.select.item("Any feedback or none", value="all"),
                        rx.select.item("Thumbs up", value="up"),
                        rx.select.item("Thumbs down", value="down"),
                        rx.select.item("With feedback", value="any"),
                    ),
                    value=s.feedback,
                    on_change=s.choose_feedback,
                ),
                _date_field("From", s.date_from, s.choose_date_from, "conv-from"),
                _date_field("To", s.date_to, s.choose_date_to, "conv-to"),
                rx.text(
                    rx.flex(
                        rx.switch(checked=s.flagged, on_change=s.choose_flagged, id="conv-flagged"),
                        "Unanswered or low confidence",
                        spacing="2",
                        align="center",
                    ),
                    as_="label",
                    size="2",
                ),
                rx.button("Clear", variant="ghost", color_scheme="gray", on_click=s.clear_filters),
                spacing="3",
                wrap="wrap",
                align="center",
                width="100%",
            ),
            rx.cond(
                s.filter_error != "",
                rx.callout(s.filter_error, icon="triangle-alert", color_scheme="red", size="1"),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _feedback_badges(c: ConversationView) -> rx.Component:
    return rx.hstack(
        rx.cond(
            c.up > 0,
            rx.badge(rx.icon("thumbs-up", size=12), c.up, color_scheme="green", variant="soft"),
        ),
        rx.cond(
            c.down > 0,
            rx.badge(rx.icon("thumbs-down", size=12), c.down, color_scheme="red", variant="soft"),
        ),
        rx.cond((c.up == 0) & (c.down == 0), rx.text("—", color_scheme="gray", size="2")),
        spacing="1",
    )


def _unanswered_badge(c: ConversationView) -> rx.Component:
    """Replies that were unanswered or low confidence (its own column, not feedback)."""
    return rx.cond(
        c.flagged > 0,
        rx.badge(
            rx.icon("circle-help", size=12),
            c.flagged,
            color_scheme="amber",
            variant="soft",
            title="Unanswered or low-confidence replies",
            class_name="conv-unanswered",
        ),
        rx.text("—", color_scheme="gray", size="2"),
    )


def _row(c: ConversationView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(
            rx.link(
                c.title,
                href=routes.CONVERSATIONS + "/" + c.id,
                weight="medium",
                class_name="conversation-link",
            ),
            rx.text(c.widget, size="1", color_scheme="gray", padding_top="2px"),
            max_width="420px",
        ),
        rx.table.cell(channel_badge(c.channel)),
        rx.table.cell(c.messages),
        rx.table.cell(_feedback_badges(c)),
        rx.table.cell(_unanswered_badge(c)),
        rx.table.cell(c.cost, white_space="nowrap"),
        rx.table.cell(rx.text(c.last, size="2", white_space="nowrap")),
        class_name="conversation-row",
    )


def _table() -> rx.Component:
    s = ConversationsState
    return rx.vstack(
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(*[rx.table.column_header_cell(h) for h in CONV_HEADERS])
                ),
                rx.table.body(rx.foreach(s.rows, _row)),
                variant="surface",
                width="100%",
                style=stacked_on_phones(CONV_HEADERS),
            ),
            overflow_x="auto",
            width="100%",
        ),
        rx.hstack(
            rx.text(s.total, " conversations", size="2", color_scheme="gray", id="conv-total"),
            rx.spacer(),
            rx.icon_button(
                rx.icon("chevron-left"),
                variant="soft",
                disabled=s.page <= 1,
                on_click=s.prev_page,
                aria_label="Previous page",
            ),
            rx.text("Page ", s.page, " of ", s.pages, size="2"),
            rx.icon_button(
                rx.icon("chevron-right"),
                variant="soft",
                disabled=s.page >= s.pages,
                on_click=s.next_page,
                aria_label="Next page",
                id="conv-next",
            ),
            align="center",
            width="100%",
        ),
        width="100%",
        spacing="3",
    )


@dashboard_page(routes.CONVERSATIONS, "Conversations")
def conversations() -> rx.Component:
    s = ConversationsState
    return rx.vstack(
        page_header(
            "Conversations",
            "What visitors asked and what they were told.",
            rx.button(
                rx.icon("download", size=16),
                "Export CSV",
                variant="outline",
                on_click=s.export_csv,
                id="conv-export",
            ),
        ),
        _filters(),
        rx.cond(
            s.loaded,
            rx.cond(
                s.total > 0,
                _table(),
                empty_state(
                    "messages-square",
                    "No conversations match",
                    "Clear the filters, or open a widget and ask it something in the preview. "
                    "Visitor conversations appear here as soon as they happen.",
                ),
            ),
            skeleton_rows(6),
        ),
        spacing="4",
        width="100%",
        on_mount=s.load,
    )


# ---- transcript ------------------------------------------------------------------------


def _source(src: SourceView) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.badge("[", src.n, "]", variant="soft"),
            rx.text(src.title, size="2", weight="medium", flex="1"),
            rx.cond(src.where != "", rx.text(src.where, size="1", color_scheme="gray")),
            rx.badge("score ", src.score, color_scheme="gray", variant="outline"),
            align="center",
            spacing="2",
            wrap="wrap",
            width="100%",
        ),
        rx.text(
            src.text,
            size="1",
            color_scheme="gray",
            padding_top="6px",
            white_space="pre-wrap",
            style={"overflowWrap": "anywhere"},
        ),
        padding="10px",
        border_radius="8px",
        border=f"1px solid {rx.color('gray', 5)}",
        width="100%",
        class_name="source",
    )


def _answer_meta(m: MessageView) -> rx.Component:
    return rx.flex(
        rx.cond(m.model != "", rx.badge(m.model, variant="soft", color_scheme="gray")),
        rx.text(m.tokens, size="1", color_scheme="gray"),
        rx.text(m.cost, size="1", color_scheme="gray"),
        rx.cond(m.latency != "", rx.text(m.latency, size="1", color_scheme="gray")),
        rx.cond(m.cached, rx.badge("cached", color_scheme="blue", variant="soft")),
        rx.cond(~m.answered, rx.badge("unanswered", color_scheme="amber", variant="soft")),
        rx.cond(
            m.low_confidence,
            rx.badge("low confidence", color_scheme="orange", variant="soft", high_contrast=True),
        ),
        rx.match(
            m.feedback,
            (1, rx.badge(rx.icon("thumbs-up", size=12), "helpful", color_scheme="green")),
            (-1, rx.badge(rx.icon("thumbs-down", size=12), "not helpful", color_scheme="red")),
            rx.fragment(),
        ),
        spacing="3",
        align="center",
        wrap="wrap",
    )


def _message(m: MessageView) -> rx.Component:
    is_user = m.role == "user"
    return rx.box(
        rx.vstack(
            rx.hstack(
                rx.icon(rx.cond(is_user, "user", "bot"), size=14),
                rx.text(rx.cond(is_user, "Visitor", "Assistant"), size="1", weight="bold"),
                rx.text(m.time, size="1", color_scheme="gray"),
                align="center",
                spacing="2",
            ),
            # Visitors' questions are plain text; answers are markdown, drawn as the widget does.
            rx.cond(
                is_user,
                rx.text(
                    m.text, size="2", white_space="pre-wrap", style={"overflowWrap": "anywhere"}
                ),
                chat_markdown(
                    m.html, class_name="answer-md", font_size="var(--font-size-2)", width="100%"
                ),
            ),
            rx.cond(m.notice != "", rx.text(m.notice, size="1", color_scheme="amber")),
            rx.cond(
                ~is_user,
                rx.vstack(
                    _answer_meta(m),
                    tool_calls(m.tool_calls),
                    rx.cond(
                        m.sources.length() > 0,
                        rx.vstack(
                            rx.text("Sources", size="1", weight="bold", color_scheme="gray"),
                            rx.foreach(m.sources, _source),
                            spacing="2",
                            width="100%",
                        ),
                    ),
                    rx.button(
                        rx.icon("pencil", size=14),
                        "Improve this answer",
                        size="1",
                        variant="soft",
                        on_click=TranscriptState.start_improve(m.id),
                        class_name="improve-answer",
                    ),
                    spacing="3",
                    width="100%",
                ),
            ),
            spacing="2",
            width="100%",
        ),
        padding="14px",
        border_radius="12px",
        background=rx.cond(is_user, rx.color("accent", 3), rx.color("gray", 2)),
        border=f"1px solid {rx.color('gray', 4)}",
        max_width=rx.cond(is_user, "85%", "100%"),
        align_self=rx.cond(is_user, "flex-end", "flex-start"),
        class_name=rx.cond(is_user, "message message-user", "message message-assistant"),
    )


def _improve_dialog() -> rx.Component:
    s = TranscriptState
    return form_dialog(
        "Improve this answer",
        "Saved as a Q&A pair: when a visitor asks this question (or a close "
        "paraphrase), the widget answers with your text.",
        labeled(
            "Question",
            "improve-question",
            rx.input(
                name="question",
                default_value=s.improve_question,
                max_length=1000,
                id="improve-question",
                width="100%",
            ),
        ),
        labeled(
            "Answer",
            "improve-answer",
            rx.text_area(
                name="answer",
                default_value=s.improve_answer,
                max_length=8000,
                rows="8",
                id="improve-answer",
                width="100%",
            ),
        ),
        field_error(s.improve_error, "improve-error", size="2"),
        submit_label="Save Q&A pair",
        submit_id="improve-save",
        on_submit=s.save_improved,
        open=s.improve_open,
        on_open_change=s.toggle_improve,
        spacing="3",
        max_width="560px",
    )


@dashboard_page(routes.CONVERSATION, "Conversation", on_load=TranscriptState.load)
def transcript() -> rx.Component:
    s = TranscriptState
    return rx.vstack(
        rx.link(
            rx.hstack(rx.icon("arrow-left", size=14), rx.text("All conversations", size="2")),
            href=routes.CONVERSATIONS,
        ),
        rx.cond(
            s.loaded,
            rx.cond(
                s.found,
                rx.vstack(
                    page_header(s.title, ""),
                    rx.flex(
                        rx.badge(s.widget, variant="soft"),
                        channel_badge(s.channel),
                        rx.text("Started ", s.started, " UTC", size="2", color_scheme="gray"),
                        rx.cond(s.host != "", rx.text(s.host, size="2", color_scheme="gray")),
                        rx.text(
                            s.total_tokens, " tokens · ", s.total_cost, size="2", id="conv-cost"
                        ),
                        spacing="3",
                        wrap="wrap",
                        align="center",
                    ),
                    rx.vstack(
                        rx.foreach(s.messages, _message),
                        spacing="3",
                        width="100%",
                        id="transcript",
                    ),
                    _improve_dialog(),
                    spacing="4",
                    width="100%",
                ),
                empty_state(
                    "search-x",
                    "Conversation not found",
                    "It may have been deleted, or it belongs to another workspace.",
                ),
            ),
            skeleton_rows(4),
        ),
        spacing="4",
        width="100%",
    )
