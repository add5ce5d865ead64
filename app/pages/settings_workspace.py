"""Settings → Workspace: name, plan and limits."""

from __future__ import annotations

import reflex as rx

from app.components.forms import field_error
from app.components.team_ui import (
    section_card,
)
from app.state.settings import SettingsState

# ---- workspace and plan ---------------------------------------------------------------


def workspace_section() -> rx.Component:
    return section_card(
        "Workspace",
        "The name your team sees in the sidebar and in invitations.",
        rx.form(
            rx.flex(
                rx.box(
                    rx.input(
                        name="name",
                        id="workspace-name-input",
                        default_value=SettingsState.workspace_name,
                        key=SettingsState.workspace_name,
                        max_length=120,
                        width="100%",
                        disabled=~SettingsState.can_rename,
                        aria_label="Workspace name",
                    ),
                    field_error(SettingsState.name_error, "workspace-name-error"),
                    flex="1",
                    min_width="200px",
                ),
                rx.button(
                    "Rename",
                    type="submit",
                    id="workspace-rename",
                    disabled=~SettingsState.can_rename,
                ),
                spacing="3",
                wrap="wrap",
                width="100%",
                align="start",
            ),
            on_submit=SettingsState.rename,
            reset_on_submit=False,
        ),
    )


def plan_section() -> rx.Component:
    return section_card(
        "Plan and usage",
        "Limits of your plan and what this workspace used this month.",
        rx.flex(
            rx.hstack(
                rx.text("Plan", size="2", weight="medium"),
                rx.badge(
                    SettingsState.tier,
                    color_scheme=rx.cond(SettingsState.tier == "paid", "green", "gray"),
                    size="2",
                    id="plan-tier",
                ),
                align="center",
            ),
            rx.spacer(),
            rx.cond(
                SettingsState.can_billing,
                rx.segmented_control.root(
                    rx.segmented_control.item("Free", value="free"),
                    rx.segmented_control.item("Paid", value="paid"),
                    value=SettingsState.tier,
                    on_change=SettingsState.change_tier,
                    id="plan-switch",
                ),
                rx.text("Only owners and admins change the plan.", size="1", color_scheme="gray"),
            ),
            rx.text(
                "Billing is not connected: this is a self-hosted install, so the plan only "
                "sets the limits and the token budget below. Nobody is charged.",
                size="1",
                color_scheme="gray",
                width="100%",
                id="plan-billing-note",
            ),
            width="100%",
            align="center",
            wrap="wrap",
            spacing="3",
        ),
        rx.vstack(
            rx.hstack(
                rx.text("Tokens", size="2", weight="medium"),
                rx.spacer(),
                rx.text(SettingsState.token_line, size="2", color_scheme="gray", id="token-usage"),
                width="100%",
                wrap="wrap",
            ),
            rx.progress(
                value=SettingsState.token_percent,
                aria_label="Tokens used this month",
                color_scheme=rx.cond(SettingsState.token_percent >= 90, "red", "indigo"),
                width="100%",
            ),
            width="100%",
            spacing="2",
        ),
        rx.grid(
            rx.foreach(
                SettingsState.usage_lines,
                lambda line: rx.box(
                    rx.text(line[0], size="1", color_scheme="gray"),
                    rx.text(line[1], size="4", weight="bold"),
                    padding="12px",
                    border_radius="8px",
                    border=f"1px solid {rx.color('gray', 5)}",
                ),
            ),
            columns=rx.breakpoints(initial="1", xs="2", md="3"),
            spacing="3",
            width="100%",
        ),
    )
