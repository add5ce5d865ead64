"""Members section of the settings page: list, invite by link, change role, remove.

The invitation link (it carries the token) is held only while its dialog is open.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from app.db import NotFoundError, session_scope
from app.models import Role, User
from app.services import audit, team, verification
from app.services.accounts import AccountError, Identity
from app.services.permissions import Action, PermissionDeniedError, can
from app.settings import get_settings
from app.state.auth import AuthState

ANY_EMAIL = ""


@dataclasses.dataclass
class MemberView:
    id: str = ""
    email: str = ""
    role: str = ""
    joined: str = ""
    is_me: bool = False


@dataclasses.dataclass
class InviteView:
    id: str = ""
    email: str = ""
    role: str = ""
    expires: str = ""
    delivery: str = ""  # how its email is doing ("" when none was sent)
    delivery_failed: bool = False


def invite_link(token: str) -> str:
    return team.invite_link(token)


def _who(ident: Identity, actor: audit.Actor | None) -> audit.Actor:
    return actor or audit.Actor.user(ident.user_id, ident.email)


def change_role_as(
    ident: Identity, membership_id: str, role: str, actor: audit.Actor | None = None
) -> None:
    """The handler's server-side work (also called directly by the permission tests)."""
    with session_scope() as session:
        team.change_role(
            session, ident.tenant_id, ident.role, membership_id, role, actor=_who(ident, actor)
        )


def invite_as(ident: Identity, role: str, email: str) -> str:
    return invite_and_mail_as(ident, role, email)[0]


def invite_and_mail_as(
    ident: Identity, role: str, email: str, actor: audit.Actor | None = None
) -> tuple[str, bool]:
    """The invitation link, and whether an email with it was queued."""
    with session_scope() as session:
        created = team.create_invitation(
            session,
            ident.tenant_id,
            ident.role,
            role,
            email or None,
            created_by=ident.user_id,
            actor=_who(ident, actor),
        )
        return invite_link(created.token), created.emailed


class MembersState(AuthState):
    members: list[MemberView] = []
    invites: list[InviteView] = []
    can_manage: bool = False
    is_owner: bool = False
    loaded: bool = False
    mail_enabled: bool = False
    may_invite: bool = True  # False while email is on and your own address is unverified

    invite_open: bool = False
    invite_role: str = "member"
    invite_error: str = ""
    link: str = ""  # only while the link dialog is open

    remove_id: str = ""
    remove_email: str = ""

    def _reload(self, ident: Identity) -> None:
        with session_scope() as session:
            rows = team.list_members(session, ident.tenant_id)
            pending = team.list_pending_invitations(session, ident.tenant_id)
            deliveries = team.invitation_deliveries(
                session, ident.tenant_id, [i.id for i in pending]
            )
            self.may_invite = verification.may_invite(session.get(User, ident.user_id))
        self.mail_enabled = get_settings().email_enabled
        self.members = [
            MemberView(
                id=m.membership_id,
                email=m.email,
                role=m.role,
                joined=m.joined.strftime("%b %d, %Y"),
                is_me=m.user_id == ident.user_id,
            )
            for m in rows
        ]
        self.invites = [
            InviteView(
                id=i.id,
                email=i.email or "Anyone with the link",
                role=str(i.role),
                expires=i.expires_at.strftime("%b %d, %Y"),
                delivery=deliveries[i.id].message if i.id in deliveries else "",
                delivery_failed=i.id in deliveries
                and deliveries[i.id].state in ("retrying", "failed"),
            )
            for i in pending
        ]
        self.can_manage = can(ident.role, Action.manage_members)
        self.is_owner = ident.role == Role.owner
        self.loaded = True

    @rx.event
    def load(self):
        self._reload(self._require())

    @rx.event
    def open_invite(self):
        ident = self._require()
        if not can(ident.role, Action.manage_members):
            return rx.toast.error("Only owners and admins can invite people.")
        self.invite_error = ""
        self.invite_role = "member"
        self.invite_open = True
        return None

    @rx.event
    def set_invite_open(self, value: bool):
        self.invite_open = value

    @rx.event
    def set_invite_role(self, value: str):
        self.invite_role = value

    @rx.event
    def invite(self, form: dict):
        ident = self._require()
        self.invite_error = ""
        try:
            self.link, emailed = invite_and_mail_as(
                ident, self.invite_role, str(form.get("email", ""))[:300], self._actor(ident)
            )
        except PermissionDeniedError as exc:
            self.invite_open = False
            return rx.toast.error(str(exc))
        except (team.TeamError, AccountError) as exc:
            self.invite_error = str(exc)
            return None
        self.invite_open = False
        self._reload(ident)
        if emailed:
            return rx.toast.success("Invitation created; we are emailing them the link.")
        return rx.toast.success("Invitation created. Copy the link now.")

    @rx.event
    def close_link(self):
        self.link = ""

    @rx.event
    def revoke_invite(self, invitation_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                team.revoke_invitation(
                    session, ident.tenant_id, ident.role, invitation_id, actor=self._actor(ident)
                )
        except PermissionDeniedError as exc:
            return rx.toast.error(str(exc))
        except NotFoundError:
            pass
        self._reload(ident)
        return rx.toast.success("Invitation revoked.")

    @rx.event
    def change_role(self, membership_id: str, role: str):
        ident = self._require()
        try:
            change_role_as(ident, membership_id, role, self._actor(ident))
        except (PermissionDeniedError, team.TeamError) as exc:
            self._reload(ident)
            return rx.toast.error(str(exc))
        except NotFoundError:
            self._reload(ident)
            return rx.toast.error("That member is no longer in this workspace.")
        self._reload(ident)
        return rx.toast.success(f"Role changed to {role}.")

    @rx.event
    def ask_remove(self, membership_id: str, email: str):
        self._require()
        self.remove_id, self.remove_email = membership_id, email

    @rx.event
    def cancel_remove(self):
        self.remove_id = self.remove_email = ""

    @rx.event
    def remove(self):
        ident = self._require()
        membership_id, email = self.remove_id, self.remove_email
        self.remove_id = self.remove_email = ""
        try:
            with session_scope() as session:
                team.remove_member(
                    session, ident.tenant_id, ident.role, membership_id, actor=self._actor(ident)
                )
        except (PermissionDeniedError, team.TeamError) as exc:
            return rx.toast.error(str(exc))
        except NotFoundError:
            pass
        self._reload(ident)
        return rx.toast.success(f"Removed {email}.")
