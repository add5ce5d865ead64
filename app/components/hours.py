"""Settings > Workspace: opening hours for human handoff."""

from __future__ import annotations

import reflex as rx

from app.components.forms import field_error
from app.services.presence import DAYS
from app.state.hours import HoursState


def _day(day: str) -> rx.Component:
    return rx.hstack(
        rx.text(day.title(), size="2", width="44px"),
        rx.input(
            type="time",
            name=f"open_{day}",
            default_value=HoursState.opens[day],
            key=HoursState.opens[day],
            aria_label=f"{day.title()} opens",
            id=f"hours-open-{day}",
            disabled=~HoursState.can_edit,
        ),
        rx.text("to", size="2"),
        rx.input(
            type="time",
            name=f"close_{day}",
            default_value=HoursState.closes[day],
            key=HoursState.closes[day],
            aria_label=f"{day.title()} closes",
            id=f"hours-close-{day}",
            disabled=~HoursState.can_edit,
        ),
        align="center",
        spacing="2",
        wrap="wrap",
    )


def hours_section() -> rx.Component:
    return rx.card(
        rx.form(
            rx.vstack(
                rx.heading("Opening hours", size="4", as_="h2"),
                rx.text(
                    "When a person can answer in the chat. Outside these hours, or when nobody "
                    "on the team is online, visitors who ask for a person get a contact form. "
                    "Leave every day empty to be always open.",
                    size="2",
                    color_scheme="gray",
                ),
                rx.hstack(
                    rx.el.label(
                        "Time zone", html_for="hours-timezone", style={"font_size": "14px"}
                    ),
                    rx.input(
                        name="timezone",
                        id="hours-timezone",
                        default_value=HoursState.timezone,
                        key=HoursState.timezone,
                        placeholder="Europe/Paris",
                        disabled=~HoursState.can_edit,
                    ),
                    align="center",
                    spacing="2",
                ),
                *[_day(d) for d in DAYS],
                field_error(HoursState.hours_error, "hours-error"),
                rx.cond(
                    HoursState.can_edit,
                    rx.button("Save hours", type="submit", id="hours-save"),
                    rx.text(
                        "Only owners and admins change the hours.", size="1", color_scheme="gray"
                    ),
                ),
                spacing="2",
                width="100%",
            ),
            on_submit=HoursState.save,
            reset_on_submit=False,
        ),
        width="100%",
        on_mount=HoursState.load,
    )
