"""Two-factor codes (TOTP, RFC 6238) for password accounts, and one-time recovery codes.

- The seed is Fernet-encrypted like provider keys; it never leaves the server except once,
  inside the QR code (an inline SVG data URL drawn here by segno) and its text form.
- Enrolment is confirmed by a first code; only then is two-factor on and ten recovery codes
  are shown once (stored as keyed hashes, each works once).
- A code is accepted in its 30-second step and the neighbouring ones (clock drift), and a
  step is accepted at most once: `totp_last_step` refuses a replayed code.
- Wrong codes count against the same throttle as wrong passwords (per account and IP).
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
import segno
from sqlmodel import Session, col, select, update

from app import security
from app.models import RecoveryCode, Role, Tenant, User, utcnow
from app.services import audit
from app.services.permissions import Action, require
from app.services.throttle import get_login_throttle

ISSUER = "ChatConnect"
STEP_S = 30
DRIFT_STEPS = 1
RECOVERY_CODE_COUNT = 10
_HASH_PURPOSE = "recovery-code"
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


class TwoFactorError(ValueError):
    status_code = 422

    def __init__(self, message: str, field: str | None = "code") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str  # base32, for typing into an app by hand
    uri: str  # otpauth:// URI
    qr_data_url: str  # data:image/svg+xml,... of the URI


def is_enabled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret_encrypted)


def _secret(user: User) -> str:
    if not user.totp_secret_encrypted:
        raise TwoFactorError("Two-factor codes are not set up for this account.")
    return security.decrypt_secret(user.totp_secret_encrypted)


def _qr(uri: str) -> str:
    # Dark modules on white whatever the page theme: phone cameras need the contrast.
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2, light="#ffffff")


def begin_enrolment(session: Session, user: User) -> Enrolment:
    """A fresh seed, stored encrypted but not enabled until a code confirms it."""
    if is_enabled(user):
        raise TwoFactorError("Two-factor codes are already on.", None)
    secret = pyotp.random_base32()
    user.totp_secret_encrypted = security.encrypt_secret(secret)
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.add(user)
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret=secret, uri=uri, qr_data_url=_qr(uri))


def _match_step(secret: str, code: str, now: float) -> int | None:
    """The time step whose code `code` is (within the drift window), else None."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    current = int(now // STEP_S)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Compare all candidates (no early exit) so timing says nothing about which matched.
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            found = step
    return found


def _use_step(session: Session, user: User, step: int) -> bool:
    """Record `step` as used, once: a replay (same or older step) is refused, also when
    two requests race (conditional update)."""
    last = user.totp_last_step
    if last is not None and step <= last:
        return False
    condition = (
        col(User.totp_last_step).is_(None) if last is None else col(User.totp_last_step) == last
    )
    result = session.exec(  # type: ignore[call-overload]
        update(User).where(col(User.id) == user.id, condition).values(totp_last_step=step)
    )
    if result.rowcount != 1:
        return False
    user.totp_last_step = step
    return True


def _new_recovery_codes(session: Session, user: User) -> list[str]:
    for row in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(row)
    session.flush()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        session.add(
            RecoveryCode(user_id=user.id, code_hash=security.keyed_hash(raw, _HASH_PURPOSE))
        )
        codes.append(code)
    return codes


def confirm_enrolment(
    session: Session, user: User, code: str, actor: audit.Actor, now: float | None = None
) -> list[str]:
    """Turn two-factor on with a first valid code; returns the recovery codes (shown once)."""
    if is_enabled(user):
        raise TwoFactorError("Two-factor codes are already on.", None)
    step = _match_step(_secret(user), code, time.time() if now is None else now)
    if step is None or not _use_step(session, user, step):
        raise TwoFactorError("That code is not right. Enter the 6 digits your app shows now.")
    user.totp_enabled_at = utcnow()
    session.add(user)
    codes = _new_recovery_codes(session, user)
    audit.record(
        session,
        _tenant_of(session, user),
        actor,
        "two_factor.enabled",
        "user",
        user.id,
        before={"two_factor": False},
        after={"two_factor": True, "codes_issued": RECOVERY_CODE_COUNT},
    )
    return codes


def _use_recovery_code(session: Session, user: User, code: str) -> bool:
    raw = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    if len(raw) != 10:
        return False
    digest = security.keyed_hash(raw, _HASH_PURPOSE)
    result = session.exec(  # type: ignore[call-overload]
        update(RecoveryCode)
        .where(
            col(RecoveryCode.user_id) == user.id,
            col(RecoveryCode.code_hash) == digest,
            col(RecoveryCode.used_at).is_(None),
        )
        .values(used_at=utcnow())
    )
    return result.rowcount == 1


def check_code(
    session: Session,
    user: User,
    code: str,
    ip: str = "",
    user_agent: str = "",
    now: float | None = None,
) -> str:
    """The login's second step: 'totp' or 'recovery_code' when `code` is good.

    Throttled with the password's counters; a wrong code counts as a failed login.
    Raises TwoFactorError (wrong, reused) or accounts.LoginThrottledError.
    """
    from app.services.accounts import LoginThrottledError  # accounts imports this module

    throttle = get_login_throttle()
    wait = throttle.retry_after(user.email, ip)
    if wait > 0:
        raise LoginThrottledError(wait)
    step = _match_step(_secret(user), code, time.time() if now is None else now)
    if step is not None and _use_step(session, user, step):
        method = "totp"
    elif step is None and _use_recovery_code(session, user, code):
        method = "recovery_code"
    else:
        throttle.failed(user.email, ip)
        reused = step is not None
        audit.record_regardless(
            session,
            _tenant_of(session, user),
            audit.Actor.user(user.id, user.email, ip, user_agent),
            "auth.sign_in_failed",
            "user",
            user.id,
            after={"method": "two_factor", "reason": "reused_code" if reused else "wrong_code"},
        )
        raise TwoFactorError(
            "That code was already used. Wait for the next one."
            if reused
            else "That code is not right. Enter the 6 digits your app shows, or a recovery code."
        )
    throttle.succeeded(user.email)
    if method == "recovery_code":
        audit.record(
            session,
            _tenant_of(session, user),
            audit.Actor.user(user.id, user.email, ip, user_agent),
            "two_factor.recovery_code_used",
            "user",
            user.id,
            after={"codes_left": recovery_codes_left(session, user.id)},
        )
    return method


def recovery_codes_left(session: Session, user_id: str) -> int:
    rows = session.exec(
        select(RecoveryCode).where(
            RecoveryCode.user_id == user_id, col(RecoveryCode.used_at).is_(None)
        )
    ).all()
    return len(rows)


def disable(session: Session, user: User, password: str, actor: audit.Actor) -> None:
    """Turn two-factor off (the password is required); refused when a workspace needs it."""
    if not security.verify_password(user.password_hash, password or ""):
        raise TwoFactorError("The password is not correct.", "password")
    if workspace_requires(session, user.id):
        raise TwoFactorError("A workspace you belong to requires two-factor codes.", None)
    was_on = is_enabled(user)
    user.totp_secret_encrypted = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    session.add(user)
    for row in session.exec(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all():
        session.delete(row)
    if was_on:
        audit.record(
            session,
            _tenant_of(session, user),
            actor,
            "two_factor.disabled",
            "user",
            user.id,
            before={"two_factor": True},
            after={"two_factor": False},
        )


def workspace_requires(session: Session, user_id: str) -> bool:
    from app.db import cross_tenant
    from app.models import Membership

    with cross_tenant(session, "does any of a user's workspaces require 2FA"):
        return (
            session.exec(
                select(Tenant.id)
                .join(Membership, col(Membership.tenant_id) == col(Tenant.id))
                .where(Membership.user_id == user_id, col(Tenant.require_two_factor).is_(True))
            ).first()
            is not None
        )


def set_workspace_requirement(
    session: Session, tenant_id: str, actor_role: Role | str, required: bool, actor: audit.Actor
) -> Tenant:
    require(actor_role, Action.manage_members)
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise TwoFactorError("This workspace no longer exists.", None)
    if tenant.require_two_factor != required:
        audit.record(
            session,
            tenant_id,
            actor,
            "workspace.two_factor_required" if required else "workspace.two_factor_optional",
            "workspace",
            tenant_id,
            before={"require_two_factor": tenant.require_two_factor},
            after={"require_two_factor": required},
        )
        tenant.require_two_factor = required
        session.add(tenant)
    return tenant


def _tenant_of(session: Session, user: User) -> str | None:
    from app.services.accounts import find_primary_membership

    membership = find_primary_membership(session, user.id)
    return membership.tenant_id if membership else None
