"""Password reset, email verification, invitation emails and the outbox, on SQLite and
PostgreSQL. Delivery here goes to an in-memory transport; tests/integration/test_smtp.py
delivers through a real SMTP server."""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select

from app import security
from app.db import session_scope
from app.models import (
    AccountToken,
    AuthSession,
    EmailOutbox,
    Invitation,
    MailStatus,
    Role,
    User,
    utcnow,
)
from app.services import account_tokens, accounts, password_reset, team, verification, workspace
from app.services.mail import outbox
from app.services.mail.transport import DeliveryError
from app.settings import reset_settings_cache

PASSWORD = "a-long-password"
NEW_PASSWORD = "another-long-password"


class MemoryTransport:
    """Records messages; raises the queued errors first (one per send)."""

    def __init__(self, *errors: DeliveryError) -> None:
        self.sent: list[EmailMessage] = []
        self.errors = list(errors)

    def send(self, message: EmailMessage) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(message)


@pytest.fixture
def mail_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:1")
    monkeypatch.setenv("PUBLIC_URL", "https://chat.example.com")
    reset_settings_cache()


def _deliverer(engine: Engine, transport: MemoryTransport, worker: str = "w1") -> outbox.Deliverer:
    return outbox.Deliverer(engine, transport, "ChatConnect <no-reply@chat.example.com>", worker)


def _sign_up(engine: Engine, email: str = "ann@acme.io") -> tuple[str, str]:
    with session_scope(engine) as s:
        user, tenant = accounts.sign_up(s, email, PASSWORD, "Acme")
        return user.id, tenant.id


def _login(engine: Engine, email: str, password: str) -> str:
    """A completed session; returns its cookie token."""
    with session_scope(engine) as s:
        user = accounts.authenticate(s, email, password)
        code = accounts.start_login(s, user)
    with session_scope(engine) as s:
        result = accounts.complete_login(s, code)
        assert result is not None
        return result[0]


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def _token(message: EmailMessage, path: str) -> str:
    match = re.search(rf"https://chat\.example\.com{path}/([A-Za-z0-9_-]+)", _body(message))
    assert match, _body(message)
    return match.group(1)


def _all_text(engine: Engine, table: str) -> str:
    with engine.connect() as conn:
        return json.dumps([list(map(str, r)) for r in conn.execute(text(f"SELECT * FROM {table}"))])


# ---- password reset -------------------------------------------------------------------


def test_reset_answers_the_same_and_mails_only_real_accounts(engine: Engine, mail_on) -> None:
    _sign_up(engine)
    with session_scope(engine) as s:
        assert password_reset.request_reset(s, "ANN@acme.io ", "10.0.0.1") is None
        assert password_reset.request_reset(s, "nobody@acme.io", "10.0.0.1") is None
    with session_scope(engine) as s:
        # The request does the same work for both: one body-less row, no token yet.
        rows = s.exec(select(EmailOutbox).where(EmailOutbox.kind == "password_reset")).all()
        assert sorted(r.to_address for r in rows) == ["ann@acme.io", "nobody@acme.io"]
        assert all(r.body_encrypted is None and r.user_id is None for r in rows)
        tokens = s.exec(select(AccountToken).where(AccountToken.purpose == "password_reset"))
        assert tokens.all() == []
    transport = MemoryTransport()
    assert _deliverer(engine, transport).drain() == 3  # verification + two reset requests
    assert sorted(m["Subject"] for m in transport.sent) == [
        "Confirm your email address",
        "Reset your ChatConnect password",
    ]
    reset_mail = next(m for m in transport.sent if "Reset" in m["Subject"])
    token = _token(reset_mail, "/reset-password")
    with session_scope(engine) as s:
        rows = s.exec(select(EmailOutbox).where(EmailOutbox.kind == "password_reset")).all()
        by_status = {r.status: r for r in rows}
        assert set(by_status) == {MailStatus.sent, MailStatus.dropped}
        assert by_status[MailStatus.dropped].to_address == ""  # no non-account address kept
        assert by_status[MailStatus.sent].user_id is not None
        assert password_reset.token_status(s, token) == "valid"
    # Neither the token nor the link is stored anywhere in clear text.
    for table in ("account_token", "email_outbox"):
        assert token not in _all_text(engine, table)
    with session_scope(engine) as s:
        assert all(r.body_encrypted is None for r in s.exec(select(EmailOutbox)).all())


def test_malformed_address_is_refused_without_saying_whether_it_exists(engine, mail_on) -> None:
    with session_scope(engine) as s, pytest.raises(accounts.AccountError, match="valid email"):
        password_reset.request_reset(s, "not-an-email", "10.0.0.2")


def test_reset_is_throttled_for_known_and_unknown_addresses_alike(engine, mail_on) -> None:
    _sign_up(engine)
    for email in ("ann@acme.io", "ghost@acme.io"):
        with session_scope(engine) as s:
            for _ in range(3):
                password_reset.request_reset(s, email, f"10.1.{len(email)}.1")
        with session_scope(engine) as s, pytest.raises(password_reset.ResetThrottledError):
            password_reset.request_reset(s, email, "10.9.9.9")
    with session_scope(engine) as s:
        # Only the requests that were let through were queued: 3 per address.
        rows = s.exec(select(EmailOutbox).where(EmailOutbox.kind == "password_reset")).all()
        assert len(rows) == 6


def test_reset_sets_password_revokes_every_session_and_works_once(engine, mail_on) -> None:
    user_id, _ = _sign_up(engine)
    cookies = [_login(engine, "ann@acme.io", PASSWORD) for _ in range(2)]
    with session_scope(engine) as s:
        password_reset.request_reset(s, "ann@acme.io", "10.0.0.3")
        password_reset.request_reset(s, "ann@acme.io", "10.0.0.3")
    transport = MemoryTransport()
    _deliverer(engine, transport).drain()
    first, second = [
        _token(m, "/reset-password") for m in transport.sent if "Reset" in m["Subject"]
    ]
    with session_scope(engine) as s:
        assert password_reset.token_status(s, second) == "valid"
        with pytest.raises(accounts.AccountError, match="at least 10"):
            password_reset.reset_password(s, second, "short")
    with session_scope(engine) as s:
        assert password_reset.token_status(s, second) == "valid"  # a typo keeps the link
        password_reset.reset_password(s, second, NEW_PASSWORD)
    with session_scope(engine) as s:
        for cookie in cookies:
            assert accounts.identity_for_token(s, cookie) is None
        assert all(
            r.revoked_at is not None
            for r in s.exec(select(AuthSession).where(AuthSession.user_id == user_id)).all()
        )
        assert password_reset.token_status(s, second) == "used"
        assert password_reset.token_status(s, first) == "used"  # older links stop working too
        with pytest.raises(account_tokens.TokenError) as info:
            password_reset.reset_password(s, second, "yet-another-password")
        assert info.value.status == "used"
    with session_scope(engine) as s, pytest.raises(accounts.AccountError):
        accounts.authenticate(s, "ann@acme.io", PASSWORD)
    assert _login(engine, "ann@acme.io", NEW_PASSWORD)


def test_reset_link_expires_after_30_minutes(engine, mail_on) -> None:
    _sign_up(engine)
    start = utcnow()
    with session_scope(engine) as s:
        user = s.exec(select(User)).one()
        token, row = account_tokens.issue(s, user, password_reset.PURPOSE, start)
        assert row.expires_at == start + timedelta(minutes=30)
        assert row.token_hash != token and token not in row.token_hash
    with session_scope(engine) as s:
        late = start + timedelta(minutes=30, seconds=1)
        assert account_tokens.status(s, token, password_reset.PURPOSE, late) == "expired"
        with pytest.raises(account_tokens.TokenError, match="expired"):
            password_reset.reset_password(s, token, NEW_PASSWORD, now=late)
        assert password_reset.token_status(s, "x" * 43) == "invalid"
        assert password_reset.token_status(s, "") == "invalid"
        # A verification token is not a reset token (per-purpose keys).
        vtoken, _ = account_tokens.issue(s, user, verification.PURPOSE, start)
        assert password_reset.token_status(s, vtoken) == "invalid"


def test_operator_reset_link_works_without_smtp(engine) -> None:
    _sign_up(engine)
    with session_scope(engine) as s:
        link = password_reset.operator_reset_link(s, "ann@acme.io")
        with pytest.raises(accounts.AccountError, match="No account"):
            password_reset.operator_reset_link(s, "ghost@acme.io")
    assert link.startswith("http://127.0.0.1:3000/reset-password/")
    with session_scope(engine) as s:
        password_reset.reset_password(s, link.rsplit("/", 1)[1], NEW_PASSWORD)
        assert s.exec(select(EmailOutbox)).all() == []  # mail is off: nothing queued


# ---- verification ---------------------------------------------------------------------


def test_sign_up_mails_a_verification_link_that_verifies_once(engine, mail_on) -> None:
    user_id, _ = _sign_up(engine)
    transport = MemoryTransport()
    assert _deliverer(engine, transport).drain() == 1
    token = _token(transport.sent[0], "/verify-email")
    with session_scope(engine) as s:
        assert not verification.is_verified(s.get(User, user_id))
        assert verification.verify(s, token).id == user_id
    with session_scope(engine) as s:
        assert verification.is_verified(s.get(User, user_id))
        with pytest.raises(account_tokens.TokenError) as info:
            verification.verify(s, token)
        assert info.value.status == "used"
        assert verification.resend(s, user_id) is False  # nothing to do once verified


def test_verification_link_stops_working_when_the_address_changes(engine, mail_on) -> None:
    user_id, _ = _sign_up(engine)
    transport = MemoryTransport()
    _deliverer(engine, transport).drain()
    token = _token(transport.sent[0], "/verify-email")
    with session_scope(engine) as s:
        user = s.get(User, user_id)
        user.email = "ann.new@acme.io"
        s.add(user)
    with session_scope(engine) as s, pytest.raises(account_tokens.TokenError):
        verification.verify(s, token)


def test_without_smtp_nothing_is_mailed_and_nothing_restricted(engine) -> None:
    user_id, tenant_id = _sign_up(engine)
    with session_scope(engine) as s:
        created = team.create_invitation(
            s, tenant_id, Role.owner, "member", "bo@acme.io", created_by=user_id
        )
        assert not created.emailed
        password_reset.request_reset(s, "ann@acme.io", "10.0.0.4")
        assert s.exec(select(EmailOutbox)).all() == []
        assert s.exec(select(AccountToken)).all() == []


def test_unverified_inviter_cannot_invite_while_mail_is_on(engine, mail_on) -> None:
    user_id, tenant_id = _sign_up(engine)
    with session_scope(engine) as s, pytest.raises(team.TeamError, match="Confirm your email"):
        team.create_invitation(s, tenant_id, Role.owner, "member", "bo@acme.io", created_by=user_id)
    with session_scope(engine) as s, pytest.raises(team.TeamError, match="Confirm your email"):
        team.create_invitation(s, tenant_id, Role.owner, "member")  # no inviter: no exception
    with session_scope(engine) as s:
        user = s.get(User, user_id)
        user.email_verified_at = utcnow()
        s.add(user)
    with session_scope(engine) as s:
        created = team.create_invitation(
            s, tenant_id, Role.owner, "admin", "Bo@Acme.io", created_by=user_id
        )
        assert created.emailed
        link_only = team.create_invitation(s, tenant_id, Role.owner, "member", created_by=user_id)
        assert not link_only.emailed
        inv_id, token = created.invitation.id, created.token
    transport = MemoryTransport()
    _deliverer(engine, transport).drain()
    invite_mail = next(m for m in transport.sent if m["To"] == "bo@acme.io")
    assert "Acme" in invite_mail["Subject"] and "ann@acme.io" in _body(invite_mail)
    assert _token(invite_mail, "/invite") == token
    with session_scope(engine) as s:
        status = team.invitation_deliveries(s, tenant_id, [inv_id])[inv_id]
        assert status.state == "sent" and "bo@acme.io" in status.message
        # Another workspace cannot read this invitation's delivery.
        _, other = accounts.sign_up(s, "eve@evil.io", PASSWORD, "Evil")
        assert team.invitation_deliveries(s, other.id, [inv_id]) == {}
    # Revoking the invitation drops its email rows (foreign key cascade).
    with session_scope(engine) as s:
        team.revoke_invitation(s, tenant_id, Role.owner, inv_id)
    with session_scope(engine) as s:
        assert s.exec(select(EmailOutbox).where(EmailOutbox.invitation_id == inv_id)).all() == []
        assert s.get(Invitation, inv_id) is None


def test_invited_sign_up_gets_a_verification_email(engine, mail_on) -> None:
    user_id, tenant_id = _sign_up(engine)
    with session_scope(engine) as s:
        s.get(User, user_id).email_verified_at = utcnow()
    with session_scope(engine) as s:
        token = team.create_invitation(s, tenant_id, Role.owner, "member", created_by=user_id).token
        team.sign_up_invited(s, token, "new@acme.io", PASSWORD)
    with session_scope(engine) as s:
        kinds = [
            r.kind
            for r in s.exec(select(EmailOutbox).where(EmailOutbox.to_address == "new@acme.io"))
        ]
        assert kinds == ["verify_email"]


def test_deleting_the_workspace_drops_the_accounts_tokens_and_mail(engine, mail_on) -> None:
    _, tenant_id = _sign_up(engine)
    with session_scope(engine) as s:
        password_reset.request_reset(s, "ann@acme.io", "10.0.0.5")
    _deliverer(engine, MemoryTransport(DeliveryError("down"), DeliveryError("down"))).drain()
    with session_scope(engine) as s:
        assert len(s.exec(select(AccountToken)).all()) == 2  # verification + reset, pending
        workspace.delete_workspace(s, tenant_id, Role.owner, "Acme")
    with session_scope(engine) as s:
        assert s.exec(select(AccountToken)).all() == []
        assert s.exec(select(EmailOutbox)).all() == []


# ---- the outbox -----------------------------------------------------------------------


def test_a_row_is_claimed_by_exactly_one_worker(engine, mail_on) -> None:
    _sign_up(engine)
    a, b = _deliverer(engine, MemoryTransport(), "a"), _deliverer(engine, MemoryTransport(), "b")
    first = a.claim()
    assert first is not None and b.claim() is None
    with session_scope(engine) as s:
        row = s.get(EmailOutbox, first)
        assert row.status == MailStatus.sending and row.claimed_by == "a" and row.attempts == 1
    # A sender that died mid-send: its row is claimable again once stale.
    later = utcnow() + timedelta(seconds=b.config.stale_after_s + 1)
    assert b.claim(now=later) == first
    b.deliver(first)
    a.deliver(first)  # the old claimant finds it is no longer theirs: nothing happens
    assert len(b.transport.sent) == 1 and a.transport.sent == []


def test_transient_failures_retry_with_backoff_then_deliver(engine, mail_on) -> None:
    _sign_up(engine)
    down = DeliveryError("mail server unreachable at 127.0.0.1:1 (connection refused)")
    transport = MemoryTransport(down, down)
    deliverer = _deliverer(engine, transport)
    assert deliverer.run_once()
    with session_scope(engine) as s:
        row = s.exec(select(EmailOutbox)).one()
        assert row.status == MailStatus.queued and row.attempts == 1
        assert row.last_error == str(down) and row.body_encrypted is not None
        wait = (row.next_attempt_at - utcnow()).total_seconds()
        assert 25 < wait <= 30
        status = outbox.describe(row)
        assert status.state == "retrying" and "connection refused" in status.message
    assert not deliverer.run_once()  # not due yet
    assert deliverer.run_once(now=utcnow() + timedelta(seconds=31))
    with session_scope(engine) as s:
        row = s.exec(select(EmailOutbox)).one()
        assert row.attempts == 2
        assert 55 < (row.next_attempt_at - utcnow()).total_seconds() <= 60
    assert deliverer.run_once(now=utcnow() + timedelta(seconds=61))
    with session_scope(engine) as s:
        row = s.exec(select(EmailOutbox)).one()
        assert row.status == MailStatus.sent and row.attempts == 3 and row.last_error is None
        assert row.body_encrypted is None and row.sent_at is not None
    assert len(transport.sent) == 1


def test_permanent_refusals_and_exhausted_retries_fail_clearly(engine, mail_on) -> None:
    _sign_up(engine)
    refused = DeliveryError(
        "the mail server refused the recipient (550 no such user)", permanent=True
    )
    deliverer = _deliverer(engine, MemoryTransport(refused))
    deliverer.run_once()
    with session_scope(engine) as s:
        row = s.exec(select(EmailOutbox)).one()
        assert row.status == MailStatus.failed and row.body_encrypted is None
        assert "550" in outbox.describe(row).message
    with session_scope(engine) as s:
        password_reset.request_reset(s, "ann@acme.io", "10.0.0.6")
        row = s.exec(select(EmailOutbox).where(EmailOutbox.kind == "password_reset")).one()
        row.max_attempts = 2
        s.add(row)
    down = DeliveryError("mail server unreachable")
    deliverer = _deliverer(engine, MemoryTransport(down, down))
    later = utcnow()
    for _ in range(2):
        later += timedelta(hours=1)
        deliverer.run_once(now=later)
    with session_scope(engine) as s:
        row = s.exec(select(EmailOutbox).where(EmailOutbox.kind == "password_reset")).one()
        assert row.status == MailStatus.failed and row.attempts == 2


def test_a_reset_email_is_not_sent_after_its_link_expired(engine, mail_on) -> None:
    _sign_up(engine)
    with session_scope(engine) as s:
        for row in s.exec(select(EmailOutbox)).all():
            s.delete(row)
        password_reset.request_reset(s, "ann@acme.io", "10.0.0.7")
        row = s.exec(select(EmailOutbox)).one()
        row.discard_after = utcnow() - timedelta(seconds=1)
        s.add(row)
    transport = MemoryTransport()
    _deliverer(engine, transport).drain()
    assert transport.sent == []
    with session_scope(engine) as s:
        row = s.exec(select(EmailOutbox)).one()
        assert row.status == MailStatus.failed and "expired" in (row.last_error or "")


def test_body_is_encrypted_at_rest(engine, mail_on) -> None:
    _sign_up(engine)
    with session_scope(engine) as s:
        row = s.exec(select(EmailOutbox)).one()
        clear = json.loads(security.decrypt_secret(row.body_encrypted or ""))
        assert "/verify-email/" in clear["text"]
        assert "/verify-email/" not in (row.body_encrypted or "")


def test_orphaned_sends_are_requeued_at_startup(engine, mail_on) -> None:
    _sign_up(engine)
    assert _deliverer(engine, MemoryTransport()).claim() is not None
    assert outbox.requeue_orphans(engine) == 1
    transport = MemoryTransport()
    assert _deliverer(engine, transport, "w2").drain() == 1 and len(transport.sent) == 1


def test_manage_reset_link_prints_a_working_link(engine: Engine, capsys) -> None:  # type: ignore[no-untyped-def]
    from app.manage import main

    _sign_up(engine)
    assert main(["reset-link", "ann@acme.io"]) == 0
    link = capsys.readouterr().out.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:3000/reset-password/[A-Za-z0-9_-]{43}", link)
    with session_scope(engine) as s:
        assert password_reset.token_status(s, link.rsplit("/", 1)[1]) == "valid"
    assert main(["reset-link", "ghost@acme.io"]) == 1
    assert "No account" in capsys.readouterr().err


def test_reset_throttle_is_shared_through_redis(  # type: ignore[no-untyped-def]
    engine: Engine, mail_on, redis_url: str, monkeypatch
) -> None:
    import redis

    from app.services.throttle import reset_login_throttle

    monkeypatch.setenv("REDIS_URL", redis_url)
    reset_settings_cache()
    reset_login_throttle()
    # Address and IPs of this test alone: Redis db 15 is shared with the other xdist worker
    # (running this test's other backend, under --dist load) and with other runs.
    tag = uuid.uuid4().bytes
    address = f"shared-{tag.hex()}@acme.io"
    first_ip, second_ip = (f"10.{tag[0]}.{tag[1]}.{n}" for n in (7, 8))
    client = redis.Redis.from_url(redis_url)
    try:
        with session_scope(engine) as s:
            for _ in range(3):
                password_reset.request_reset(s, address, first_ip)
        assert client.exists(f"cc:fail:mail:acct:{address}")
        reset_login_throttle()  # another process: a fresh throttle, the same counters
        with session_scope(engine) as s, pytest.raises(password_reset.ResetThrottledError):
            password_reset.request_reset(s, address, second_ip)
    finally:
        client.delete(f"cc:fail:mail:acct:{address}", f"cc:fail:mail:ip:{first_ip}")
        client.delete(f"cc:fail:mail:ip:{second_ip}")
        client.close()


def test_finished_rows_are_pruned_after_30_days(engine, mail_on) -> None:  # type: ignore[no-untyped-def]
    _sign_up(engine)
    with session_scope(engine) as s:
        password_reset.request_reset(s, "ann@acme.io", "10.0.0.9")
    _deliverer(engine, MemoryTransport()).run_once()  # one sent, one still queued
    assert outbox.prune(engine) == 0
    assert outbox.prune(engine, now=utcnow() + timedelta(days=31)) == 1
    with session_scope(engine) as s:
        (left,) = s.exec(select(EmailOutbox)).all()
        assert left.status == MailStatus.queued  # waiting mail is never pruned
