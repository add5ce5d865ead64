"""/leads: contact details visitors left when nobody could answer in person."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.shell import dashboard_page, empty_state, page_header
from app.components.tables import stacked_on_phones
from app.state.leads import STATUSES, LeadsState, LeadView

HEADERS = ("Created (UTC)", "Name", "Email", "Message", "Consent", "Status", "Conversation")


def _row(lead: LeadView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(lead.created),
        rx.table.cell(lead.name),
        rx.table.cell(lead.email, class_name="lead-email"),
        rx.table.cell(rx.text(lead.message, size="2", white_space="pre-wrap")),
        rx.table.cell(rx.cond(lead.consent, "yes", "no")),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(aria_label="Status of " + lead.email),
                rx.select.content(*[rx.select.item(s.title(), value=s) for s in STATUSES]),
                value=lead.status,
                on_change=lambda v: LeadsState.set_status(lead.id, v),
                size="1",
            ),
        ),
        rx.table.cell(
            rx.cond(
                lead.conversation_id != "",
                rx.link("Open", href=routes.INBOX + "?c=" + lead.conversation_id, size="2"),
                "—",
            ),
        ),
        class_name="lead-row",
    )


@dashboard_page(routes.LEADS, "Leads", on_load=LeadsState.load)
def leads_page() -> rx.Component:
    s = LeadsState
    return rx.vstack(
        page_header(
            "Leads",
            "Visitors who left their details when nobody was online or outside your hours.",
            rx.button(
                rx.icon("download", size=16),
                "Export CSV",
                variant="soft",
                on_click=s.export_csv,
                id="leads-export",
            ),
        ),
        rx.flex(
            rx.form(
                rx.input(
                    rx.input.slot(rx.icon("search", size=14)),
                    name="search",
                    placeholder="Search name, email, message…",
                    default_value=s.search,
                    aria_label="Search leads",
                    id="leads-search",
                ),
                on_submit=s.apply_search,
                reset_on_submit=False,
            ),
            rx.select.root(
                rx.select.trigger(aria_label="Status filter"),
                rx.select.content(
                    rx.select.item("Any status", value="all"),
                    *[rx.select.item(st.title(), value=st) for st in STATUSES],
                ),
                value=s.status_filter,
                on_change=s.choose_status,
            ),
            gap="3",
            wrap="wrap",
        ),
        rx.cond(
            s.rows.length() > 0,
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(*[rx.table.column_header_cell(h) for h in HEADERS])
                    ),
                    rx.table.body(rx.foreach(s.rows, _row)),
                    width="100%",
                    style=stacked_on_phones(HEADERS),
                ),
                overflow_x="auto",
                width="100%",
            ),
            rx.cond(
                s.loaded,
                empty_state(
                    "contact",
                    "No leads yet",
                    "When nobody can answer in person, the widget offers a short form; "
                    "what visitors send lands here.",
                ),
            ),
        ),
        spacing="4",
        width="100%",
    )
