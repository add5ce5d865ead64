"""The confirm card a visitor sees for an action that changes something (add to cart, an
owner's action marked "changes something"): nothing runs until Confirm is pressed, and the
server checks the confirmation again (app.services.action_confirm)."""

from __future__ import annotations

import reflex as rx

from app.state.embed import EmbedState
from app.state.embed_actions import ConfirmCard


def confirm_card(card: ConfirmCard) -> rx.Component:
    return rx.box(
        rx.text("Please confirm", size="1", weight="bold", color="var(--gray-11)"),
        rx.text(card.summary, size="2", class_name="cc-confirm-summary"),
        rx.cond(
            card.state == "pending",
            rx.hstack(
                rx.button(
                    "Confirm",
                    size="1",
                    on_click=EmbedState.resolve_action(card.token, True),
                    class_name="cc-confirm-yes",
                ),
                rx.button(
                    "Cancel",
                    size="1",
                    variant="soft",
                    color_scheme="gray",
                    on_click=EmbedState.resolve_action(card.token, False),
                    class_name="cc-confirm-no",
                ),
                spacing="2",
            ),
            rx.text(
                card.result,
                size="2",
                class_name="cc-confirm-result",
                color=rx.cond(card.state == "done", "var(--green-11)", "var(--gray-11)"),
            ),
        ),
        padding="8px 10px",
        border="1px solid var(--accent-a6)",
        border_radius="12px",
        background="var(--accent-a2)",
        max_width="100%",
        class_name="cc-confirm",
        role="group",
        aria_label="Confirm an action",
    )


def confirm_cards(cards: rx.Var) -> rx.Component:
    return rx.cond(
        cards.length() > 0,  # type: ignore[attr-defined]
        rx.vstack(rx.foreach(cards, confirm_card), spacing="2", width="100%"),
    )
