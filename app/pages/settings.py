"""Settings: workspace and plan, AI providers, members, account, audit log."""

from __future__ import annotations

import reflex as rx

from app import routes
from app.components.dialogs import confirm_dialog, form_dialog
from app.components.email_status import email_address_card, invitation_delivery
from app.components.forms import field_error, labeled
from app.components.hours import hours_section
from app.components.shell import dashboard_page, page_header
from app.components.tables import stacked_on_phones
from app.components.team_ui import (
    one_time_secret_dialog,
    read_only_notice,
    section_card,
    table_skeleton,
)
from app.components.webhooks import webhooks_section
from app.pages.settings_audit import audit_section
from app.pages.settings_security import security_section, sign_in_methods_card, two_factor_card
from app.pages.settings_sso import sso_section
from app.state.audit import AuditState
from app.state.members import InviteView, MembersState, MemberView
from app.state.settings import AUTOMATIC_MODEL, ProviderCard, SettingsState
from app.state.sign_in_methods import SignInMethodsState
from app.state.sso import SsoState

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


# ---- providers ------------------------------------------------------------------------


def _secret_input(name: str, placeholder: str) -> rx.Component:
    return rx.input(
        name=name,
        id=f"cred-{name}",
        type="password",
        placeholder=placeholder,
        auto_complete="off",
        max_length=500,
        width="100%",
    )


def _provider_fields(card: ProviderCard) -> rx.Component:
    return rx.match(
        card.key,
        ("openai", _secret_input("openai_key", "sk-…")),
        ("anthropic", _secret_input("anthropic_key", "sk-ant-…")),
        ("gemini", _secret_input("gemini_key", "AIza…")),
        (
            "openai_compatible",
            rx.vstack(
                rx.input(
                    name="compat_base_url",
                    id="cred-compat_base_url",
                    placeholder=rx.cond(
                        card.base_url != "", card.base_url, "http://localhost:11434/v1"
                    ),
                    max_length=500,
                    width="100%",
                    aria_label="Base URL",
                ),
                _secret_input("compat_key", "Key (optional for Ollama)"),
                rx.text(
                    "A local Ollama: http://localhost:11434/v1, no key. Save, pick one of its "
                    "models as the default model above, then Test connection.",
                    size="1",
                    color_scheme="gray",
                ),
                width="100%",
                spacing="2",
            ),
        ),
        rx.fragment(),
    )


def provider_card(card: ProviderCard) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.text(card.label, weight="bold", size="3"),
                rx.spacer(),
                rx.badge(
                    card.status,
                    color_scheme=rx.cond(card.is_set, "green", "gray"),
                    id=f"cred-status-{card.key}",
                ),
                width="100%",
                align="center",
                wrap="wrap",
            ),
            rx.cond(
                card.base_url != "",
                rx.text("Base URL: ", rx.code(card.base_url), size="1", color_scheme="gray"),
            ),
            rx.cond(
                SettingsState.can_credentials,
                rx.form(
                    rx.vstack(
                        _provider_fields(card),
                        rx.flex(
                            rx.button("Save", type="submit", size="2", id=f"cred-save-{card.key}"),
                            rx.button(
                                rx.cond(SettingsState.testing == card.key, rx.spinner(size="1")),
                                "Test connection",
                                type="button",
                                variant="soft",
                                size="2",
                                disabled=~card.is_set | (SettingsState.testing != ""),
                                on_click=SettingsState.test_provider(card.key),
                                id=f"cred-test-{card.key}",
                            ),
                            rx.cond(
                                card.is_set,
                                rx.button(
                                    "Remove",
                                    type="button",
                                    variant="ghost",
                                    color_scheme="red",
                                    size="2",
                                    on_click=SettingsState.clear_provider(card.key),
                                ),
                            ),
                            spacing="2",
                            wrap="wrap",
                        ),
                        spacing="3",
                        width="100%",
                    ),
                    on_submit=SettingsState.save_provider,
                    reset_on_submit=True,
                    class_name="provider-form",
                    width="100%",
                ),
            ),
            rx.cond(
                card.test_message != "",
                rx.callout(
                    card.test_message,
                    icon=rx.cond(card.test_ok, "circle-check", "triangle-alert"),
                    color_scheme=rx.cond(card.test_ok, "green", "red"),
                    size="1",
                    id=f"cred-test-result-{card.key}",
                ),
            ),
            spacing="3",
            width="100%",
        ),
        width="100%",
    )


def providers_section() -> rx.Component:
    return section_card(
        "AI providers",
        "Your own keys, encrypted at rest and never shown again (only the last 4 characters). "
        "Without any, answers quote your documents.",
        rx.cond(
            ~SettingsState.can_credentials,
            read_only_notice(
                "Only owners and admins can change provider credentials.", "creds-read-only"
            ),
        ),
        rx.form(
            rx.flex(
                rx.box(
                    labeled(
                        "Default model",
                        "default-model",
                        rx.select.root(
                            rx.select.trigger(id="default-model", width="100%"),
                            rx.select.content(
                                rx.select.item(
                                    "Automatic (by plan and connected providers)",
                                    value=AUTOMATIC_MODEL,
                                ),
                                rx.foreach(
                                    SettingsState.model_options,
                                    lambda o: rx.select.item(o["label"], value=o["value"]),
                                ),
                            ),
                            name="default_model",
                            default_value=SettingsState.model_choice,
                            key=SettingsState.model_choice
                            + SettingsState.model_options.length().to(str),
                            disabled=~SettingsState.can_credentials,
                        ),
                        rx.cond(
                            SettingsState.models_loading,
                            rx.text(
                                "Asking your providers for their models…",
                                size="1",
                                color_scheme="gray",
                            ),
                            rx.cond(
                                SettingsState.models_note != "",
                                rx.text(
                                    SettingsState.models_note,
                                    size="1",
                                    color_scheme="amber",
                                    id="models-note",
                                ),
                                rx.cond(
                                    SettingsState.model_options.length() == 0,
                                    rx.text(
                                        "Connect a provider below to choose one of its models.",
                                        size="1",
                                        color_scheme="gray",
                                        id="models-empty",
                                    ),
                                ),
                            ),
                        ),
                        field_error(SettingsState.model_error, "default-model-error"),
                    ),
                    flex="1",
                    min_width="220px",
                ),
                rx.button(
                    "Save model",
                    type="submit",
                    id="default-model-save",
                    disabled=~SettingsState.can_credentials,
                ),
                spacing="3",
                align="end",
                wrap="wrap",
                width="100%",
            ),
            on_submit=SettingsState.save_default_model,
            reset_on_submit=False,
        ),
        rx.grid(
            rx.foreach(SettingsState.provider_cards, provider_card),
            columns=rx.breakpoints(initial="1", md="2"),
            spacing="3",
            width="100%",
        ),
    )


# ---- members --------------------------------------------------------------------------


def _role_select(member: MemberView) -> rx.Component:
    return rx.cond(
        MembersState.can_manage & ~member.is_me,
        rx.select.root(
            rx.select.trigger(aria_label="Role", class_name="member-role"),
            rx.select.content(
                rx.cond(MembersState.is_owner, rx.select.item("owner", value="owner")),
                rx.select.item("admin", value="admin"),
                rx.select.item("member", value="member"),
            ),
            value=member.role,
            on_change=lambda role: MembersState.change_role(member.id, role),
            size="1",
        ),
        rx.badge(member.role, color_scheme="gray"),
    )


MEMBER_HEADERS = ("Email", "Role", "Joined", "")


def member_row(member: MemberView) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.hstack(
                rx.text(member.email, size="2"),
                rx.cond(member.is_me, rx.badge("you", size="1")),
                align="center",
            )
        ),
        rx.table.cell(_role_select(member)),
        rx.table.cell(rx.text(member.joined, size="2", white_space="nowrap")),
        rx.table.cell(
            rx.cond(
                MembersState.can_manage & ~member.is_me,
                rx.button(
                    "Remove",
                    size="1",
                    variant="soft",
                    color_scheme="red",
                    on_click=MembersState.ask_remove(member.id, member.email),
                ),
            )
        ),
        align="center",
        class_name="member-row",
    )


def invite_row(invite: InviteView) -> rx.Component:
    return rx.table.row(
        rx.table.row_header_cell(
            rx.vstack(
                rx.text(invite.email, size="2"),
                invitation_delivery(invite.delivery, invite.delivery_failed),
                spacing="1",
            )
        ),
        rx.table.cell(rx.badge(invite.role, variant="outline")),
        rx.table.cell(rx.text("Expires ", invite.expires, size="2", white_space="nowrap")),
        rx.table.cell(
            rx.cond(
                MembersState.can_manage,
                rx.button(
                    "Revoke",
                    size="1",
                    variant="ghost",
                    color_scheme="red",
                    on_click=MembersState.revoke_invite(invite.id),
                ),
            )
        ),
        align="center",
    )


def invite_dialog() -> rx.Component:
    return form_dialog(
        "Invite someone",
        rx.cond(
            MembersState.mail_enabled,
            "We email the link to the address you enter and show it to you once. "
            "It works once and expires in 7 days.",
            "You get a link to send them. It works once and expires in 7 days.",
        ),
        labeled(
            "Email (optional: only this person can use the link)",
            "invite-email",
            rx.input(
                name="email",
                id="invite-email",
                type="email",
                placeholder="teammate@company.com",
                width="100%",
                max_length=254,
            ),
        ),
        labeled(
            "Role",
            "invite-role",
            rx.select.root(
                rx.select.trigger(id="invite-role", width="100%"),
                rx.select.content(
                    rx.cond(MembersState.is_owner, rx.select.item("Owner", value="owner")),
                    rx.select.item("Admin", value="admin"),
                    rx.select.item("Member", value="member"),
                ),
                value=MembersState.invite_role,
                on_change=MembersState.set_invite_role,
            ),
            rx.text(
                "Members manage widgets, knowledge and conversations, but not keys, "
                "credentials, members or billing.",
                size="1",
                color_scheme="gray",
            ),
        ),
        field_error(MembersState.invite_error, "invite-error"),
        submit_label="Create link",
        submit_id="invite-submit",
        on_submit=MembersState.invite,
        open=MembersState.invite_open,
        on_open_change=MembersState.set_invite_open,
    )


def link_dialog() -> rx.Component:
    return one_time_secret_dialog(
        "Send this link",
        "It is shown only now. Anyone with it can join until it is used or expires.",
        secret=MembersState.link,
        copy_id="invite-link-copy",
        value_id="invite-link",
        done_label="Done",
        on_done=MembersState.close_link,
        done_id="invite-link-done",
        max_width="560px",
    )


def remove_dialog() -> rx.Component:
    return confirm_dialog(
        "Remove this member?",
        MembersState.remove_email,
        " loses access to this workspace and is signed out of it.",
        confirm_label="Remove",
        confirm_id="member-remove-confirm",
        on_confirm=MembersState.remove,
        on_cancel=MembersState.cancel_remove,
        open=MembersState.remove_id != "",
    )


def members_section() -> rx.Component:
    return section_card(
        "Members",
        "Owners and admins manage keys, credentials, members and billing; members run content.",
        rx.cond(
            MembersState.can_manage,
            rx.cond(
                MembersState.may_invite,
                rx.button(
                    rx.icon("user-plus", size=16),
                    rx.cond(MembersState.mail_enabled, "Invite", "Invite by link"),
                    on_click=MembersState.open_invite,
                    id="invite-open",
                    width="fit-content",
                ),
                read_only_notice(
                    "Confirm your email address to invite people: use the link we sent you "
                    "(Account tab can send a new one).",
                    "invite-needs-verified",
                ),
            ),
            read_only_notice(
                "Only owners and admins can invite or remove people.", "members-read-only"
            ),
        ),
        rx.cond(
            MembersState.loaded,
            rx.box(
                rx.table.root(
                    rx.table.header(
                        rx.table.row(*[rx.table.column_header_cell(h) for h in MEMBER_HEADERS])
                    ),
                    rx.table.body(rx.foreach(MembersState.members, member_row)),
                    variant="surface",
                    width="100%",
                    id="members-table",
                    style=stacked_on_phones(MEMBER_HEADERS),
                ),
                width="100%",
                overflow_x="auto",
            ),
            table_skeleton(2),
        ),
        rx.cond(
            MembersState.invites.length() > 0,  # type: ignore[attr-defined]
            rx.vstack(
                rx.text("Open invitations", size="2", weight="medium"),
                rx.box(
                    rx.table.root(
                        rx.table.body(rx.foreach(MembersState.invites, invite_row)),
                        variant="surface",
                        width="100%",
                        id="invites-table",
                        style=stacked_on_phones(("Email", "Role", "", "")),
                    ),
                    width="100%",
                    overflow_x="auto",
                ),
                width="100%",
            ),
        ),
        invite_dialog(),
        link_dialog(),
        remove_dialog(),
    )


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
