"""Workspace members and invitation links.

An invitation is a link `/invite/<token>`; only a keyed hash of the token is stored, it
expires after 7 days and works once. With email on (SMTP_URL) an invitation bound to an
address is also mailed there (through the outbox), and only inviters whose own address
is verified may invite (see app.services.verification).

Role rules: owners and admins manage members, only an owner grants, changes or removes
an owner, and the last owner can be neither demoted nor removed (a workspace always has
someone who can delete it or pay for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import routes, security
from app.db import NotFoundError, TenantScope, cross_tenant
from app.models import AuthSession, Invitation, Membership, Role, Tenant, User, utcnow
from app.services import accounts, audit, verification
from app.services.mail import messages, outbox
from app.services.permissions import Action, require
from app.settings import get_settings

INVITE_TTL = timedelta(days=7)
MAX_PENDING_INVITES = 50
_TOKEN_PURPOSE = "invitation"  # noqa: S105 (a hash purpose label)


class TeamError(ValueError):
    """A user-facing problem with a member or invitation action."""

    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CreatedInvitation:
    invitation: Invitation
    token: str  # shown once, as part of the link
    emailed: bool = False  # an email with the link is queued for the invitation's address


@dataclass(frozen=True, slots=True)
class MemberRow:
    membership_id: str
    user_id: str
    email: str
    role: str
    joined: datetime


@dataclass(frozen=True, slots=True)
class InvitePreview:
    """What the accept page may show about a token (nothing when it is not valid)."""

    status: str  # valid | expired | used | invalid
    tenant_name: str = ""
    role: str = ""
    email: str = ""


def _role(value: str) -> Role:
    try:
        return Role((value or "").strip().lower())
    except ValueError as exc:
        raise TeamError("Choose owner, admin or member.", "role") from exc


def _token_hash(token: str) -> str:
    return security.keyed_hash(token, _TOKEN_PURPOSE)


# ---- invitations ----------------------------------------------------------------------


def create_invitation(
    session: Session,
    tenant_id: str,
    actor_role: Role | str,
    role: str,
    email: str | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
    *,
    actor: audit.Actor | None = None,
) -> CreatedInvitation:
    require(actor_role, Action.manage_members)
    new_role = _role(role)
    if new_role == Role.owner and Role(actor_role) != Role.owner:
        raise TeamError("Only an owner can invite another owner.", "role")
    clean_email = accounts.normalize_email(email) if (email or "").strip() else None
    inviter = session.get(User, created_by) if created_by else None
    if not verification.may_invite(inviter):
        raise TeamError(
            "Confirm your email address before inviting people: use the link we sent you "
            "(Settings → Account can send a new one)."
        )
    now = now or utcnow()
    scope = TenantScope(session, tenant_id)
    pending = scope.all(
        Invitation,
        col(Invitation.accepted_at).is_(None),
        col(Invitation.expires_at) > now,
        limit=MAX_PENDING_INVITES + 1,
    )
    if len(pending) >= MAX_PENDING_INVITES:
        raise TeamError(
            f"A workspace can have at most {MAX_PENDING_INVITES} open invitations. "
            "Revoke some first."
        )
    token = security.new_token()
    invitation = scope.add(
        Invitation(
            email=clean_email,
            role=new_role,
            token_hash=_token_hash(token),
            expires_at=now + INVITE_TTL,
            created_by=created_by,
        )
    )
    session.flush()
    audit.record(
        session,
        tenant_id,
        actor,
        "invitation.created",
        "invitation",
        invitation.id,
        after={"email": clean_email, "role": str(new_role)},
    )
    emailed = False
    if clean_email and get_settings().email_enabled:
        tenant = session.get(Tenant, tenant_id)
        outbox.enqueue(
            session,
            messages.invitation(
                clean_email,
                invite_link(token),
                tenant.name if tenant else "a workspace",
                inviter.email if inviter else "",
                str(new_role),
                INVITE_TTL.days,
            ),
            kind="invitation",
            invitation_id=invitation.id,
            discard_after=invitation.expires_at,
        )
        emailed = True
    return CreatedInvitation(invitation=invitation, token=token, emailed=emailed)


def invite_link(token: str) -> str:
    return f"{get_settings().public_url}{routes.INVITE}/{token}"


def invitation_deliveries(
    session: Session, tenant_id: str, invitation_ids: list[str]
) -> dict[str, outbox.DeliveryStatus]:
    """How each invitation's email is doing (only this workspace's invitations)."""
    scope = TenantScope(session, tenant_id)
    own = scope.all(Invitation, col(Invitation.id).in_(invitation_ids), limit=1000)
    rows = outbox.latest_for_invitations(session, [i.id for i in own])
    return {inv_id: outbox.describe(row) for inv_id, row in rows.items()}


def list_pending_invitations(session: Session, tenant_id: str) -> list[Invitation]:
    return TenantScope(session, tenant_id).all(
        Invitation,
        col(Invitation.accepted_at).is_(None),
        col(Invitation.expires_at) > utcnow(),
        order_by=col(Invitation.created_at).desc(),
        limit=MAX_PENDING_INVITES,
    )


def revoke_invitation(
    session: Session,
    tenant_id: str,
    actor_role: Role | str,
    invitation_id: str,
    *,
    actor: audit.Actor | None = None,
) -> None:
    require(actor_role, Action.manage_members)
    invitation = TenantScope(session, tenant_id).get(Invitation, invitation_id)
    audit.record(
        session,
        tenant_id,
        actor,
        "invitation.revoked",
        "invitation",
        invitation.id,
        before={"email": invitation.email, "role": str(invitation.role)},
    )
    session.delete(invitation)


def _lookup(session: Session, token: str) -> Invitation | None:
    if not token or len(token) > 128:
        return None
    with cross_tenant(session, "invitation lookup by its link's hash"):
        invitation = session.exec(
            select(Invitation).where(Invitation.token_hash == _token_hash(token))
        ).first()
    if invitation is not None:
        TenantScope(session, invitation.tenant_id)  # accepting it happens in that workspace
    return invitation


def preview_invitation(session: Session, token: str, now: datetime | None = None) -> InvitePreview:
    invitation = _lookup(session, token)
    if invitation is None:
        return InvitePreview(status="invalid")
    if invitation.accepted_at is not None:
        return InvitePreview(status="used")
    if invitation.expires_at <= (now or utcnow()):
        return InvitePreview(status="expired")
    tenant = session.get(Tenant, invitation.tenant_id)
    return InvitePreview(
        status="valid",
        tenant_name=tenant.name if tenant else "",
        role=str(invitation.role),
        email=invitation.email or "",
    )


def _usable(session: Session, token: str, now: datetime) -> Invitation:
    invitation = _lookup(session, token)
    if invitation is None:
        raise TeamError("This invitation link is not valid.")
    if invitation.accepted_at is not None:
        raise TeamError("This invitation has already been used. Ask for a new link.")
    if invitation.expires_at <= now:
        raise TeamError("This invitation has expired. Ask for a new link.")
    return invitation


def accept_invitation(
    session: Session,
    token: str,
    user: User,
    now: datetime | None = None,
    *,
    ip: str = "",
    user_agent: str = "",
) -> Invitation:
    """Join the invitation's workspace with its role; the link then stops working."""
    now = now or utcnow()
    invitation = _usable(session, token, now)
    if invitation.email and invitation.email != user.email:
        raise TeamError(f"This invitation is for {invitation.email}.", "email")
    existing = session.exec(
        select(Membership).where(
            Membership.user_id == user.id, Membership.tenant_id == invitation.tenant_id
        )
    ).first()
    if existing is not None:
        raise TeamError("You are already a member of this workspace.")
    invitation.accepted_at = now
    invitation.accepted_by = user.id
    session.add(invitation)
    membership = Membership(user_id=user.id, tenant_id=invitation.tenant_id, role=invitation.role)
    session.add(membership)
    session.flush()
    audit.record(
        session,
        invitation.tenant_id,
        audit.Actor.user(user.id, user.email, ip, user_agent),
        "member.joined",
        "membership",
        membership.id,
        after={"email": user.email, "role": str(invitation.role), "invitation": invitation.id},
    )
    return invitation


def sign_up_invited(
    session: Session,
    token: str,
    email: str,
    password: str,
    *,
    ip: str = "",
    user_agent: str = "",
) -> tuple[User, Invitation]:
    """A new person's account, created only together with a valid invitation."""
    _usable(session, token, utcnow())  # say what is wrong with the link before anything else
    email = accounts.normalize_email(email)
    accounts.validate_password(password)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise TeamError("An account with this email already exists. Log in instead.", "email")
    user = User(email=email, password_hash=security.hash_password(password))
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        raise TeamError(
            "An account with this email already exists. Log in instead.", "email"
        ) from exc
    invitation = accept_invitation(session, token, user, ip=ip, user_agent=user_agent)
    verification.send_verification(session, user)
    return user, invitation


# ---- members --------------------------------------------------------------------------


def list_members(session: Session, tenant_id: str) -> list[MemberRow]:
    TenantScope(session, tenant_id)  # refuses a missing tenant id
    rows = session.exec(
        select(Membership, User.email)
        .join(User, col(User.id) == col(Membership.user_id))
        .where(Membership.tenant_id == tenant_id)
        .order_by(col(Membership.created_at))
    ).all()
    return [
        MemberRow(m.id, m.user_id, email, str(m.role), m.created_at)
        for m, email in rows  # type: ignore[misc]
    ]


def _owner_count(scope: TenantScope) -> int:
    return len(scope.all(Membership, Membership.role == Role.owner))


def change_role(
    session: Session,
    tenant_id: str,
    actor_role: Role | str,
    membership_id: str,
    role: str,
    *,
    actor: audit.Actor | None = None,
) -> Membership:
    require(actor_role, Action.manage_members)
    scope = TenantScope(session, tenant_id)
    membership = scope.get(Membership, membership_id)
    new_role = _role(role)
    if Role.owner in (new_role, Role(membership.role)) and Role(actor_role) != Role.owner:
        raise TeamError("Only an owner can grant or change the owner role.", "role")
    if membership.role == Role.owner and new_role != Role.owner and _owner_count(scope) <= 1:
        raise TeamError("A workspace needs at least one owner. Make someone else owner first.")
    if membership.role != new_role:
        audit.record(
            session,
            tenant_id,
            actor,
            "member.role_changed",
            "membership",
            membership.id,
            before={"email": _email(session, membership.user_id), "role": str(membership.role)},
            after={"email": _email(session, membership.user_id), "role": str(new_role)},
        )
    membership.role = new_role
    session.add(membership)
    session.flush()
    return membership


def _email(session: Session, user_id: str) -> str:
    user = session.get(User, user_id)
    return user.email if user else ""


def remove_member(
    session: Session,
    tenant_id: str,
    actor_role: Role | str,
    membership_id: str,
    *,
    actor: audit.Actor | None = None,
) -> None:
    """Remove a member and sign out their sessions in this workspace."""
    require(actor_role, Action.manage_members)
    scope = TenantScope(session, tenant_id)
    membership = scope.get(Membership, membership_id)
    if membership.role == Role.owner:
        if Role(actor_role) != Role.owner:
            raise TeamError("Only an owner can remove an owner.")
        if _owner_count(scope) <= 1:
            raise TeamError("The last owner cannot be removed. Delete the workspace instead.")
    now = utcnow()
    for row in scope.all(AuthSession, AuthSession.user_id == membership.user_id, limit=10_000):
        if row.revoked_at is None:
            row.revoked_at = now
            row.token_hash = None
            session.add(row)
    audit.record(
        session,
        tenant_id,
        actor,
        "member.removed",
        "membership",
        membership.id,
        before={"email": _email(session, membership.user_id), "role": str(membership.role)},
    )
    session.delete(membership)
    session.flush()


def member_tenants(session: Session, user_id: str) -> list[tuple[str, str, str]]:
    """(tenant id, name, role) of every workspace this user belongs to, for the switcher."""
    with cross_tenant(session, "a user's memberships, for the workspace switcher"):
        rows = session.exec(
            select(Membership, Tenant.name)
            .join(Tenant, col(Tenant.id) == col(Membership.tenant_id))
            .where(Membership.user_id == user_id)
            .order_by(col(Membership.created_at))
        ).all()
    return [(m.tenant_id, name, str(m.role)) for m, name in rows]


__all__ = [
    "INVITE_TTL",
    "CreatedInvitation",
    "InvitePreview",
    "MemberRow",
    "NotFoundError",
    "TeamError",
    "accept_invitation",
    "change_role",
    "create_invitation",
    "invitation_deliveries",
    "invite_link",
    "list_members",
    "list_pending_invitations",
    "member_tenants",
    "preview_invitation",
    "remove_member",
    "revoke_invitation",
    "sign_up_invited",
]
