"""Forgot password: a single-use, 30-minute link by email; every session ends on reset.

`request_reset` answers the same way whether or not an account has the address: it
returns nothing, raises only for malformed input or throttling (which do not depend on
the account), and does the same work either way, queuing a body-less outbox row. The
mail worker looks the address up, issues the token and composes the email (`compose`),
or drops the row when no account has the address, away from the request's timing.
Without SMTP_URL the page says mail is off, and an operator can print a link with
`python -m app.manage reset-link EMAIL`.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app import routes, security
from app.db import cross_tenant
from app.models import AuthSession, EmailOutbox, TokenPurpose, User, utcnow
from app.services import account_tokens, accounts, audit
from app.services.mail import messages, outbox
from app.services.throttle import get_login_throttle, get_mail_throttle
from app.settings import get_settings

PURPOSE = TokenPurpose.password_reset
TTL = account_tokens.TTL[PURPOSE]
RESET_MINUTES = int(TTL.total_seconds() // 60)


class ResetThrottledError(accounts.AccountError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many requests. Try again in {retry_after} seconds.")
        self.retry_after = retry_after


def reset_link(token: str) -> str:
    return f"{get_settings().public_url}{routes.RESET_PASSWORD}/{token}"


def _find_user(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email)).first()


def request_reset(session: Session, email: str, ip: str = "", now: datetime | None = None) -> None:
    """Queue a reset email when an account has this address; the same outcome otherwise."""
    clean = accounts.normalize_email(email)  # a malformed address says so (not an oracle)
    throttle = get_mail_throttle()
    wait = throttle.retry_after(clean, ip)  # raises when Redis is configured but down
    if wait > 0:
        raise ResetThrottledError(wait)
    throttle.record(clean, ip)
    if get_settings().email_enabled:
        outbox.enqueue_request(
            session, kind=PURPOSE.value, to=clean, discard_after=(now or utcnow()) + TTL
        )


def compose(session: Session, row: EmailOutbox) -> outbox.Composed | None:
    """In the mail worker: the reset email for the row's address, or None (no account)."""
    user = _find_user(session, row.to_address)
    if user is None:
        return None
    token, token_row = account_tokens.issue(session, user, PURPOSE)
    return outbox.Composed(
        mail=messages.password_reset(user.email, reset_link(token), RESET_MINUTES),
        user_id=user.id,
        discard_after=token_row.expires_at,
    )


def operator_reset_link(session: Session, email: str) -> str:
    """For `python -m app.manage reset-link`: the operator hands the link over themselves."""
    user = _find_user(session, accounts.normalize_email(email))
    if user is None:
        raise accounts.AccountError("No account has this email address.", "email")
    token, _row = account_tokens.issue(session, user, PURPOSE)
    return reset_link(token)


def token_status(session: Session, token: str) -> str:
    return account_tokens.status(session, token, PURPOSE)


def reset_password(
    session: Session,
    token: str,
    new_password: str,
    now: datetime | None = None,
    *,
    ip: str = "",
    user_agent: str = "",
) -> User:
    """Set the new password, use the link up, and sign the account out everywhere."""
    now = now or utcnow()
    accounts.validate_password(new_password)  # before using the link up: a typo keeps it
    _row, user = account_tokens.consume(session, token, PURPOSE, now)
    user.password_hash = security.hash_password(new_password)
    session.add(user)
    account_tokens.use_up_all(session, user.id, PURPOSE, now)  # older links stop working
    revoked = revoke_all_sessions(session, user.id, now)
    membership = accounts.find_primary_membership(session, user.id)
    audit.record(
        session,
        membership.tenant_id if membership else None,
        audit.Actor.user(user.id, user.email, ip, user_agent),
        "account.password_reset",
        "user",
        user.id,
        before={"password": "old"},
        after={"password": "new", "sessions_revoked": revoked},
    )
    # The login backoff was for whoever guessed; the owner has just proved the address.
    get_login_throttle().succeeded(user.email)
    session.flush()
    return user


def revoke_all_sessions(session: Session, user_id: str, now: datetime | None = None) -> int:
    now = now or utcnow()
    # Cross-tenant: a user's sessions in every workspace they belong to.
    with cross_tenant(session, "revoke a user's sessions in every workspace"):
        rows = session.exec(
            select(AuthSession).where(
                AuthSession.user_id == user_id, col(AuthSession.revoked_at).is_(None)
            )
        ).all()
        for row in rows:
            row.revoked_at = now
            row.token_hash = None
            row.code_hash = None
            session.add(row)
        session.flush()
    return len(rows)
