"""API keys: create (secret shown once), list with prefix and last use, revoke."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.dialogs import confirm_dialog, form_dialog
from app.components.forms import field_error, labeled
from app.components.shell import dashboard_page, empty_state, page_header
from app.components.tables import stacked_on_phones
from app.components.team_ui import one_time_secret_dialog, read_only_notice, table_skeleton
from app.state.api_keys import ALL_WIDGETS, ApiKeysState, KeyRow


def _scope_box(label: str, hint: str, checked, on_change, box_id: str) -> rx.Component:
    return rx.text(
        rx.hstack(
            rx.checkbox(checked=checked, on_change=on_change, id=box_id, name=box_id),
            rx.vstack(
                rx.text(label, size="2", weight="medium"),
                rx.text(hint, size="1", color_scheme="gray"),
                spacing="0",
            ),
            align="start",
            spacing="2",
        ),
        as_="label",
    )


def create_dialog() -> rx.Component:
    return form_dialog(
        "Create an API key",
        "Use it from your backend as a Bearer token. Never put it in a web page.",
        labeled(
            "Name",
            "key-name",
            rx.input(
                name="name",
                id="key-name",
                placeholder="e.g. Backend production",
                max_length=120,
                width="100%",
                auto_focus=True,
            ),
            field_error(ApiKeysState.name_error, "key-name-error"),
        ),
        rx.vstack(
            rx.text("Scopes", size="2", weight="medium"),
            _scope_box(
                "chat",
                "Ask questions through the chat API.",
                ApiKeysState.scope_chat,
                ApiKeysState.set_scope_chat,
                "scope-chat",
            ),
            _scope_box(
                "documents",
                "Upload, list and delete knowledge documents.",
                ApiKeysState.scope_documents,
                ApiKeysState.set_scope_documents,
                "scope-documents",
            ),
            _scope_box(
                "inbox",
                "Human handoff: list waiting visitors, take over, reply, hand back, resolve.",
                ApiKeysState.scope_inbox,
                ApiKeysState.set_scope_inbox,
                "scope-inbox",
            ),
            _scope_box(
                "admin",
                "Everything above, and workspace administration.",
                ApiKeysState.scope_admin,
                ApiKeysState.set_scope_admin,
                "scope-admin",
            ),
            field_error(ApiKeysState.scopes_error, "key-scopes-error"),
            spacing="2",
            width="100%",
        ),
        labeled(
            "Widget (optional)",
            "key-widget",
            rx.select.root(
                rx.select.trigger(id="key-widget", width="100%"),
                rx.select.content(
                    rx.select.item("Any widget", value=ALL_WIDGETS),
                    rx.foreach(
                        ApiKeysState.widget_options,
                        lambda w: rx.select.item(w.name, value=w.id),
                    ),
                ),
                value=ApiKeysState.widget_choice,
                on_change=ApiKeysState.set_widget_choice,
            ),
        ),
        rx.cond(
            ApiKeysState.form_error != "",
            rx.callout(ApiKeysState.form_error, icon="triangle-alert", color_scheme="red"),
        ),
        submit_label="Create key",
        submit_id="key-create-submit",
        on_submit=ApiKeysState.create,
        open=ApiKeysState.create_open,
        on_open_change=ApiKeysState.set_create_open,
    )


def secret_dialog() -> rx.Component:
    return one_time_secret_dialog(
        "Copy your new key",
        rx.text.span(
            "This is the only time “",
            ApiKeysState.secret_name,
            "” is shown. Store it in your secret manager now; "
            "we keep only a hash and cannot show it again.",
        ),
        secret=ApiKeysState.secret,
        copy_id="key-secret-copy",
        value_id="key-secret",
        done_label="I have copied it",
        on_done=ApiKeysState.close_secret,
        done_id="key-secret-done",
    )


def revoke_dialog() -> rx.Component:
    return confirm_dialog(
        "Revoke this key?",
        "Requests using “",
        ApiKeysState.revoke_name,
        "” will fail immediately. This cannot be undone.",
        confirm_label="Revoke key",
        confirm_id="key-revoke-confirm",
        on_confirm=ApiKeysState.revoke,
        on_cancel=ApiKeysState.cancel_revoke,
        open=ApiKeysState.revoke_id != "",
    )


def _status(row: KeyRow) -> rx.Component:
    return rx.cond(
        row.revoked,
        rx.badge("Revoked", color_scheme="gray", high_contrast=True),
        rx.badge("Active", color_scheme="green", high_contrast=True),
    )


def key_row(row: KeyRow) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(rx.text(row.name, weight="medium")),
        rx.table.cell(rx.code(row.prefix, size="1", class_name="key-prefix")),
        rx.table.cell(rx.text(row.scopes, size="2")),
        rx.table.cell(rx.text(row.widget, size="2")),
        rx.table.cell(rx.text(row.created, size="2", white_space="nowrap")),
        rx.table.cell(rx.text(row.last_used, size="2", white_space="nowrap")),
        rx.table.cell(_status(row)),
        rx.table.cell(
            rx.cond(
                ApiKeysState.can_manage & ~row.revoked,
                rx.button(
                    "Revoke",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=ApiKeysState.ask_revoke(row.id, row.name),
                    class_name="key-revoke",
                ),
            )
        ),
        align="center",
        class_name="key-row",
    )


def keys_table() -> rx.Component:
    headers = ["Name", "Prefix", "Scopes", "Widget", "Created", "Last used", "Status", ""]
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in headers]),
            ),
            rx.table.body(rx.foreach(ApiKeysState.rows, key_row)),
            variant="surface",
            width="100%",
            id="keys-table",
            style=stacked_on_phones(headers),
        ),
        width="100%",
        overflow_x="auto",
    )


@dashboard_page(routes.API_KEYS, "API keys")
def api_keys() -> rx.Component:
    create_button = rx.cond(
        ApiKeysState.can_manage,
        rx.button(
            rx.icon("plus", size=16),
            "Create key",
            on_click=ApiKeysState.open_create,
            id="key-create",
        ),
    )
    return rx.vstack(
        page_header(
            "API keys",
            "Secret keys for the REST API. Each secret is shown once; we store only a hash.",
            create_button,
        ),
        rx.cond(
            ApiKeysState.loaded & ~ApiKeysState.can_manage,
            read_only_notice(
                "You can see this workspace's keys, but only owners and admins can create "
                "or revoke them.",
                "keys-read-only",
            ),
        ),
        rx.cond(
            ApiKeysState.loaded,
            rx.cond(
                ApiKeysState.rows.length() > 0,  # type: ignore[attr-defined]
                keys_table(),
                empty_state(
                    "key-round",
                    "No API keys yet",
                    "Create a key to call the chat and documents API from your backend. "
                    "Give it only the scopes it needs, and a widget if it serves just one.",
                ),
            ),
            table_skeleton(),
        ),
        create_dialog(),
        secret_dialog(),
        revoke_dialog(),
        spacing="5",
        width="100%",
        on_mount=ApiKeysState.load,
    )
