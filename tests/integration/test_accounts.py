"""Accounts on real SQLite and PostgreSQL (the `engine` fixture runs each case on both)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app import security
from app.db import session_scope
from app.models import AuthSession, Membership, Role, Tenant, User, utcnow
from app.services import accounts
from app.settings import Settings, get_settings


def _signup(engine: Engine, email: str = "owner@acme.io", workspace: str = "Acme") -> User:
    with session_scope(engine) as s:
        user, _ = accounts.sign_up(s, email, "a-long-password", workspace)
        return user


def _login(engine: Engine, email: str, password: str = "a-long-password") -> str:
    with session_scope(engine) as s:
        user = accounts.authenticate(s, email, password, ip="10.0.0.1")
        code = accounts.start_login(s, user, ip="10.0.0.1", user_agent="pytest")
    with session_scope(engine) as s:
        result = accounts.complete_login(s, code)
    assert result is not None
    return result[0]


def test_sign_up_creates_tenant_and_owner(engine: Engine) -> None:
    user = _signup(engine, "Owner@Acme.io ")
    with session_scope(engine) as s:
        stored = s.get(User, user.id)
        assert stored is not None and stored.email == "owner@acme.io"
        assert stored.password_hash.startswith("$argon2id$")
        membership = s.exec(select(Membership).where(Membership.user_id == user.id)).one()
        assert membership.role == Role.owner
        assert s.get(Tenant, membership.tenant_id).name == "Acme"


@pytest.mark.parametrize(
    ("email", "password", "workspace", "field", "message"),
    [
        ("not-an-email", "a-long-password", "W", "email", "valid email"),
        ("a@b.io", "short", "W", "password", "at least 10"),
        ("a@b.io", "a-long-password", "  ", "workspace", "name"),
    ],
)
def test_sign_up_validation(
    engine: Engine, email: str, password: str, workspace: str, field: str, message: str
) -> None:
    with pytest.raises(accounts.AccountError, match=message) as info, session_scope(engine) as s:
        accounts.sign_up(s, email, password, workspace)
    assert info.value.field == field
    with session_scope(engine) as s:
        assert s.exec(select(Tenant)).first() is None  # nothing half-created


def test_duplicate_email_is_refused(engine: Engine) -> None:
    _signup(engine)
    with (
        pytest.raises(accounts.AccountError, match="already exists") as info,
        session_scope(engine) as s,
    ):
        accounts.sign_up(s, "OWNER@acme.io", "another-long-pw", "Other")
    assert info.value.field == "email"


def test_login_session_and_logout(engine: Engine) -> None:
    _signup(engine)
    token = _login(engine, "owner@acme.io")
    with session_scope(engine) as s:
        ident = accounts.identity_for_token(s, token)
        assert ident is not None and ident.email == "owner@acme.io" and ident.role == Role.owner
        assert ident.tenant_name == "Acme"
        row = s.get(AuthSession, ident.session_id)
        assert row.token_hash != token and token not in (row.token_hash or "")
    with session_scope(engine) as s:
        accounts.revoke_token(s, token)
    with session_scope(engine) as s:
        assert accounts.identity_for_token(s, token) is None


def test_wrong_password_and_unknown_account_look_the_same(engine: Engine) -> None:
    _signup(engine)
    for email in ("owner@acme.io", "nobody@acme.io"):
        with (
            pytest.raises(accounts.AccountError, match="Wrong email or password"),
            session_scope(engine) as s,
        ):
            accounts.authenticate(s, email, "wrong-password!", ip="10.0.0.2")


def test_login_code_is_single_use_and_expires(engine: Engine) -> None:
    _signup(engine)
    with session_scope(engine) as s:
        user = accounts.authenticate(s, "owner@acme.io", "a-long-password")
        code = accounts.start_login(s, user)
        late = accounts.start_login(s, user)
    with session_scope(engine) as s:
        assert accounts.complete_login(s, code) is not None
    with session_scope(engine) as s:
        assert accounts.complete_login(s, code) is None  # replay
        row = s.exec(
            select(AuthSession).where(
                AuthSession.code_hash == security.keyed_hash(late, "login-code")
            )
        ).one()
        row.code_expires_at = utcnow() - timedelta(seconds=1)
        s.add(row)
    with session_scope(engine) as s:
        assert accounts.complete_login(s, late) is None
        assert accounts.complete_login(s, "") is None


def test_expired_session_is_refused(engine: Engine) -> None:
    _signup(engine)
    token = _login(engine, "owner@acme.io")
    with session_scope(engine) as s:
        row = s.exec(select(AuthSession).where(AuthSession.token_hash.is_not(None))).one()
        row.expires_at = utcnow() - timedelta(minutes=1)
        s.add(row)
    with session_scope(engine) as s:
        assert accounts.identity_for_token(s, token) is None


def test_password_rehashed_on_login_when_parameters_change(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signup(engine)
    stronger = Settings(argon2_time_cost=get_settings().argon2_time_cost + 1)
    monkeypatch.setattr("app.security.get_settings", lambda: stronger)
    _login(engine, "owner@acme.io")
    with session_scope(engine) as s:
        stored = s.exec(select(User)).one().password_hash
    assert f"t={stronger.argon2_time_cost}" in stored
    assert security.verify_password(stored, "a-long-password", stronger)


def test_repeated_failures_are_throttled_then_recover(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signup(engine)
    for _ in range(5):
        with pytest.raises(accounts.AccountError), session_scope(engine) as s:
            accounts.authenticate(s, "owner@acme.io", "wrong-password!", ip="10.9.9.9")
    # Even the right password waits now: backoff, not a permanent lockout.
    with pytest.raises(accounts.LoginThrottledError) as info, session_scope(engine) as s:
        accounts.authenticate(s, "owner@acme.io", "a-long-password", ip="10.9.9.9")
    assert info.value.retry_after >= 1
    import time as _time

    real = _time.time
    monkeypatch.setattr(_time, "time", lambda: real() + info.value.retry_after + 1)
    with session_scope(engine) as s:
        assert accounts.authenticate(s, "owner@acme.io", "a-long-password", ip="10.9.9.9")
