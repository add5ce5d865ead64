"""The handoff pieces of the visitor's chat: the "Talk to a person" button, the line that
says what happens next, "… is typing", and the lead form when nobody can answer."""

from __future__ import annotations

import reflex as rx

from app.components.chat_markdown import chat_markdown
from app.state.embed import ChatItem, EmbedState


def person_button() -> rx.Component:
    return rx.cond(
        EmbedState.show_person_button,
        rx.button(
            rx.icon("user_round", size=16),
            "Talk to a person",
            variant="soft",
            color_scheme="gray",
            size="2",
            radius="full",
            on_click=EmbedState.request_person,
            disabled=EmbedState.streaming,
            id="cc-person",
            align_self="start",
        ),
    )


def _field(name: str, label: str, control: rx.Component) -> rx.Component:
    return rx.cond(
        EmbedState.lead_fields.contains(name),
        rx.vstack(
            rx.el.label(label, html_for="cc-lead-" + name, style={"font_size": "13px"}),
            control,
            spacing="1",
            width="100%",
        ),
    )


def lead_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _field("name", "Your name", rx.input(name="name", id="cc-lead-name", width="100%")),
            _field(
                "email",
                "Email",
                rx.input(
                    name="email", id="cc-lead-email", type="email", required=True, width="100%"
                ),
            ),
            _field(
                "message",
                "Message",
                rx.text_area(name="message", id="cc-lead-message", rows="3", width="100%"),
            ),
            rx.el.label(
                rx.checkbox(
                    name="consent", id="cc-lead-consent", aria_label=EmbedState.lead_consent
                ),
                rx.text(EmbedState.lead_consent, size="1"),
                style={"display": "flex", "gap": "8px", "align_items": "start"},
            ),
            rx.cond(
                EmbedState.lead_error != "",
                rx.text(EmbedState.lead_error, size="1", color_scheme="red", role="alert"),
            ),
            rx.button("Send", type="submit", size="2", id="cc-lead-send"),
            spacing="2",
            width="100%",
        ),
        on_submit=EmbedState.submit_lead,
        reset_on_submit=False,
        id="cc-lead-form",
        width="100%",
        padding="12px",
        border="1px solid var(--gray-a6)",
        border_radius="12px",
    )


def handoff_panel() -> rx.Component:
    return rx.fragment(
        rx.cond(
            EmbedState.staff_typing != "",
            rx.text(
                EmbedState.staff_typing + " is typing…",
                size="1",
                color_scheme="gray",
                id="cc-staff-typing",
                role="status",
            ),
        ),
        rx.cond(
            EmbedState.handoff_line != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("user_round", size=16)),
                rx.callout.text(EmbedState.handoff_line),
                size="1",
                color_scheme="green",
                high_contrast=True,
                id="cc-handoff-line",
                data_status=EmbedState.handoff_status,
                width="100%",
            ),
        ),
        rx.cond(EmbedState.offer_lead, lead_form()),
    )


def staff_reply(item: ChatItem) -> rx.Component:
    """A person's reply: their name and initial, an outlined bubble (never mistaken for
    the bot's answers), no sources and no thumbs."""
    return rx.hstack(
        rx.avatar(
            fallback=item.author[:1].upper(),
            size="2",
            radius="full",
            color_scheme="green",
            variant="solid",
            alt="",
        ),
        rx.vstack(
            rx.text(item.author, size="1", weight="bold", class_name="cc-staff-name"),
            rx.box(
                chat_markdown(item.text, font_size="var(--font-size-2)"),
                padding="8px 12px",
                border_radius="4px 16px 16px 16px",
                border="1px solid var(--green-a7)",
                background="var(--green-a2)",
                color="var(--gray-12)",
                overflow_wrap="anywhere",
            ),
            spacing="1",
            align="start",
            min_width="0",
        ),
        align="start",
        spacing="2",
        max_width="88%",
        class_name="cc-staff",
        data_message_id=item.id,
    )
