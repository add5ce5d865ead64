"""A page that says what will be there: used until a section is built."""

from __future__ import annotations

import reflex as rx

from app.components.shell import dashboard_page, empty_state, page_header


def placeholder_page(route: str, title: str, icon: str, description: str, empty: str):
    @dashboard_page(route, title)
    def page() -> rx.Component:
        return rx.vstack(
            page_header(title, description),
            empty_state(icon, f"No {title.lower()} yet", empty),
            spacing="5",
            width="100%",
        )

    page.__name__ = title.lower().replace(" ", "_")
    return page
