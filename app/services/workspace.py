"""Workspace settings: name, plan and usage against its limits, password, deletion."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from app import security
from app.db import TenantScope, cross_tenant
from app.models import (
    TENANT_TABLES,
    ApiKey,
    AuthSession,
    Conversation,
    Document,
    IngestJob,
    Membership,
    Message,
    Role,
    Tenant,
    Tier,
    User,
    utcnow,
)
from app.services import accounts, audit
from app.services.conversations import month_tokens, monthly_budget
from app.services.permissions import Action, require
from app.services.vectors import get_store
from app.settings import Settings, get_settings

log = logging.getLogger("chatconnect.workspace")


class WorkspaceError(ValueError):
    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class PlanUsage:
    tier: str
    tokens_used: int
    tokens_budget: int
    chats_per_hour: int
    visitor_per_minute: int
    messages_this_month: int
    documents: int
    active_keys: int
    members: int


def _tenant(session: Session, tenant_id: str) -> Tenant:
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise WorkspaceError("This workspace no longer exists.")
    return tenant


def rename_workspace(
    session: Session,
    tenant_id: str,
    actor_role: Role | str,
    name: str,
    *,
    actor: audit.Actor | None = None,
) -> Tenant:
    require(actor_role, Action.rename_workspace)
    try:
        clean = accounts.validate_workspace_name(name)
    except accounts.AccountError as exc:
        raise WorkspaceError(str(exc), "name") from exc
    tenant = _tenant(session, tenant_id)
    if tenant.name != clean:
        audit.record(
            session,
            tenant_id,
            actor,
            "workspace.renamed",
            "workspace",
            tenant_id,
            before={"name": tenant.name},
            after={"name": clean},
        )
    tenant.name = clean
    session.add(tenant)
    session.flush()
    return tenant


def set_tier(
    session: Session,
    tenant_id: str,
    actor_role: Role | str,
    tier: str,
    *,
    actor: audit.Actor | None = None,
) -> Tenant:
    """Switch the plan (billing): owners and admins only."""
    require(actor_role, Action.manage_billing)
    try:
        new_tier = Tier(tier)
    except ValueError as exc:
        raise WorkspaceError("Choose the free or the paid plan.", "tier") from exc
    tenant = _tenant(session, tenant_id)
    if tenant.tier != new_tier:
        audit.record(
            session,
            tenant_id,
            actor,
            "workspace.plan_changed",
            "workspace",
            tenant_id,
            before={"tier": str(tenant.tier)},
            after={"tier": str(new_tier)},
        )
    tenant.tier = new_tier
    session.add(tenant)
    session.flush()
    return tenant


def plan_usage(session: Session, tenant_id: str, settings: Settings | None = None) -> PlanUsage:
    s = settings or get_settings()
    tenant = _tenant(session, tenant_id)
    first = utcnow().replace(day=1, hour=0, minute=0, second=0, microsecond=0)

    def count(model: type, *where: object) -> int:
        query = select(func.count()).select_from(model).where(model.tenant_id == tenant_id, *where)
        return int(session.exec(query).one())  # type: ignore[call-overload]

    return PlanUsage(
        tier=str(tenant.tier),
        tokens_used=month_tokens(session, tenant_id),
        tokens_budget=monthly_budget(tenant.tier, s),
        chats_per_hour=s.rate_paid_per_hour if tenant.tier == Tier.paid else s.rate_free_per_hour,
        visitor_per_minute=s.rate_visitor_per_minute,
        messages_this_month=count(Message, col(Message.created_at) >= first),
        documents=count(Document),
        active_keys=count(ApiKey, col(ApiKey.revoked_at).is_(None)),
        members=count(Membership),
    )


def change_password(
    session: Session,
    user_id: str,
    keep_session_id: str,
    current: str,
    new: str,
    *,
    tenant_id: str | None = None,
    actor: audit.Actor | None = None,
) -> int:
    """Set a new password (the current one is required); sign out every other session.

    Returns how many other sessions were revoked.
    """
    user = session.get(User, user_id)
    if user is None:
        raise WorkspaceError("This account no longer exists.")
    if not security.verify_password(user.password_hash, current or ""):
        raise WorkspaceError("The current password is not correct.", "current_password")
    try:
        accounts.validate_password(new)
    except accounts.AccountError as exc:
        raise WorkspaceError(str(exc), "new_password") from exc
    if new == current:
        raise WorkspaceError("Choose a password different from the current one.", "new_password")
    user.password_hash = security.hash_password(new)
    session.add(user)
    now = utcnow()
    with cross_tenant(session, "revoke a user's other sessions in every workspace"):
        others = session.exec(
            select(AuthSession).where(
                AuthSession.user_id == user_id,
                col(AuthSession.id) != keep_session_id,
                col(AuthSession.revoked_at).is_(None),
            )
        ).all()
        for row in others:
            row.revoked_at = now
            row.token_hash = None
            row.code_hash = None
            session.add(row)
        session.flush()
    audit.record(
        session,
        tenant_id,
        actor,
        "account.password_changed",
        "user",
        user_id,
        before={"password": "old"},
        after={"password": "new", "other_sessions_revoked": len(others)},
    )
    session.flush()
    return len(others)


# Children before parents, so no foreign key ever points at a deleted row (works with or
# without ON DELETE CASCADE being enforced).
_DELETE_ORDER: tuple[type, ...] = (Message, IngestJob, Conversation, Document)


def delete_workspace(
    session: Session,
    tenant_id: str,
    actor_role: Role | str,
    typed_name: str,
    *,
    actor: audit.Actor | None = None,
) -> None:
    """Delete every row, vector and uploaded file of one workspace (owner only).

    The typed name must match the workspace name exactly. Accounts left without any
    workspace are deleted too: they could not log in anywhere any more. Rows are deleted
    and committed first; vectors and files follow (both idempotent), so a failure there
    leaves only unreachable data behind, never a half-deleted workspace that still works.
    """
    require(actor_role, Action.delete_workspace)
    tenant = _tenant(session, tenant_id)
    if (typed_name or "").strip() != tenant.name:
        raise WorkspaceError("Type the workspace name exactly to confirm.", "confirm")
    user_ids = list(
        session.exec(select(Membership.user_id).where(Membership.tenant_id == tenant_id)).all()
    )
    ordered = list(_DELETE_ORDER) + [t for t in reversed(TENANT_TABLES) if t not in _DELETE_ORDER]
    for model in ordered:
        session.exec(delete(model).where(model.tenant_id == tenant_id))  # type: ignore[call-overload]
    session.exec(delete(Tenant).where(col(Tenant.id) == tenant_id))  # type: ignore[call-overload]
    if user_ids:
        with cross_tenant(session, "are these people members of any other workspace"):
            still_member = set(
                session.exec(
                    select(Membership.user_id).where(col(Membership.user_id).in_(user_ids))
                ).all()
            )
        orphans = [u for u in user_ids if u not in still_member]
        if orphans:
            session.exec(delete(User).where(col(User.id).in_(orphans)))  # type: ignore[call-overload]
    # The trail outlives the workspace (audit_event has no foreign key to it).
    audit.record(
        session,
        tenant_id,
        actor,
        "workspace.deleted",
        "workspace",
        tenant_id,
        before={"name": tenant.name, "tier": str(tenant.tier), "members": len(user_ids)},
    )
    session.commit()
    try:
        get_store().delete_tenant(tenant_id)
    except Exception:  # the rows are gone; the vectors are unreachable and logged for cleanup
        log.exception("vector cleanup failed for deleted workspace %s", tenant_id)
    shutil.rmtree(get_settings().files_dir / tenant_id, ignore_errors=True)
