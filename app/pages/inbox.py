"""/inbox: visitors waiting for a person, and the conversation a staff member works on."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.chat_markdown import chat_markdown
from app.components.forms import field_label
from app.components.shell import dashboard_page, empty_state, page_header
from app.state.inbox import (
    REASON_LABELS,
    VIEW_LABELS,
    EarlierView,
    InboxRowView,
    InboxState,
    NoteView,
    ThreadItem,
)

STATUS_COLORS = {"waiting_for_human": "amber", "human": "green", "resolved": "gray", "bot": "blue"}
STATUS_LABELS = {
    "waiting_for_human": "Waiting",
    "human": "With a person",
    "resolved": "Resolved",
    "bot": "Bot",
}


def _status_badge(status: rx.Var) -> rx.Component:
    return rx.match(
        status,
        *[
            (
                key,
                rx.badge(
                    label, color_scheme=STATUS_COLORS[key], variant="soft", high_contrast=True
                ),
            )
            for key, label in STATUS_LABELS.items()
        ],
        rx.badge(status),
    )


def _filters() -> rx.Component:
    s = InboxState
    return rx.flex(
        # Segments on wide screens; a select on phones (four segments do not fit 375 px).
        rx.box(
            rx.segmented_control.root(
                *[
                    rx.segmented_control.item(label, value=key, id=f"inbox-view-{key}")
                    for key, label in VIEW_LABELS.items()
                ],
                value=s.view,
                on_change=s.choose_view,
                size="2",
                id="inbox-views",
            ),
            display=["none", "none", "block"],
        ),
        rx.box(
            rx.select.root(
                rx.select.trigger(aria_label="Show", id="inbox-view-select"),
                rx.select.content(
                    *[rx.select.item(label, value=key) for key, label in VIEW_LABELS.items()]
                ),
                value=s.view,
                on_change=s.choose_view,
            ),
            display=["block", "block", "none"],
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Widget", id="inbox-widget"),
            rx.select.content(
                rx.select.item("All widgets", value="all"),
                rx.foreach(s.widget_options, lambda w: rx.select.item(w["name"], value=w["id"])),
            ),
            value=s.widget_filter,
            on_change=s.choose_widget,
        ),
        rx.select.root(
            rx.select.trigger(aria_label="Reason", id="inbox-reason"),
            rx.select.content(
                rx.select.item("Any reason", value="all"),
                *[rx.select.item(label, value=key) for key, label in REASON_LABELS.items()],
            ),
            value=s.reason_filter,
            on_change=s.choose_reason,
        ),
        gap="3",
        wrap="wrap",
        align="center",
        width="100%",
    )


def _row(row: InboxRowView) -> rx.Component:
    return rx.box(
        rx.hstack(
            rx.cond(
                row.unread,
                rx.box(
                    width="8px",
                    height="8px",
                    border_radius="50%",
                    background=rx.color("accent", 9),
                    aria_label="Unread",
                ),
            ),
            rx.text(
                row.title,
                weight="medium",
                size="2",
                trim="both",
                flex="1",
                min_width="0",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
            ),
            _status_badge(row.status),
            align="center",
            spacing="2",
            width="100%",
        ),
        rx.hstack(
            rx.text(row.widget, size="1", color_scheme="gray"),
            rx.cond(row.reason != "", rx.text("· " + row.reason, size="1", color_scheme="gray")),
            rx.cond(
                row.assignee != "", rx.text("· " + row.assignee, size="1", color_scheme="gray")
            ),
            rx.spacer(),
            rx.text(row.last, size="1", color_scheme="gray"),
            spacing="1",
            width="100%",
            wrap="wrap",
        ),
        on_click=InboxState.open_conversation(row.id),
        role="button",
        tab_index=0,
        padding="10px 12px",
        border_radius="8px",
        cursor="pointer",
        background=rx.cond(InboxState.selected == row.id, rx.color("accent", 3), "transparent"),
        _hover={"background": rx.color("gray", 3)},
        class_name="inbox-row",
        data_conversation_id=row.id,
        width="100%",
    )


def _list() -> rx.Component:
    return rx.card(
        rx.cond(
            InboxState.rows.length() > 0,
            rx.vstack(rx.foreach(InboxState.rows, _row), spacing="1", width="100%"),
            rx.text(
                "Nothing here right now.",
                size="2",
                color_scheme="gray",
                padding="12px",
                id="inbox-empty",
            ),
        ),
        width="100%",
        id="inbox-list",
    )


def _thread_item(item: ThreadItem) -> rx.Component:
    return rx.match(
        item.role,
        (
            "user",
            rx.box(
                rx.text("Visitor · " + item.time, size="1", color_scheme="gray"),
                rx.text(item.text, size="2", white_space="pre-wrap"),
                padding="8px 12px",
                border_radius="10px",
                background=rx.color("gray", 3),
                class_name="thread-user",
                width="100%",
            ),
        ),
        (
            "staff",
            rx.box(
                rx.text(
                    item.author + " (staff) · " + item.time, size="1", color=rx.color("green", 11)
                ),
                chat_markdown(item.html),
                padding="8px 12px",
                border_radius="10px",
                border=f"1px solid {rx.color('green', 7)}",
                class_name="thread-staff",
                width="100%",
            ),
        ),
        rx.box(
            rx.text("Bot · " + item.time, size="1", color_scheme="gray"),
            chat_markdown(item.html),
            rx.cond(
                item.sources.length() > 0,
                rx.flex(
                    rx.foreach(
                        item.sources, lambda t: rx.badge(t, variant="soft", color_scheme="gray")
                    ),
                    gap="1",
                    wrap="wrap",
                ),
            ),
            padding="8px 12px",
            border_radius="10px",
            border=f"1px solid {rx.color('gray', 5)}",
            class_name="thread-bot",
            width="100%",
        ),
    )


def _actions() -> rx.Component:
    s = InboxState
    return rx.flex(
        rx.cond(
            ~s.c_assignee_me & (s.c_assignee == ""),
            rx.button("Assign to me", variant="soft", on_click=s.assign_to_me, id="inbox-assign"),
        ),
        rx.cond(
            s.c_status != "human",
            rx.button("Take over", on_click=s.take_over, id="inbox-take-over"),
        ),
        rx.cond(
            s.c_status == "human",
            rx.button(
                "Hand back to bot", variant="soft", on_click=s.hand_back, id="inbox-hand-back"
            ),
        ),
        rx.cond(
            s.c_status != "resolved",
            rx.button(
                "Resolve",
                variant="outline",
                color_scheme="green",
                on_click=s.resolve,
                id="inbox-resolve",
            ),
        ),
        gap="2",
        wrap="wrap",
    )


def _reply_box() -> rx.Component:
    return rx.form(
        rx.vstack(
            field_label("Reply to the visitor", "inbox-reply"),
            rx.text_area(
                name="reply",
                id="inbox-reply",
                value=InboxState.reply,
                on_change=InboxState.set_reply,
                rows="3",
                width="100%",
                placeholder="The visitor sees this with your name…",
            ),
            rx.button("Send reply", type="submit", id="inbox-send"),
            spacing="2",
            width="100%",
            align="start",
        ),
        on_submit=InboxState.send_reply,
        reset_on_submit=False,
        width="100%",
    )


def _note(note: NoteView) -> rx.Component:
    return rx.box(
        rx.text(note.author + " · " + note.time, size="1", color_scheme="gray"),
        rx.text(note.text, size="2", white_space="pre-wrap"),
        padding="6px 10px",
        border_radius="8px",
        background=rx.color("amber", 3),
        class_name="inbox-note",
        width="100%",
    )


def _notes() -> rx.Component:
    return rx.vstack(
        rx.heading("Internal notes", size="3", as_="h2"),
        rx.text("Only your team sees these.", size="1", color_scheme="gray"),
        rx.foreach(InboxState.notes_list, _note),
        rx.form(
            rx.hstack(
                rx.input(
                    name="note",
                    id="inbox-note",
                    value=InboxState.note,
                    on_change=InboxState.set_note,
                    placeholder="Add a note…",
                    aria_label="Internal note",
                    flex="1",
                ),
                rx.button("Add note", type="submit", variant="soft", id="inbox-add-note"),
                width="100%",
            ),
            on_submit=InboxState.add_note,
            reset_on_submit=False,
            width="100%",
        ),
        spacing="2",
        width="100%",
    )


def _earlier(c: EarlierView) -> rx.Component:
    return rx.link(c.title + " · " + c.started, href=routes.CONVERSATIONS + "/" + c.id, size="1")


def _details() -> rx.Component:
    s = InboxState
    return rx.vstack(
        rx.heading("Visitor", size="3", as_="h2"),
        rx.text(
            "Page: ",
            rx.cond(s.c_host != "", s.c_host, "—"),
            size="1",
            id="inbox-visitor-page",
            overflow_wrap="anywhere",
        ),
        rx.text("Browser: ", s.c_agent, size="1", color_scheme="gray", overflow_wrap="anywhere"),
        rx.text(
            "First seen: ",
            s.c_started,
            " UTC · visitor ",
            s.c_visitor,
            size="1",
            color_scheme="gray",
        ),
        rx.cond(
            s.earlier.length() > 0,
            rx.vstack(
                rx.text("Earlier conversations", size="1", weight="bold"),
                rx.foreach(s.earlier, _earlier),
                spacing="1",
            ),
        ),
        spacing="1",
        width="100%",
    )


def _conversation() -> rx.Component:
    s = InboxState
    return rx.card(
        rx.vstack(
            rx.hstack(
                _status_badge(s.c_status),
                rx.cond(s.c_reason != "", rx.badge(s.c_reason, variant="outline")),
                rx.cond(
                    s.c_assignee != "",
                    rx.text("Owner: ", s.c_assignee, size="2", id="inbox-owner"),
                ),
                rx.spacer(),
                rx.link("Full transcript", href=routes.CONVERSATIONS + "/" + s.selected, size="2"),
                rx.icon_button(
                    rx.icon("x", size=16),
                    variant="ghost",
                    on_click=s.close_conversation,
                    aria_label="Close conversation",
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            _actions(),
            rx.cond(
                s.action_error != "",
                rx.callout(
                    s.action_error, color_scheme="red", size="1", id="inbox-error", role="alert"
                ),
            ),
            rx.vstack(
                rx.foreach(s.thread, _thread_item),
                spacing="2",
                width="100%",
                id="inbox-thread",
                max_height="55vh",
                overflow_y="auto",
            ),
            _reply_box(),
            rx.separator(),
            _details(),
            rx.separator(),
            _notes(),
            spacing="3",
            width="100%",
        ),
        width="100%",
        id="inbox-conversation",
    )


@dashboard_page(routes.INBOX, "Inbox", on_load=InboxState.load)
def inbox_page() -> rx.Component:
    return rx.vstack(
        page_header(
            "Inbox",
            "Visitors who asked for a person. Take over to answer them yourself; "
            "the bot stays quiet until you hand back.",
            rx.hstack(
                rx.badge(
                    InboxState.waiting_count.to_string() + " waiting",
                    color_scheme="amber",
                    high_contrast=True,
                    size="2",
                    id="inbox-waiting-count",
                ),
                rx.badge(InboxState.mine_count.to_string() + " mine", size="2"),
            ),
        ),
        _filters(),
        rx.grid(
            _list(),
            rx.cond(
                InboxState.selected != "",
                _conversation(),
                empty_state(
                    "inbox",
                    "Pick a conversation",
                    "Its history, the visitor's details and your notes open here.",
                ),
            ),
            grid_template_columns=rx.breakpoints(
                initial="minmax(0, 1fr)", md="minmax(0, 2fr) minmax(0, 3fr)"
            ),
            gap="4",
            width="100%",
            align_items="start",
        ),
        spacing="4",
        width="100%",
    )
