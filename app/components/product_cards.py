"""Product cards under a widget answer: image, name, price, stock, a "View" link and, when
the shop has a cart API and the widget has add_to_cart on, "Add to cart" (which asks the
visitor to confirm first, like any action that changes something).

Everything shown comes from the stored product row (app.services.product_search); the
image is there only when the shop's own host serves it, and links open in a new tab
without handing the shop our page (noopener)."""

from __future__ import annotations

import reflex as rx

from app.state.embed import EmbedState
from app.state.embed_items import Card


def product_card(card: Card) -> rx.Component:
    return rx.box(
        rx.cond(
            card.image_url != "",
            rx.image(
                src=card.image_url,
                alt=card.title,
                loading="lazy",
                referrer_policy="no-referrer",
                width="100%",
                height="96px",
                object_fit="contain",
                background="white",
                border_radius="8px",
            ),
            rx.center(rx.icon("shopping-bag", size=28), height="96px", color="var(--gray-9)"),
        ),
        rx.text(card.title, size="2", weight="medium", class_name="cc-card-title", trim="both"),
        rx.flex(
            rx.text(card.price, size="2", weight="bold", class_name="cc-card-price"),
            rx.cond(
                card.stock != "",
                rx.badge(
                    card.stock,
                    size="1",
                    color_scheme=rx.cond(card.stock == "In stock", "green", "gray"),
                ),
            ),
            justify="between",
            align="center",
            gap="6px",
            wrap="wrap",
        ),
        rx.flex(
            rx.cond(
                card.product_url != "",
                rx.link(
                    "View",
                    href=card.product_url,
                    is_external=True,
                    rel="noopener noreferrer",
                    size="2",
                    class_name="cc-card-view",
                    aria_label="View " + card.title,
                ),
            ),
            rx.cond(
                card.can_cart,
                rx.button(
                    rx.icon("shopping-cart", size=14),
                    "Add to cart",
                    size="1",
                    variant="soft",
                    on_click=EmbedState.add_to_cart(card.id),
                    class_name="cc-card-cart",
                    aria_label="Add " + card.title + " to the cart",
                ),
            ),
            justify="between",
            align="center",
            gap="6px",
            wrap="wrap",
        ),
        display="flex",
        flex_direction="column",
        gap="6px",
        padding="8px",
        border="1px solid var(--gray-a5)",
        border_radius="12px",
        background="var(--color-panel-solid)",
        min_width="0",
        class_name="cc-card",
        role="listitem",
    )


def product_cards(cards: rx.Var) -> rx.Component:
    return rx.cond(
        cards.length() > 0,  # type: ignore[attr-defined]
        rx.grid(
            rx.foreach(cards, product_card),
            columns="repeat(auto-fill, minmax(130px, 1fr))",
            gap="8px",
            width="100%",
            class_name="cc-cards",
            role="list",
            aria_label="Products",
        ),
    )
