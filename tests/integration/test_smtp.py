"""Delivery through a real SMTP server (aiosmtpd, run by the tests): plain, login,
STARTTLS, implicit TLS, a refused recipient, and a server that is down and comes back."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import EmailOutbox, MailStatus, utcnow
from app.services import accounts, password_reset
from app.services.mail import outbox
from app.services.mail.transport import SmtpTransport
from app.services.mail.worker import make_deliverer, start_mail_worker, stop_mail_worker
from app.settings import get_settings, parse_smtp_url, reset_settings_cache
from tests.support.smtp_sink import (
    Sink,
    free_port,
    html_of,
    link_in,
    password_authenticator,
    self_signed,
    start_smtp,
    text_of,
)

PASSWORD = "a-long-password"
SENDER = "ChatConnect <no-reply@chat.example.com>"


@pytest.fixture
def smtp_port(monkeypatch: pytest.MonkeyPatch) -> int:
    port = free_port()
    monkeypatch.setenv("SMTP_URL", f"smtp://127.0.0.1:{port}")
    monkeypatch.setenv("EMAIL_FROM", SENDER)
    monkeypatch.setenv("PUBLIC_URL", "https://chat.example.com")
    reset_settings_cache()
    return port


@pytest.fixture
def sink(smtp_port: int) -> Iterator[Sink]:
    controller, sink = start_smtp(smtp_port)
    yield sink
    controller.stop()


def _sign_up(email: str = "ann@acme.io") -> str:
    with session_scope() as s:
        user, _ = accounts.sign_up(s, email, PASSWORD, "Acme")
        return user.id


def _only_row(kind: str) -> EmailOutbox:
    with session_scope() as s:
        return s.exec(select(EmailOutbox).where(EmailOutbox.kind == kind)).one()


def test_verification_email_arrives_over_smtp(engine: Engine, sink: Sink) -> None:
    _sign_up()
    assert make_deliverer(get_settings()).drain() == 1
    (message,) = sink.wait_for(1)
    assert message["From"] == SENDER and message["To"] == "ann@acme.io"
    assert message["Subject"] == "Confirm your email address"
    assert sink.envelopes[0] == ("no-reply@chat.example.com", ["ann@acme.io"])
    link = link_in(message, "/verify-email")
    assert link.startswith("https://chat.example.com/verify-email/")
    assert f'href="{link}"' in html_of(message)
    assert _only_row("verify_email").status == MailStatus.sent


def test_smtp_down_keeps_the_email_and_delivers_when_it_is_back(
    engine: Engine, smtp_port: int
) -> None:
    _sign_up()
    with session_scope() as s:
        password_reset.request_reset(s, "ann@acme.io", "10.0.0.1")
    deliverer = make_deliverer(get_settings())
    assert deliverer.drain() == 2  # both attempted, both failed, nothing due any more
    row = _only_row("password_reset")
    assert row.status == MailStatus.queued and row.attempts == 1
    assert (
        row.last_error == f"mail server unreachable at 127.0.0.1:{smtp_port} (connection refused)"
    )
    assert row.next_attempt_at > utcnow() and row.body_encrypted
    assert "Retrying in" in outbox.describe(row).message
    with session_scope() as s:
        waiting = outbox.backlog(s)
    assert (waiting["waiting"], waiting["retrying"]) == (2, 2)  # what /api/health reports
    # The server comes back; the retry, once due, delivers the same (still valid) link.
    controller, sink = start_smtp(smtp_port)
    try:
        assert deliverer.drain(now=utcnow() + timedelta(seconds=31)) == 2
        messages = sink.wait_for(2)
    finally:
        controller.stop()
    reset_mail = next(m for m in messages if "Reset" in m["Subject"])
    assert "30 minutes" in text_of(reset_mail)
    token = link_in(reset_mail, "/reset-password").rsplit("/", 1)[1]
    with session_scope() as s:
        password_reset.reset_password(s, token, "another-long-password")
    row = _only_row("password_reset")
    assert row.status == MailStatus.sent and row.attempts == 2 and row.last_error is None
    with session_scope() as s:
        assert outbox.backlog(s)["waiting"] == 0


def test_the_app_worker_thread_delivers_as_soon_as_the_transaction_commits(
    engine: Engine, sink: Sink
) -> None:
    worker = start_mail_worker(get_settings())
    assert worker is not None
    try:
        _sign_up()  # committing the sign-up wakes the worker
        (message,) = sink.wait_for(1)
        assert message["To"] == "ann@acme.io"
    finally:
        stop_mail_worker()


def test_worker_is_not_started_without_smtp(engine: Engine, monkeypatch) -> None:
    monkeypatch.delenv("SMTP_URL", raising=False)
    reset_settings_cache()
    assert start_mail_worker(get_settings()) is None


def _deliverer(engine: Engine, url: str, ssl_context=None) -> outbox.Deliverer:  # type: ignore[no-untyped-def]
    transport = SmtpTransport(parse_smtp_url(url), 5.0, ssl_context=ssl_context)
    return outbox.Deliverer(engine, transport, SENDER, "test-worker")


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_and_a_wrong_password(engine: Engine, smtp_port: int) -> None:
    controller, sink = start_smtp(
        smtp_port,
        authenticator=password_authenticator("mailer", "p@ss/word"),
        auth_require_tls=False,
        auth_required=True,
    )
    try:
        _sign_up()
        bad = _deliverer(engine, f"smtp://mailer:nope@127.0.0.1:{smtp_port}")
        bad.drain()
        error = _only_row("verify_email").last_error or ""
        assert re.search(r"refused the login \(535 .*\); check the user and password", error)
        assert "nope" not in error
        good = _deliverer(engine, f"smtp://mailer:p%40ss%2Fword@127.0.0.1:{smtp_port}")
        assert good.drain(now=utcnow() + timedelta(minutes=5)) == 1
        assert len(sink.wait_for(1)) == 1
    finally:
        controller.stop()


def test_starttls_and_implicit_tls(engine: Engine, smtp_port: int, tmp_path: Path) -> None:
    server_ctx, client_ctx = self_signed(tmp_path)
    controller, sink = start_smtp(smtp_port, tls_context=server_ctx, require_starttls=True)
    try:
        _sign_up("a@acme.io")
        plain = _deliverer(engine, f"smtp://127.0.0.1:{smtp_port}")
        plain.drain()  # the server insists on STARTTLS
        assert "530" in (_only_row("verify_email").last_error or "")
        tls = _deliverer(engine, f"smtp://127.0.0.1:{smtp_port}?starttls=true", client_ctx)
        assert tls.drain(now=utcnow() + timedelta(minutes=5)) == 1
        assert sink.wait_for(1)[0]["To"] == "a@acme.io"
    finally:
        controller.stop()
    port2 = free_port()
    controller, sink = start_smtp(port2, ssl_context=server_ctx)
    try:
        _sign_up("b@acme.io")
        untrusted = _deliverer(engine, f"smtps://127.0.0.1:{port2}")  # system CAs only
        untrusted.drain()
        with session_scope() as s:
            row = s.exec(select(EmailOutbox).where(EmailOutbox.to_address == "b@acme.io")).one()
            assert "TLS with the mail server" in (row.last_error or "")
        trusted = _deliverer(engine, f"smtps://127.0.0.1:{port2}", client_ctx)
        assert trusted.drain(now=utcnow() + timedelta(minutes=5)) == 1
        assert sink.wait_for(1)[0]["To"] == "b@acme.io"
    finally:
        controller.stop()


def test_a_refused_recipient_fails_without_retrying(engine: Engine, smtp_port: int) -> None:
    controller, sink = start_smtp(smtp_port, Sink(refuse={"ann@acme.io"}))
    try:
        _sign_up()
        make_deliverer(get_settings()).drain()
    finally:
        controller.stop()
    row = _only_row("verify_email")
    assert row.status == MailStatus.failed and row.attempts == 1
    assert "refused the recipient (550" in (row.last_error or "")
    assert sink.messages == []
