"""TOTP two-factor codes: enrolment, login codes once per window, recovery codes once,
throttling, the workspace requirement, and audit events without secrets."""

from __future__ import annotations

import json
import time

import pyotp
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import AuditEvent, RecoveryCode, Role, User
from app.services import accounts, audit, two_factor
from app.services.permissions import PermissionDeniedError

PASSWORD = "a-long-password"


def _account(engine: Engine) -> tuple[str, str]:
    with session_scope(engine) as s:
        user, tenant = accounts.sign_up(s, "t@a.io", PASSWORD, "Acme")
        return user.id, tenant.id


def _enrol(engine: Engine, user_id: str, now: float) -> tuple[str, list[str]]:
    actor = audit.Actor.user(user_id, "t@a.io")
    with session_scope(engine) as s:
        enrolment = two_factor.begin_enrolment(s, s.get(User, user_id))
    secret = enrolment.secret
    assert enrolment.uri.startswith("otpauth://totp/ChatConnect:t%40a.io?secret=")
    assert enrolment.qr_data_url.startswith("data:image/svg+xml")
    with pytest.raises(two_factor.TwoFactorError), session_scope(engine) as s:
        two_factor.confirm_enrolment(s, s.get(User, user_id), "000000", actor, now=now)
    with session_scope(engine) as s:
        user = s.get(User, user_id)
        assert not two_factor.is_enabled(user)
        codes = two_factor.confirm_enrolment(s, user, pyotp.TOTP(secret).at(now), actor, now=now)
    return secret, codes


def _events(engine: Engine, action: str) -> list[AuditEvent]:
    with session_scope(engine) as s:
        return list(s.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def test_enrolment_codes_once_recovery_once_and_no_secret_stored_in_clear(
    engine: Engine,
) -> None:
    user_id, _tenant = _account(engine)
    now = time.time()
    secret, codes = _enrol(engine, user_id, now)
    assert len(codes) == 10 and len(set(codes)) == 10
    with session_scope(engine) as s:
        user = s.get(User, user_id)
        assert two_factor.is_enabled(user)
        assert secret not in (user.totp_secret_encrypted or "")
        stored = [r.code_hash for r in s.exec(select(RecoveryCode)).all()]
        assert len(stored) == 10 and not any(c.replace("-", "") in stored for c in codes)
    enabled = _events(engine, "two_factor.enabled")
    assert len(enabled) == 1 and secret not in json.dumps(enabled[0].diff)

    totp = pyotp.TOTP(secret)
    # The enrolment's own code is used up; the next step's code logs in, once.
    with pytest.raises(two_factor.TwoFactorError, match="already used"), session_scope(engine) as s:
        two_factor.check_code(s, s.get(User, user_id), totp.at(now), now=now)
    later = now + 30
    with session_scope(engine) as s:
        assert two_factor.check_code(s, s.get(User, user_id), totp.at(later), now=later) == "totp"
    with pytest.raises(two_factor.TwoFactorError, match="already used"), session_scope(engine) as s:
        two_factor.check_code(s, s.get(User, user_id), totp.at(later), now=later)
    # An older step stays refused after a newer one was used.
    with pytest.raises(two_factor.TwoFactorError), session_scope(engine) as s:
        two_factor.check_code(s, s.get(User, user_id), totp.at(now), now=later)
    failed = _events(engine, "auth.sign_in_failed")
    assert {e.diff["reason"]["after"] for e in failed} == {"reused_code"}

    # A recovery code works once (any case, with or without the dash).
    with session_scope(engine) as s:
        method = two_factor.check_code(s, s.get(User, user_id), codes[0].upper(), now=later)
        assert method == "recovery_code"
    with pytest.raises(two_factor.TwoFactorError, match="not right"), session_scope(engine) as s:
        two_factor.check_code(s, s.get(User, user_id), codes[0], now=later)
    with session_scope(engine) as s:
        assert two_factor.recovery_codes_left(s, user_id) == 9
    used = _events(engine, "two_factor.recovery_code_used")
    assert len(used) == 1 and used[0].diff == {"codes_left": {"before": None, "after": 9}}


def test_wrong_codes_are_throttled_like_passwords(engine: Engine) -> None:
    user_id, _ = _account(engine)
    now = time.time()
    _enrol(engine, user_id, now)
    throttled = False
    for _ in range(8):
        try:
            with session_scope(engine) as s:
                two_factor.check_code(s, s.get(User, user_id), "999999", "10.0.0.7", now=now)
        except accounts.LoginThrottledError:
            throttled = True
            break
        except two_factor.TwoFactorError:
            continue
    assert throttled
    # The password step of the same account is throttled too (shared counters).
    with pytest.raises(accounts.LoginThrottledError), session_scope(engine) as s:
        accounts.authenticate(s, "t@a.io", PASSWORD, "10.0.0.7")


def test_workspace_requirement_gates_the_session_and_blocks_turning_off(engine: Engine) -> None:
    user_id, tenant_id = _account(engine)
    actor = audit.Actor.user(user_id, "t@a.io")
    with session_scope(engine) as s:
        with pytest.raises(PermissionDeniedError):
            two_factor.set_workspace_requirement(s, tenant_id, Role.member, True, actor)
        two_factor.set_workspace_requirement(s, tenant_id, Role.owner, True, actor)
        code = accounts.start_login(s, s.get(User, user_id))
        token, _row = accounts.complete_login(s, code)
        assert accounts.identity_for_token(s, token).two_factor_setup_required
    assert len(_events(engine, "workspace.two_factor_required")) == 1
    _enrol(engine, user_id, time.time())
    with session_scope(engine) as s:
        assert not accounts.identity_for_token(s, token).two_factor_setup_required
        with pytest.raises(two_factor.TwoFactorError, match="requires"):
            two_factor.disable(s, s.get(User, user_id), PASSWORD, actor)
        two_factor.set_workspace_requirement(s, tenant_id, Role.owner, False, actor)
    with pytest.raises(two_factor.TwoFactorError, match="password"), session_scope(engine) as s:
        two_factor.disable(s, s.get(User, user_id), "wrong-password", actor)
    with session_scope(engine) as s:
        two_factor.disable(s, s.get(User, user_id), PASSWORD, actor)
    with session_scope(engine) as s:
        user = s.get(User, user_id)
        assert not two_factor.is_enabled(user) and user.totp_secret_encrypted is None
        assert two_factor.recovery_codes_left(s, user_id) == 0
    assert len(_events(engine, "two_factor.disabled")) == 1
