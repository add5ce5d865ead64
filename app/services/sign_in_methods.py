"""An account's sign-in methods: its password and its linked providers. A person sees them
and removes any of them except the last one (an account must stay reachable)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app import security
from app.models import User, UserIdentity
from app.services import audit
from app.services.oauth_providers import enabled_providers

PASSWORD_ID = "password"  # noqa: S105 (the id of the password method, not a password)
LABELS = {"google": "Google", "microsoft": "Microsoft", "github": "GitHub"}


class SignInMethodError(ValueError):
    status_code = 422


@dataclass(frozen=True, slots=True)
class Method:
    id: str
    label: str
    detail: str  # the address the provider gave, or a hint


def list_methods(session: Session, user_id: str) -> list[Method]:
    user = session.get(User, user_id)
    if user is None:
        return []
    methods = []
    if user.password_hash and user.password_hash != security.NO_PASSWORD:
        methods.append(Method(PASSWORD_ID, "Password", user.email))
    rows = session.exec(
        select(UserIdentity)
        .where(UserIdentity.user_id == user_id)
        .order_by(col(UserIdentity.created_at))
    ).all()
    configured = enabled_providers()
    for row in rows:
        label = LABELS.get(row.provider, row.provider)
        hint = "" if row.provider in configured else " (sign-in with it is switched off)"
        methods.append(Method(row.id, label, f"{row.email}{hint}"))
    return methods


def remove_method(session: Session, user_id: str, method_id: str, actor: audit.Actor) -> None:
    """Remove one method; refused for the last one. Open sessions stay: only how the
    account signs in from now on changes."""
    methods = list_methods(session, user_id)
    if method_id not in {m.id for m in methods}:
        raise SignInMethodError("That sign-in method is not linked to your account.")
    if len(methods) <= 1:
        raise SignInMethodError(
            "This is your only way to sign in. Add another one before removing it."
        )
    user = session.get(User, user_id)
    assert user is not None  # list_methods found it
    if method_id == PASSWORD_ID:
        user.password_hash = security.NO_PASSWORD
        session.add(user)
        label = "password"
    else:
        row = session.get(UserIdentity, method_id)
        assert row is not None and row.user_id == user_id
        label = row.provider
        session.delete(row)
    from app.services.accounts import find_primary_membership

    membership = find_primary_membership(session, user_id)
    audit.record(
        session,
        membership.tenant_id if membership else None,
        actor,
        "account.sign_in_method_removed",
        "user",
        user_id,
        before={"method": label},
    )
    session.flush()
