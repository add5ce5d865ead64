"""Settings → Audit tab: who changed what, filters, paging and a CSV download."""

from __future__ import annotations

import reflex as rx

from app.components.forms import field_error, labeled
from app.components.tables import stacked_on_phones
from app.components.team_ui import read_only_notice, section_card
from app.state.audit import ANY_ACTION, AuditRow, AuditState

AUDIT_HEADERS = ("Time", "Actor", "Action", "Target", "Changes", "IP")
_WRAP = {"overflow_wrap": "anywhere"}


def _row(row: AuditRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(row.time, size="1")),
        rx.table.cell(rx.text(row.actor, size="2", style=_WRAP)),
        rx.table.cell(rx.code(row.action, size="1", style=_WRAP)),
        rx.table.cell(rx.text(row.target, size="1", color_scheme="gray")),
        rx.table.cell(rx.text(row.changes, size="1", style=_WRAP), min_width="220px"),
        rx.table.cell(rx.text(row.source, size="1", color_scheme="gray", title=row.agent)),
        class_name="audit-row",
    )


def _filters() -> rx.Component:
    return rx.form(
        rx.flex(
            rx.box(
                labeled(
                    "Actor",
                    "audit-actor",
                    rx.input(
                        name="actor",
                        placeholder="email or key prefix",
                        id="audit-actor",
                        width="100%",
                    ),
                ),
                width=["100%", "220px"],
            ),
            rx.box(
                labeled(
                    "From",
                    "audit-since",
                    rx.input(name="since", type="date", id="audit-since", width="100%"),
                ),
                width=["100%", "160px"],
            ),
            rx.box(
                labeled(
                    "To",
                    "audit-until",
                    rx.input(name="until", type="date", id="audit-until", width="100%"),
                ),
                width=["100%", "160px"],
            ),
            rx.box(
                labeled(
                    "Action",
                    "audit-action",
                    rx.select.root(
                        rx.select.trigger(id="audit-action", aria_label="Action", width="100%"),
                        rx.select.content(
                            rx.select.item("Any action", value=ANY_ACTION),
                            rx.foreach(AuditState.actions, lambda a: rx.select.item(a, value=a)),
                        ),
                        value=AuditState.filter_action,
                        on_change=AuditState.set_action,
                    ),
                ),
                width=["100%", "220px"],
            ),
            rx.hstack(
                rx.button("Filter", type="submit", id="audit-apply"),
                rx.button(
                    "Clear",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=AuditState.clear_filters,
                ),
                align="end",
            ),
            gap="3",
            wrap="wrap",
            align="end",
            width="100%",
        ),
        field_error(AuditState.filter_error, "audit-filter-error"),
        on_submit=AuditState.apply_filters,
        reset_on_submit=False,
        id="audit-filters",
        width="100%",
    )


def audit_section() -> rx.Component:
    return section_card(
        "Audit log",
        "Sign-ins and every change to members, keys, credentials, widgets, documents and the "
        "plan. Secrets never appear here.",
        rx.cond(
            AuditState.allowed,
            rx.vstack(
                _filters(),
                rx.box(
                    rx.table.root(
                        rx.table.header(
                            rx.table.row(*[rx.table.column_header_cell(h) for h in AUDIT_HEADERS])
                        ),
                        rx.table.body(rx.foreach(AuditState.rows, _row)),
                        variant="surface",
                        width="100%",
                        id="audit-table",
                        style=stacked_on_phones(AUDIT_HEADERS),
                    ),
                    width="100%",
                    overflow_x="auto",
                ),
                rx.flex(
                    rx.text(AuditState.page_label, size="2", id="audit-page-label"),
                    rx.hstack(
                        rx.button(
                            "Previous",
                            variant="soft",
                            disabled=~AuditState.has_previous,
                            on_click=AuditState.previous_page,
                            id="audit-previous",
                        ),
                        rx.button(
                            "Next",
                            variant="soft",
                            disabled=~AuditState.has_next,
                            on_click=AuditState.next_page,
                            id="audit-next",
                        ),
                        rx.button(
                            rx.icon("download", size=16),
                            "Export CSV",
                            variant="outline",
                            on_click=AuditState.export,
                            id="audit-export",
                        ),
                        wrap="wrap",
                    ),
                    justify="between",
                    align="center",
                    wrap="wrap",
                    gap="2",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            read_only_notice("Only owners and admins can read the audit log.", "audit-denied"),
        ),
    )
