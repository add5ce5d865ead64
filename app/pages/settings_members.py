"""Settings → Members: roles, invitations, removal."""

from __future__ import annotations

import reflex as rx

from app.components.dialogs import confirm_dialog, form_dialog
from app.components.email_status import invitation_delivery
from app.components.forms import field_error, labeled
from app.components.tables import stacked_on_phones
from app.components.team_ui import (
    one_time_secret_dialog,
    read_only_notice,
    section_card,
    table_skeleton,
)
from app.state.members import InviteView, MembersState, MemberView

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
