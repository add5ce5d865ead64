"""Sign-up, login, sessions and logout.

The browser never sees a session token in page state: a successful login yields a
one-time code (60 s) that the `/api/auth/complete` HTTP route exchanges for the session
cookie (HttpOnly, SameSite=Lax). The database keeps only keyed hashes of both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app import security
from app.db import TenantScope, cross_tenant
from app.models import AuthSession, Membership, Role, Tenant, User, utcnow
from app.services import audit, verification, workspace_sso
from app.services.throttle import get_login_throttle
from app.settings import get_settings

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024  # argon2 takes any length; this bounds the work per request
LOGIN_CODE_TTL = timedelta(seconds=60)
SESSION_TOUCH_INTERVAL = timedelta(minutes=5)


class AccountError(ValueError):
    """A user-facing problem with the input; `field` says which form field to mark."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class LoginThrottledError(AccountError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many failed attempts. Try again in {retry_after} seconds.", field=None
        )
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is signed in, resolved on the server from the session cookie."""

    session_id: str
    user_id: str
    email: str
    name: str
    tenant_id: str
    tenant_name: str
    role: Role
    # The workspace requires two-factor codes and this account has none yet: only the
    # two-factor page may be used until it does.
    two_factor_setup_required: bool = False


# ---- validation -----------------------------------------------------------------------


def normalize_email(email: str) -> str:
    try:
        info = validate_email((email or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError("Enter a valid email address, like you@company.com.", "email") from exc
    return info.normalized.lower()


def validate_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(
            f"Use at least {MIN_PASSWORD_LENGTH} characters for your password.", "password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError("That password is too long.", "password")


def validate_workspace_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise AccountError("Give your workspace a name.", "workspace")
    if len(name) > 120:
        raise AccountError("Keep the workspace name under 120 characters.", "workspace")
    return name


# ---- sign-up and login ----------------------------------------------------------------


def sign_up(
    session: Session,
    email: str,
    password: str,
    workspace: str,
    *,
    ip: str = "",
    user_agent: str = "",
) -> tuple[User, Tenant]:
    """Create a user, their workspace and the owner membership in one transaction."""
    email = normalize_email(email)
    validate_password(password)
    workspace = validate_workspace_name(workspace)
    if session.exec(select(User).where(User.email == email)).first() is not None:
        raise AccountError("An account with this email already exists. Log in instead.", "email")
    user = User(email=email, password_hash=security.hash_password(password))
    tenant = Tenant(name=workspace)
    session.add(user)
    session.add(tenant)
    session.flush()
    TenantScope(session, tenant.id).add(Membership(user_id=user.id, role=Role.owner))
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same email
        raise AccountError(
            "An account with this email already exists. Log in instead.", "email"
        ) from exc
    audit.record(
        session,
        tenant.id,
        audit.Actor.user(user.id, user.email, ip, user_agent),
        "workspace.created",
        "workspace",
        tenant.id,
        after={"name": tenant.name, "owner": user.email},
    )
    verification.send_verification(session, user)  # queued; no-op when email is off
    return user, tenant


def authenticate(
    session: Session, email: str, password: str, ip: str = "", user_agent: str = ""
) -> User:
    """The user for these credentials, with throttling and rehash; AccountError otherwise.

    A failure is audited on its own (the caller's transaction rolls back) under the
    account's workspace, or under no workspace when no account has the address; a success
    is audited by `start_login`, once the session (and any second factor) is granted.
    """
    try:
        email = normalize_email(email)
    except AccountError:
        email = (email or "").strip().lower()[:254]
    throttle = get_login_throttle()
    wait = throttle.retry_after(email, ip)  # raises (fails closed) when Redis is down
    if wait > 0:
        raise LoginThrottledError(wait)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None:
        security.burn_password_check(password or "")
        ok = False
    else:
        ok = security.verify_password(user.password_hash, password or "")
    if not ok or user is None:
        throttle.failed(email, ip)
        _audit_failed_sign_in(session, user, email, ip, user_agent)
        raise AccountError("Wrong email or password.", "password")
    throttle.succeeded(email)
    if workspace_sso.password_refused(session, user):
        raise AccountError(
            "Your company signs in with single sign-on: use “Sign in with SSO” with this "
            "email address.",
            "email",
        )
    if security.needs_rehash(user.password_hash):
        user.password_hash = security.hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    return user


def _audit_failed_sign_in(
    session: Session, user: User | None, email: str, ip: str, agent: str
) -> None:
    membership = find_primary_membership(session, user.id) if user else None
    if user is not None:
        actor = audit.Actor.user(user.id, user.email, ip, agent)
    else:
        actor = audit.Actor("anonymous", "", email, ip, agent)
    audit.record_regardless(
        session,
        membership.tenant_id if membership else None,
        actor,
        "auth.sign_in_failed",
        "user",
        user.id if user else "",
        after={"method": "password", "reason": "wrong_password" if user else "unknown_email"},
    )


def find_primary_membership(session: Session, user_id: str) -> Membership | None:
    # Cross-tenant: a user's own memberships, in whichever workspaces they are.
    with cross_tenant(session, "a user's memberships"):
        return session.exec(
            select(Membership).where(Membership.user_id == user_id).order_by(Membership.created_at)
        ).first()


def primary_membership(session: Session, user_id: str) -> Membership:
    membership = find_primary_membership(session, user_id)
    if membership is None:
        raise AccountError("This account has no workspace.")
    return membership


def start_login(
    session: Session,
    user: User,
    *,
    ip: str = "",
    user_agent: str = "",
    tenant_id: str | None = None,
    method: str = "password",
) -> str:
    """Create a pending session and return the one-time code that completes it.

    This is where a sign-in is granted, so it is audited here (`method` says how).
    """
    membership = primary_membership(session, user.id)
    if tenant_id and tenant_id != membership.tenant_id:
        membership = (
            TenantScope(session, tenant_id)
            .session.exec(
                select(Membership).where(
                    Membership.user_id == user.id, Membership.tenant_id == tenant_id
                )
            )
            .first()
            or membership
        )
    code = security.new_token()
    now = utcnow()
    TenantScope(session, membership.tenant_id).add(
        AuthSession(
            tenant_id=membership.tenant_id,
            user_id=user.id,
            code_hash=security.keyed_hash(code, "login-code"),
            code_expires_at=now + LOGIN_CODE_TTL,
            expires_at=now + timedelta(days=get_settings().session_days),
            ip=ip[:64],
            user_agent=user_agent[:300],
        )
    )
    audit.record(
        session,
        membership.tenant_id,
        audit.Actor.user(user.id, user.email, ip, user_agent),
        "auth.sign_in",
        "user",
        user.id,
        after={"method": method},
    )
    return code


def complete_login(session: Session, code: str) -> tuple[str, AuthSession] | None:
    """Exchange a one-time code for a session token (the cookie value), once."""
    if not code or len(code) > 128:
        return None
    with cross_tenant(session, "login code lookup by hash"):
        row = session.exec(
            select(AuthSession).where(
                AuthSession.code_hash == security.keyed_hash(code, "login-code")
            )
        ).first()
    if row is None or row.revoked_at is not None:
        return None
    TenantScope(session, row.tenant_id)  # the rest of the unit is that workspace's
    row.code_hash = None  # single use, even when expired
    if row.code_expires_at is None or row.code_expires_at < utcnow():
        session.add(row)
        return None
    token = security.new_token()
    row.token_hash = security.keyed_hash(token, "session")
    row.code_expires_at = None
    row.last_seen_at = utcnow()
    session.add(row)
    return token, row


def identity_for_token(session: Session, token: str | None) -> Identity | None:
    """Resolve a session cookie to an identity; None when missing, expired or revoked."""
    if not token or len(token) > 128:
        return None
    row = _session_by_token(session, token)
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at < now:
        return None
    TenantScope(session, row.tenant_id)  # the rest of the unit is that workspace's
    user = session.get(User, row.user_id)
    tenant = session.get(Tenant, row.tenant_id)
    membership = session.exec(
        select(Membership).where(
            Membership.user_id == row.user_id, Membership.tenant_id == row.tenant_id
        )
    ).first()
    if user is None or tenant is None or membership is None:
        return None
    if row.last_seen_at is None or now - row.last_seen_at > SESSION_TOUCH_INTERVAL:
        row.last_seen_at = now
        session.add(row)
    return Identity(
        session_id=row.id,
        user_id=user.id,
        email=user.email,
        name=user.name,
        tenant_id=tenant.id,
        tenant_name=tenant.name,
        role=Role(membership.role),
        # Password accounts only: provider sign-ins get their second factor from the provider.
        two_factor_setup_required=(
            tenant.require_two_factor
            and user.totp_enabled_at is None
            and user.password_hash != security.NO_PASSWORD
        ),
    )


def _session_by_token(session: Session, token: str) -> AuthSession | None:
    with cross_tenant(session, "session cookie lookup by hash"):
        return session.exec(
            select(AuthSession).where(
                AuthSession.token_hash == security.keyed_hash(token, "session")
            )
        ).first()


def revoke_session(session: Session, session_id: str) -> None:
    row = session.get(AuthSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        row.token_hash = None
        session.add(row)


def revoke_token(session: Session, token: str | None) -> None:
    if not token or len(token) > 128:
        return
    row = _session_by_token(session, token)
    if row is not None:
        TenantScope(session, row.tenant_id)
        revoke_session(session, row.id)
