"""Knowledge > Catalogues tab: the add form (type, URL, credentials, JSON mapping), test
connection, and one card per catalogue with status, counts, last sync, errors and actions."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import confirm_dialog
from app.components.forms import field_error, field_label
from app.components.team_ui import read_only_notice
from app.state.knowledge_catalogues import CatalogueRow, CatalogueState

KINDS = [
    ("json", "JSON API (Fake Store shape or mapped)"),
    ("magento2", "Magento 2"),
    ("odoo", "Odoo"),
]
SCHEDULES = [("off", "Manual only"), ("hourly", "Every hour"), ("daily", "Every day")]
STATUS_COLOR = {"ready": "green", "failed": "red", "syncing": "blue", "queued": "amber"}


def _input(key: str, label: str, placeholder: str = "", secret: bool = False) -> rx.Component:
    control = rx.input(
        id=f"catalogue-{key}",
        name=key,
        placeholder=placeholder,
        type="password" if secret else "text",
        auto_complete="off" if secret else None,
        on_change=CatalogueState.set_field(key),  # type: ignore[call-arg]
        width="100%",
    )
    return rx.vstack(field_label(label, f"catalogue-{key}"), control, spacing="1", width="100%")


def _select(key: str, label: str, options: list[tuple[str, str]]) -> rx.Component:
    return rx.vstack(
        field_label(label, f"catalogue-{key}"),
        rx.select.root(
            rx.select.trigger(id=f"catalogue-{key}", width="100%"),
            rx.select.content(*[rx.select.item(text, value=v) for v, text in options]),
            value=CatalogueState.draft[key],
            on_change=CatalogueState.set_field(key),  # type: ignore[call-arg]
        ),
        spacing="1",
        width="100%",
    )


def _kind_fields() -> rx.Component:
    return rx.match(
        CatalogueState.draft["kind"],
        (
            "magento2",
            rx.grid(
                _input("token", "Integration access token", "never shown again", secret=True),
                _input("store_code", "Store code (optional)", "default"),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
        ),
        (
            "odoo",
            rx.grid(
                _input("db", "Database", "shop"),
                _input("login", "Login", "api@example.com"),
                _input("password", "Password", "or an API key", secret=True),
                _input("api_key", "API key", "or a password", secret=True),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
        ),
        rx.vstack(
            rx.grid(
                _input("items_path", "Where the list is (optional)", "data.products"),
                _input("url_template", "Product page URL (optional)", "https://shop/p/{id}"),
                _input(
                    "cart_url", "Cart API URL (optional, for Add to cart)", "https://shop/carts"
                ),
                _input("auth_header", "Auth header (optional)", "Authorization"),
                _input("auth_value", "Auth value (optional)", "never shown again", secret=True),
                _input(
                    "orders_url",
                    "Order URL, for order status (optional)",
                    "https://shop/api/orders/{number}",
                ),
                _input("orders_path", "Where the order is (optional)", "order"),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            field_label("Field mapping (optional): one “field = path” a line", "catalogue-mapping"),
            rx.text_area(
                id="catalogue-mapping",
                placeholder="title = name\nprice = pricing.amount\nimage = images.0",
                rows="3",
                on_change=CatalogueState.set_field("mapping"),  # type: ignore[call-arg]
                width="100%",
            ),
            spacing="3",
            width="100%",
        ),
    )


def add_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.heading("Add a catalogue", size="3", as_="h2"),
            rx.grid(
                _select("kind", "Type", KINDS),
                _input("name", "Name", "Main shop"),
                _input("url", "Shop or API URL", "https://shop.example.com/products"),
                _select("schedule", "Re-sync", SCHEDULES),
                columns=rx.breakpoints(initial="1", sm="2"),
                spacing="3",
                width="100%",
            ),
            _kind_fields(),
            field_error(CatalogueState.form_error, "catalogue-error"),
            rx.cond(
                CatalogueState.test_message != "",
                rx.callout(
                    CatalogueState.test_message,
                    icon=rx.cond(CatalogueState.test_ok, "circle-check", "triangle-alert"),
                    color_scheme=rx.cond(CatalogueState.test_ok, "green", "red"),
                    size="1",
                    id="catalogue-test-result",
                    width="100%",
                ),
            ),
            rx.flex(
                rx.text(
                    "Credentials are stored encrypted and never shown again.",
                    size="1",
                    color_scheme="gray",
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("plug-zap", size=16),
                    "Test connection",
                    variant="soft",
                    type="button",
                    id="catalogue-test",
                    loading=CatalogueState.testing,
                    on_click=CatalogueState.test_connection,
                ),
                rx.button(
                    rx.icon("plus", size=16),
                    "Add catalogue",
                    type="button",
                    id="catalogue-add",
                    on_click=CatalogueState.add,
                ),
                width="100%",
                align="center",
                spacing="3",
                wrap="wrap",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def _stat(label: str, value: rx.Var) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1", color_scheme="gray"),
        rx.text(value, size="2", weight="medium"),
        spacing="0",
    )


def catalogue_card(row: CatalogueRow) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.flex(
                rx.vstack(
                    rx.heading(row.name, size="3", as_="h3"),
                    rx.text(
                        row.kind,
                        " · ",
                        row.url,
                        size="1",
                        color_scheme="gray",
                        trim="both",
                        style={"overflow_wrap": "anywhere"},
                    ),
                    spacing="1",
                    min_width="0",
                ),
                rx.spacer(),
                rx.badge(
                    row.status,
                    color_scheme=rx.match(
                        row.status, *[(k, v) for k, v in STATUS_COLOR.items()], "gray"
                    ),
                    class_name="catalogue-status",
                ),
                width="100%",
                align="start",
                spacing="3",
            ),
            rx.flex(
                _stat("Products", row.products),
                _stat("Skipped", row.skipped),
                _stat("Embedded last sync", row.embedded),
                _stat("Removed last sync", row.removed),
                _stat("Last sync", row.last_sync),
                spacing="5",
                wrap="wrap",
                class_name="catalogue-counts",
            ),
            rx.cond(
                row.skipped_reasons != "",
                rx.text("Skipped: ", row.skipped_reasons, size="1", color_scheme="gray"),
            ),
            rx.cond(
                row.error != "",
                rx.callout(
                    row.error,
                    icon="triangle-alert",
                    color_scheme="red",
                    size="1",
                    class_name="catalogue-error",
                    width="100%",
                ),
            ),
            rx.flex(
                rx.select.root(
                    rx.select.trigger(aria_label="Re-sync schedule"),
                    rx.select.content(*[rx.select.item(t, value=v) for v, t in SCHEDULES]),
                    value=row.schedule,
                    on_change=lambda v: CatalogueState.set_schedule(row.id, v),
                    disabled=~CatalogueState.can_manage,
                ),
                rx.spacer(),
                rx.button(
                    rx.icon("refresh-cw", size=15),
                    "Sync now",
                    variant="soft",
                    class_name="catalogue-sync",
                    on_click=CatalogueState.sync_now(row.id),
                ),
                rx.cond(
                    CatalogueState.can_manage,
                    rx.button(
                        rx.icon("trash-2", size=15),
                        "Delete",
                        variant="soft",
                        color_scheme="red",
                        class_name="catalogue-delete",
                        on_click=CatalogueState.ask_delete(row.id, row.name),
                    ),
                ),
                width="100%",
                spacing="2",
                wrap="wrap",
                align="center",
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
        class_name="catalogue-card",
    )


def catalogues_tab() -> rx.Component:
    return rx.vstack(
        rx.cond(
            CatalogueState.can_manage,
            add_card(),
            read_only_notice(
                "Shop connections hold credentials: only owners and admins add or change them. "
                "You can still sync a catalogue.",
                "catalogues-read-only",
            ),
        ),
        rx.cond(
            CatalogueState.rows.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(rx.foreach(CatalogueState.rows, catalogue_card), spacing="3", width="100%"),
            rx.text(
                "No catalogue yet: add a shop and its products become answers with product cards.",
                size="2",
                color_scheme="gray",
            ),
        ),
        confirm_dialog(
            "Delete this catalogue?",
            "Its products leave the knowledge base: ",
            CatalogueState.delete_name,
            confirm_label="Delete",
            confirm_id="catalogue-confirm-delete",
            on_confirm=CatalogueState.confirm_delete,
            on_cancel=CatalogueState.cancel_delete,
            open=CatalogueState.delete_id != "",
        ),
        spacing="4",
        width="100%",
        on_mount=CatalogueState.load,
    )
