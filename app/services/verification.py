"""Email verification: after sign-up (and on request) a 48-hour, single-use link.

What an unverified account may do: everything inside its own workspaces, except invite
people, while email is on (SMTP_URL set). An invitation makes this server email a third
party and adds someone to the workspace, so it waits until the inviter has proved their
own address. Without SMTP_URL nothing can be verified and nothing is restricted.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from app import routes
from app.models import TokenPurpose, User, utcnow
from app.services import account_tokens
from app.services.mail import messages, outbox
from app.services.throttle import get_mail_throttle
from app.settings import get_settings

PURPOSE = TokenPurpose.verify_email
VERIFY_HOURS = int(account_tokens.TTL[PURPOSE].total_seconds() // 3600)


class VerificationError(ValueError):
    """A user-facing problem with verifying an address."""


def verify_link(token: str) -> str:
    return f"{get_settings().public_url}{routes.VERIFY_EMAIL}/{token}"


def is_verified(user: User) -> bool:
    return user.email_verified_at is not None


def may_invite(user: User | None) -> bool:
    return not get_settings().email_enabled or (user is not None and is_verified(user))


def send_verification(session: Session, user: User, now: datetime | None = None) -> bool:
    """Queue a verification email; False when mail is off or the address is verified."""
    if is_verified(user) or not get_settings().email_enabled:
        return False
    token, row = account_tokens.issue(session, user, PURPOSE, now)
    outbox.enqueue(
        session,
        messages.verify_email(user.email, verify_link(token), VERIFY_HOURS),
        kind=PURPOSE.value,
        user_id=user.id,
        discard_after=row.expires_at,
    )
    return True


def resend(session: Session, user_id: str, ip: str = "") -> bool:
    """The Account tab's button: throttled like the reset form."""
    user = session.get(User, user_id)
    if user is None:
        raise VerificationError("This account no longer exists.")
    if is_verified(user):
        return False
    throttle = get_mail_throttle()
    wait = throttle.retry_after(f"verify:{user.id}", ip)
    if wait > 0:
        raise VerificationError(f"A link was sent moments ago. Try again in {wait} seconds.")
    throttle.record(f"verify:{user.id}", ip)
    return send_verification(session, user)


def verify(session: Session, token: str, now: datetime | None = None) -> User:
    """Mark the address verified; TokenError when the link cannot be used."""
    now = now or utcnow()
    _row, user = account_tokens.consume(session, token, PURPOSE, now)
    if user.email_verified_at is None:
        user.email_verified_at = now
        session.add(user)
    session.flush()
    return user


def last_delivery(session: Session, user_id: str) -> outbox.DeliveryStatus | None:
    row = outbox.latest_for_user(session, user_id, PURPOSE.value)
    return outbox.describe(row) if row is not None else None
