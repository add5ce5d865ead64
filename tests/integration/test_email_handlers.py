"""The email-related Reflex handlers, called directly as a crafted websocket event would
run them (identity from the patched session lookup, as in test_team_handlers)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import EmailOutbox, Invitation, Membership, Role, Tenant, User, utcnow
from app.services import accounts, password_reset
from app.services.accounts import Identity
from app.settings import reset_settings_cache
from app.state.members import MembersState
from app.state.password import ForgotPasswordState, ResetPasswordState
from app.state.verification import EmailStatusState

PASSWORD = "a-long-password"


@pytest.fixture
def mail_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:1")
    reset_settings_cache()


def _owner(engine: Engine) -> Identity:
    with session_scope(engine) as s:
        user, tenant = accounts.sign_up(s, "ann@acme.io", PASSWORD, "Acme")
        m = s.exec(select(Membership).where(Membership.user_id == user.id)).one()
        return Identity("sess", user.id, user.email, "", tenant.id, tenant.name, Role(m.role))


def _state(cls: type, ident: Identity | None, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    if ident is not None:
        monkeypatch.setattr(cls, "_identity", lambda self: ident)
    return cls()


def test_invite_handler_waits_for_a_verified_inviter(engine: Engine, mail_on, monkeypatch) -> None:
    ident = _owner(engine)
    members = _state(MembersState, ident, monkeypatch)
    members.load()
    assert members.mail_enabled and not members.may_invite
    members.invite({"email": "bo@acme.io"})
    assert "Confirm your email" in members.invite_error and members.link == ""
    with session_scope(engine) as s:
        assert s.exec(select(Invitation)).all() == []
        s.get(User, ident.user_id).email_verified_at = utcnow()
    members.load()
    assert members.may_invite
    members.invite({"email": "bo@acme.io"})
    assert members.link.startswith("http://127.0.0.1:3000/invite/")
    (view,) = members.invites
    assert view.delivery == "Sending to bo@acme.io…" and not view.delivery_failed


def test_email_card_shows_status_and_resend_is_throttled(
    engine: Engine, mail_on, monkeypatch
) -> None:
    ident = _owner(engine)
    card = _state(EmailStatusState, ident, monkeypatch)
    card.load()
    assert (card.email_enabled, card.email, card.verified) == (True, "ann@acme.io", False)
    assert card.delivery == "Sending to ann@acme.io…"
    for _ in range(3):
        card.resend()
        assert card.error == ""
    card.resend()
    assert "Try again in" in card.error
    with session_scope(engine) as s:
        assert len(s.exec(select(EmailOutbox)).all()) == 4  # sign-up + 3 resends


def test_email_card_without_smtp_says_mail_is_off(engine: Engine, monkeypatch) -> None:
    card = _state(EmailStatusState, _owner(engine), monkeypatch)
    card.load()
    assert not card.email_enabled and not card.verified and card.delivery == ""


def test_forgot_password_handler(engine: Engine, mail_on, monkeypatch) -> None:
    _owner(engine)
    forgot = _state(ForgotPasswordState, None, monkeypatch)
    forgot.load()
    assert forgot.email_enabled
    forgot.submit({"email": "nobody@acme.io"})
    assert forgot.sent and forgot.email_error == forgot.form_error == ""
    forgot.load()
    forgot.submit({"email": "not an email"})
    assert not forgot.sent and "valid email" in forgot.email_error
    monkeypatch.delenv("SMTP_URL")
    reset_settings_cache()
    forgot.load()
    assert not forgot.email_enabled


def test_reset_handler(engine: Engine, monkeypatch) -> None:
    ident = _owner(engine)
    with session_scope(engine) as s:
        token = password_reset.operator_reset_link(s, "ann@acme.io").rsplit("/", 1)[1]
    monkeypatch.setattr(ResetPasswordState, "_token", lambda self: token)
    reset = ResetPasswordState()
    reset.load()
    assert reset.status == "valid"
    reset.submit({"password": "another-long-password", "confirm": "different-password"})
    assert "not the same" in reset.confirm_error and reset.status == "valid"
    reset.submit({"password": "short", "confirm": "short"})
    assert "at least 10" in reset.password_error and reset.status == "valid"
    reset.submit({"password": "another-long-password", "confirm": "another-long-password"})
    assert reset.status == "done"
    reset.submit({"password": "third-long-password", "confirm": "third-long-password"})
    assert reset.status == "used"
    with session_scope(engine) as s:
        assert accounts.authenticate(s, "ann@acme.io", "another-long-password").id == ident.user_id
        assert s.get(Tenant, ident.tenant_id) is not None
