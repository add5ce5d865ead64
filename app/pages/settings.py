"""Settings: workspace and plan, AI providers, members, webhooks, account, audit log.

One module per tab (settings_*.py); this one lays out the tabs.
"""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.hours import hours_section
from app.components.shell import dashboard_page, page_header
from app.components.team_ui import (
    table_skeleton,
)
from app.components.webhooks import webhooks_section
from app.pages.settings_account import account_section
from app.pages.settings_audit import audit_section
from app.pages.settings_members import members_section
from app.pages.settings_providers import providers_section
from app.pages.settings_security import security_section
from app.pages.settings_sso import sso_section
from app.pages.settings_workspace import plan_section, workspace_section
from app.state.audit import AuditState
from app.state.members import MembersState
from app.state.settings import SettingsState
from app.state.sign_in_methods import SignInMethodsState
from app.state.sso import SsoState


@dashboard_page(routes.SETTINGS, "Settings")
def settings() -> rx.Component:
    return rx.vstack(
        page_header("Settings", "Workspace, plan, AI providers, members and your account."),
        rx.cond(
            SettingsState.loaded,
            rx.tabs.root(
                rx.tabs.list(
                    rx.tabs.trigger("Workspace", value="workspace", id="tab-workspace"),
                    rx.tabs.trigger("AI providers", value="providers", id="tab-providers"),
                    rx.tabs.trigger("Members", value="members", id="tab-members"),
                    rx.tabs.trigger("Webhooks", value="webhooks", id="tab-webhooks"),
                    rx.tabs.trigger("Account", value="account", id="tab-account"),
                    rx.cond(
                        AuditState.allowed,
                        rx.tabs.trigger("Audit", value="audit", id="tab-audit"),
                    ),
                    style={"flex_wrap": "wrap", "max_width": "100%"},
                ),
                rx.tabs.content(
                    rx.vstack(
                        workspace_section(),
                        hours_section(),
                        security_section(),
                        sso_section(),
                        plan_section(),
                        spacing="4",
                        padding_top="16px",
                    ),
                    value="workspace",
                ),
                rx.tabs.content(rx.box(providers_section(), padding_top="16px"), value="providers"),
                rx.tabs.content(rx.box(members_section(), padding_top="16px"), value="members"),
                rx.tabs.content(rx.box(webhooks_section(), padding_top="16px"), value="webhooks"),
                rx.tabs.content(rx.box(account_section(), padding_top="16px"), value="account"),
                rx.tabs.content(rx.box(audit_section(), padding_top="16px"), value="audit"),
                value=SettingsState.tab,
                on_change=SettingsState.set_tab,
                width="100%",
            ),
            table_skeleton(4),
        ),
        spacing="5",
        width="100%",
        on_mount=[
            SettingsState.load,
            MembersState.load,
            AuditState.load,
            SignInMethodsState.load,
            SsoState.load,
        ],
    )
