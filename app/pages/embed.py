"""/embed/<widget_id>: the chat a website's visitors see inside the loader's iframe.

One column that fills the frame (the loader makes the frame full-screen on phones):
header, a log of messages that stays scrolled to the newest, and the input. Styled from
the widget's settings; keyboard usable, with ARIA labels and a live region.
"""

from __future__ import annotations

import reflex as rx
from reflex.components.core.banner import has_connection_errors

from app import routes
from app.components.action_confirm import confirm_cards
from app.components.chat_markdown import chat_markdown
from app.components.embed_handoff import handoff_panel, person_button, staff_reply
from app.components.product_cards import product_cards
from app.page_registry import page
from app.rag.chat import MAX_QUESTION_CHARS
from app.state.embed import EmbedState
from app.state.embed_items import ChatItem, Chip
from app.state.embed_resume import mark_sent

PRIMARY = "var(--cc-primary)"
INK = "var(--cc-ink)"


def _avatar(size: str = "3") -> rx.Component:
    return rx.avatar(
        src=EmbedState.avatar_url,
        fallback=EmbedState.title[:1].upper(),
        size=size,
        radius="full",
        # Radix draws the fallback letter in --accent-a11: make it the readable ink.
        style={"background": PRIMARY, "--accent-a11": INK, "--accent-a3": PRIMARY},
        class_name="cc-avatar",
        alt="",
    )


def _header() -> rx.Component:
    return rx.hstack(
        _avatar(),
        rx.vstack(
            # The page's one h1 (the chat's name), drawn like the rest of the header.
            rx.heading(
                EmbedState.title, as_="h1", weight="bold", size="3", id="cc-title", trim="both"
            ),
            rx.text(
                rx.cond(
                    EmbedState.preview,
                    "Preview",
                    rx.cond(
                        EmbedState.handoff_status == "human",
                        "Chatting with " + EmbedState.staff_name,
                        "Typically answers instantly",
                    ),
                ),
                size="1",
                color_scheme="gray",
                id="cc-subtitle",
            ),
            spacing="0",
            min_width="0",
        ),
        rx.spacer(),
        # A native tooltip: Radix's Tooltip would add a positioning library to the download.
        rx.icon_button(
            rx.icon("rotate_ccw", size=18),
            variant="ghost",
            color_scheme="gray",
            size="2",
            on_click=EmbedState.new_conversation,
            disabled=EmbedState.streaming,
            id="cc-new",
            aria_label="Start a new conversation",
            title="New conversation",
        ),
        rx.cond(
            EmbedState.mode == "bubble",
            rx.icon_button(
                rx.icon("x", size=20),
                variant="ghost",
                color_scheme="gray",
                size="2",
                on_click=rx.call_script(
                    "window.ccEmbed&&window.ccEmbed.post({type:'chatconnect:close'})"
                ),
                id="cc-close",
                aria_label="Close chat",
            ),
        ),
        align="center",
        spacing="3",
        padding="12px 12px 12px 16px",
        border_bottom="1px solid var(--gray-a5)",
        width="100%",
        flex_shrink="0",
    )


def _bubble(content: rx.Component, mine: bool | rx.Var, **props) -> rx.Component:
    props.setdefault("class_name", "cc-bubble")
    return rx.box(
        content,
        padding="10px 14px",
        border_radius=rx.cond(mine, "16px 16px 4px 16px", "16px 16px 16px 4px"),
        background=rx.cond(mine, PRIMARY, "var(--gray-a3)"),
        color=rx.cond(mine, INK, "var(--gray-12)"),
        max_width="88%",
        align_self=rx.cond(mine, "flex-end", "flex-start"),
        overflow_wrap="anywhere",
        **props,
    )


def _markdown(text: rx.Var) -> rx.Component:
    return chat_markdown(text, font_size="var(--font-size-2)")


def _chip(item: ChatItem, chip: Chip) -> rx.Component:
    """A citation chip opening its quoted passage in a native popover (HTML `popover`):
    top layer, Escape and outside clicks close it, no positioning library downloaded.
    Browsers without `popover` show the passage under the chips instead."""
    source_id = "cc-src-" + item.id + "-" + chip.n.to_string()
    label = "Source " + chip.n.to_string() + ": " + chip.label
    return rx.fragment(
        rx.button(
            rx.text(f"[{chip.n}]", weight="bold", as_="span"),
            rx.text(chip.label, trim="both", class_name="cc-chip-label", as_="span"),
            size="1",
            variant="soft",
            color_scheme="gray",
            radius="full",
            class_name="cc-chip",
            aria_label=label,
            custom_attrs={"popoverTarget": source_id},
        ),
        rx.el.div(
            rx.text(chip.label, weight="bold", size="2", as_="p"),
            rx.blockquote(chip.passage, size="2", class_name="cc-passage"),
            rx.cond(
                chip.url != "",
                rx.link(
                    "Open page",
                    href=chip.url,
                    is_external=True,
                    size="2",
                    class_name="cc-source-link",
                    rel="noopener noreferrer nofollow",
                ),
            ),
            id=source_id,
            class_name="cc-source",
            role="dialog",
            aria_label=label,
            custom_attrs={"popover": "auto"},
        ),
    )


def _thumb(item: ChatItem, value: int, icon: str, label: str) -> rx.Component:
    # 32 px targets (size 2); "soft" gray when not chosen keeps a visible tinted background
    # and a gray-11 icon in light and dark, solid green/red once chosen.
    active = item.feedback == value
    return rx.icon_button(
        rx.icon(icon, size=16),
        size="2",
        variant=rx.cond(active, "solid", "soft"),
        color_scheme=rx.cond(active, "green" if value == 1 else "red", "gray"),
        title=label,
        on_click=EmbedState.rate(item.id, value),
        aria_label=label,
        aria_pressed=rx.cond(active, "true", "false"),
        class_name="cc-thumb-" + ("up" if value == 1 else "down"),
    )


def _message(item: ChatItem) -> rx.Component:
    return rx.match(
        item.role,
        (
            "user",
            _bubble(
                rx.text(item.text, size="2", white_space="pre-wrap"),
                True,
                class_name="cc-bubble cc-q",
            ),
        ),
        ("staff", staff_reply(item)),
        rx.vstack(
            rx.cond(item.text != "", _bubble(_markdown(item.text), False)),
            product_cards(item.cards),
            confirm_cards(item.confirms),
            rx.cond(
                item.chips.length() > 0,
                rx.flex(
                    rx.foreach(item.chips, lambda chip: _chip(item, chip)),
                    gap="6px",
                    wrap="wrap",
                    class_name="cc-chips",
                ),
            ),
            rx.cond(item.notice != "", rx.text(item.notice, size="1", color_scheme="amber")),
            rx.cond(
                item.id != "",
                rx.hstack(
                    _thumb(item, 1, "thumbs_up", "Helpful"),
                    _thumb(item, -1, "thumbs_down", "Not helpful"),
                    spacing="2",
                ),
            ),
            spacing="2",
            align="start",
            width="100%",
            class_name="cc-answer",
            data_message_id=item.id,
        ),
    )


def _typing() -> rx.Component:
    return _bubble(
        rx.cond(
            EmbedState.stream_text != "",
            _markdown(EmbedState.stream_text),
            rx.hstack(
                rx.box(class_name="cc-dot"),
                rx.box(class_name="cc-dot"),
                rx.box(class_name="cc-dot"),
                spacing="1",
                padding_y="6px",
                aria_label="The assistant is typing",
                role="status",
            ),
        ),
        False,
        id="cc-streaming",
    )


def _banner() -> rx.Component:
    return rx.cond(
        EmbedState.banner != "",
        rx.callout.root(
            rx.callout.icon(
                rx.cond(
                    EmbedState.banner_kind == "rate_limited",
                    rx.icon("clock", size=16),
                    rx.icon("circle_alert", size=16),
                )
            ),
            rx.callout.text(EmbedState.banner),
            rx.cond(
                EmbedState.retry_question != "",
                rx.button(
                    "Ask again",
                    size="1",
                    variant="soft",
                    on_click=[mark_sent(EmbedState.retry_question), EmbedState.ask_again],
                    id="cc-ask-again",
                    width="fit-content",
                    high_contrast=True,  # soft red text alone is below 4.5:1
                ),
            ),
            color_scheme=rx.cond(EmbedState.banner_kind == "rate_limited", "amber", "red"),
            size="1",
            role="alert",
            id="cc-banner",
            data_kind=EmbedState.banner_kind,
            width="100%",
        ),
    )


def _connection() -> rx.Component:
    """Shown while the page cannot reach the server (a process went, the network dropped):
    the page keeps reconnecting by itself; "Retry" reloads it, which restores the
    conversation from the server."""
    return rx.cond(
        has_connection_errors,
        rx.callout.root(
            rx.callout.icon(rx.icon("wifi_off", size=16)),
            rx.callout.text("Connection lost. Reconnecting…"),
            rx.button(
                "Retry",
                size="1",
                variant="soft",
                color_scheme="gray",
                on_click=rx.call_script("window.location.reload()"),
                id="cc-reconnect",
                width="fit-content",
            ),
            color_scheme="amber",
            high_contrast=True,  # amber text on amber is below 4.5:1 otherwise
            size="1",
            role="alert",
            id="cc-connection",
            width="100%",
        ),
    )


def _log() -> rx.Component:
    # column-reverse keeps the view pinned to the newest message without any script.
    return rx.box(
        rx.vstack(
            rx.cond(
                EmbedState.greeting != "",
                _bubble(rx.text(EmbedState.greeting, size="2"), False, id="cc-greeting"),
            ),
            rx.cond(
                (EmbedState.messages.length() == 0) & (EmbedState.starters.length() > 0),
                rx.flex(
                    rx.foreach(
                        EmbedState.starters,
                        lambda q: rx.button(
                            q,
                            variant="outline",
                            size="2",
                            radius="full",
                            on_click=[mark_sent(q), EmbedState.ask(q)],
                            class_name="cc-starter",
                            # Radix draws the outline as an inset shadow in the accent color.
                            # The brand colour outlines; the text stays readable on light
                            # and dark backgrounds whatever that colour is.
                            style={
                                "color": "var(--gray-12)",
                                "box_shadow": f"inset 0 0 0 1px {PRIMARY}",
                            },
                        ),
                    ),
                    gap="8px",
                    wrap="wrap",
                    justify="end",
                    width="100%",
                    id="cc-starters",
                ),
            ),
            rx.foreach(EmbedState.messages, _message),
            rx.cond(EmbedState.streaming, _typing()),
            handoff_panel(),
            _banner(),
            _connection(),
            spacing="3",
            width="100%",
            padding="16px",
        ),
        id="cc-log",
        role="log",
        aria_label="Conversation",
        aria_live="polite",
        flex="1",
        min_height="0",
        overflow_y="auto",
        display="flex",
        flex_direction="column-reverse",
    )


def _composer() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(
                rx.input(
                    name="question",
                    id="cc-input",
                    value=EmbedState.draft,
                    on_change=EmbedState.set_draft,
                    placeholder=EmbedState.placeholder,
                    max_length=MAX_QUESTION_CHARS,
                    # Read-only, not disabled, while the page (re)loads its state: a
                    # reconnect to another process can land on a fresh state for a moment,
                    # and Enter in a disabled box (or with the form's button disabled) is
                    # dropped by the browser. A question sent meanwhile waits for the load
                    # (EmbedState._turn). Typing waits for it: the state arriving would
                    # overwrite what was typed.
                    read_only=EmbedState.status != "ready",
                    aria_label="Your question",
                    auto_complete="off",
                    size="3",
                    radius="full",
                    flex="1",
                ),
                rx.icon_button(
                    rx.icon("send", size=18),
                    type="submit",
                    id="cc-send",
                    size="3",
                    radius="full",
                    disabled=EmbedState.streaming,
                    aria_label="Send",
                    style={"background": PRIMARY, "color": INK},
                ),
                width="100%",
                spacing="2",
                align="center",
            ),
            person_button(),
            rx.hstack(
                rx.text("Answers can be wrong; check the sources.", size="1", color_scheme="gray"),
                rx.spacer(),
                rx.text(
                    EmbedState.draft.length().to_string() + f" / {MAX_QUESTION_CHARS}",
                    size="1",
                    color_scheme="gray",
                    id="cc-counter",
                    aria_live="polite",
                ),
                width="100%",
                padding_x="8px",
            ),
            spacing="1",
            width="100%",
        ),
        # The page records the question before sending it (see embed_resume.mark_sent).
        on_submit=[mark_sent(), EmbedState.submit],
        reset_on_submit=False,
        padding="10px 12px 10px",
        border_top="1px solid var(--gray-a5)",
        width="100%",
        flex_shrink="0",
    )


def _unavailable() -> rx.Component:
    return rx.center(
        rx.vstack(
            rx.icon("message_circle_off", size=36, color="var(--gray-9)"),
            rx.heading("This chat is unavailable", size="4", id="cc-unavailable"),
            rx.text(
                "It may have been switched off by the site owner. Please try again later.",
                size="2",
                color_scheme="gray",
                align="center",
            ),
            rx.cond(
                EmbedState.mode == "bubble",
                rx.button(
                    "Close",
                    variant="soft",
                    on_click=rx.call_script(
                        "window.ccEmbed&&window.ccEmbed.post({type:'chatconnect:close'})"
                    ),
                ),
            ),
            align="center",
            spacing="3",
            max_width="320px",
            padding="24px",
        ),
        height="100%",
    )


_CSS = {
    ".cc-chip-label": {
        "max_width": "220px",
        "overflow": "hidden",
        "text_overflow": "ellipsis",
        "white_space": "nowrap",
    },
    ".cc-passage": {"white_space": "pre-wrap", "margin_top": "8px"},
    ".cc-source-link": {"display": "inline-block", "margin_top": "8px"},
    # The open source card sits above the composer, across the chat's width.
    ".cc-source:popover-open": {
        "position": "fixed",
        "inset": "auto 12px 84px 12px",
        "margin": "0",
        "max_width": "420px",
        "max_height": "50vh",
        "overflow_y": "auto",
        "padding": "14px 16px",
        "border": "1px solid var(--gray-a6)",
        "border_radius": "12px",
        "background": "var(--color-panel-solid)",
        "color": "var(--gray-12)",
        "box_shadow": "0 12px 32px rgba(0, 0, 0, 0.25)",
    },
    ".cc-dot": {
        "width": "7px",
        "height": "7px",
        "border_radius": "50%",
        "background": "var(--gray-9)",
        "animation": "cc-blink 1.2s infinite ease-in-out",
    },
    ".cc-dot:nth-child(2)": {"animation_delay": "0.2s"},
    ".cc-dot:nth-child(3)": {"animation_delay": "0.4s"},
    "@keyframes cc-blink": {"0%, 80%, 100%": {"opacity": "0.25"}, "40%": {"opacity": "1"}},
}


@page(routes.EMBED, title="Chat", on_load=EmbedState.load)
def embed_page() -> rx.Component:
    body = rx.match(
        EmbedState.status,
        ("unavailable", _unavailable()),
        rx.fragment(_header(), _log(), _composer()),
    )
    return rx.box(
        rx.theme(
            rx.flex(
                # One main landmark holding everything the visitor reads and uses.
                rx.el.main(
                    body,
                    display="flex",
                    flex_direction="column",
                    flex="1",
                    min_height="0",
                    width="100%",
                ),
                # Clicked by the bridge script when the dashboard posts preview settings.
                rx.el.button(
                    id="cc-preview-apply",
                    on_click=EmbedState.pull_preview,
                    hidden=True,
                    tab_index=-1,
                    aria_hidden="true",
                ),
                direction="column",
                height="100dvh",
                width="100%",
                # `style` (not `css=`, which Reflex nests as an unknown "css" property and
                # emotion ignores) carries the page's nested rules.
                style={
                    "--cc-primary": EmbedState.primary_color,
                    "--cc-ink": EmbedState.ink_color,
                    **_CSS,
                },
                id="cc-root",
                data_status=EmbedState.status,
            ),
            has_background=True,
            accent_color="indigo",
            gray_color="slate",
            radius="large",
        ),
        class_name=EmbedState.theme_class,
    )
