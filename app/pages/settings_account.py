"""Settings → Account: email, password, sessions, deleting the account."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import form_dialog
from app.components.email_status import email_address_card
from app.components.forms import field_error, labeled
from app.components.team_ui import (
    section_card,
)
from app.pages.settings_security import sign_in_methods_card, two_factor_card
from app.state.settings import SettingsState

# ---- account --------------------------------------------------------------------------


def _password_field(label: str, name: str, autocomplete: str, error: rx.Var) -> rx.Component:
    return labeled(
        label,
        name,
        rx.input(
            name=name,
            id=name,
            type="password",
            auto_complete=autocomplete,
            max_length=1024,
            width="100%",
        ),
        field_error(error, f"{name}-error"),
    )


def delete_dialog() -> rx.Component:
    return form_dialog(
        "Delete this workspace?",
        rx.text.span(
            "This deletes every widget, document, conversation, key and member of “",
            SettingsState.workspace_name,
            "”, its search index and uploaded files. It cannot be undone.",
        ),
        labeled(
            "Type the workspace name to confirm",
            "workspace-delete-confirm",
            rx.input(
                name="confirm",
                id="workspace-delete-confirm",
                placeholder=SettingsState.workspace_name,
                auto_complete="off",
                width="100%",
            ),
            field_error(SettingsState.delete_error, "workspace-delete-error"),
        ),
        submit_label="Delete forever",
        submit_id="workspace-delete-submit",
        submit_color="red",
        on_submit=SettingsState.delete_workspace,
        open=SettingsState.delete_open,
        on_open_change=SettingsState.set_delete_open,
        trigger=rx.button(
            rx.icon("trash-2", size=16),
            "Delete workspace",
            color_scheme="red",
            variant="soft",
            id="workspace-delete-open",
            width="fit-content",
        ),
    )


def account_section() -> rx.Component:
    return rx.vstack(
        email_address_card(),
        two_factor_card(),
        sign_in_methods_card(),
        section_card(
            "Change password",
            "You stay signed in here; every other session is signed out.",
            rx.form(
                rx.vstack(
                    _password_field(
                        "Current password",
                        "current_password",
                        "current-password",
                        SettingsState.current_password_error,
                    ),
                    _password_field(
                        "New password",
                        "new_password",
                        "new-password",
                        SettingsState.new_password_error,
                    ),
                    _password_field(
                        "Repeat new password",
                        "confirm_password",
                        "new-password",
                        SettingsState.confirm_password_error,
                    ),
                    rx.button("Change password", type="submit", id="password-submit"),
                    spacing="3",
                    width="100%",
                    max_width="420px",
                ),
                on_submit=SettingsState.change_password,
                reset_on_submit=False,
                id="password-form",
            ),
        ),
        rx.cond(
            SettingsState.can_delete,
            section_card(
                "Danger zone",
                "Delete this workspace and everything in it. Only owners can do this.",
                delete_dialog(),
                border=f"1px solid {rx.color('red', 6)}",
            ),
        ),
        spacing="4",
        width="100%",
    )
