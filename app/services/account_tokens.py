"""Single-use tokens mailed to a person: password reset (30 minutes), email verification.

The token travels only in the link; the database keeps a keyed hash (HMAC under a
per-purpose key derived from SECRET_KEY), so a leaked database cannot be turned into
working links. A token works once and only before it expires.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app import security
from app.models import AccountToken, TokenPurpose, User, utcnow

TTL: dict[TokenPurpose, timedelta] = {
    TokenPurpose.password_reset: timedelta(minutes=30),
    TokenPurpose.verify_email: timedelta(hours=48),
}
MAX_TOKEN_LENGTH = 128


class TokenError(ValueError):
    """The link cannot be used; `status` says why (invalid | expired | used)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


def _hash(token: str, purpose: TokenPurpose) -> str:
    return security.keyed_hash(token, f"account-token:{purpose.value}")


def issue(
    session: Session, user: User, purpose: TokenPurpose, now: datetime | None = None
) -> tuple[str, AccountToken]:
    """A new token for `user` (returned once, for the link) and its stored row."""
    now = now or utcnow()
    token = security.new_token()
    row = AccountToken(
        user_id=user.id,
        purpose=purpose,
        token_hash=_hash(token, purpose),
        email=user.email,
        expires_at=now + TTL[purpose],
    )
    session.add(row)
    session.flush()
    return token, row


def _lookup(session: Session, token: str, purpose: TokenPurpose) -> AccountToken | None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return session.exec(
        select(AccountToken).where(
            AccountToken.token_hash == _hash(token, purpose), AccountToken.purpose == purpose
        )
    ).first()


def status(session: Session, token: str, purpose: TokenPurpose, now: datetime | None = None) -> str:
    """valid | expired | used | invalid, without using the token up."""
    row = _lookup(session, token, purpose)
    if row is None:
        return "invalid"
    if row.used_at is not None:
        return "used"
    if row.expires_at <= (now or utcnow()):
        return "expired"
    user = session.get(User, row.user_id)
    if user is None or user.email != row.email:  # the address changed since it was sent
        return "invalid"
    return "valid"


_MESSAGES = {
    "invalid": "This link is not valid. Check that you copied all of it.",
    "used": "This link was already used. Each link works once.",
    "expired": "This link has expired.",
}


def consume(
    session: Session, token: str, purpose: TokenPurpose, now: datetime | None = None
) -> tuple[AccountToken, User]:
    """Use the token up and return it with its user; TokenError when it cannot be used."""
    now = now or utcnow()
    state = status(session, token, purpose, now)
    if state != "valid":
        raise TokenError(state, _MESSAGES[state])
    row = _lookup(session, token, purpose)
    assert row is not None
    # Compare-and-set: of two concurrent uses of one link, exactly one wins.
    result = session.exec(  # type: ignore[call-overload]
        update(AccountToken)
        .where(col(AccountToken.id) == row.id, col(AccountToken.used_at).is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:
        raise TokenError("used", _MESSAGES["used"])
    session.refresh(row)
    user = session.get(User, row.user_id)
    assert user is not None
    return row, user


def use_up_all(
    session: Session, user_id: str, purpose: TokenPurpose, now: datetime | None = None
) -> int:
    """Mark every open token of this purpose used (after a reset, older links stop working)."""
    now = now or utcnow()
    rows = session.exec(
        select(AccountToken).where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            col(AccountToken.used_at).is_(None),
        )
    ).all()
    for row in rows:
        row.used_at = now
        session.add(row)
    return len(rows)
