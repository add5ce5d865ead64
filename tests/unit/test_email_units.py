"""SMTP_URL parsing, email messages, outbox backoff and the token helpers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.models import TokenPurpose
from app.services import account_tokens
from app.services.mail import messages
from app.services.mail.outbox import OutboxConfig
from app.services.throttle import MailThrottle, MemoryFailureStore
from app.settings import Settings, parse_smtp_url
from app.state.password import token_from


def test_smtp_url_forms() -> None:
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.implicit_tls, plain.starttls) == (
        "mail.example.com",
        25,
        False,
        False,
    )
    assert plain.username is None and plain.password is None
    tls = parse_smtp_url("smtps://u:p@mail.example.com")
    assert (tls.port, tls.implicit_tls, tls.username, tls.password) == (465, True, "u", "p")
    start = parse_smtp_url("smtp://apikey:s%2Fcr%40t@smtp.relay.io:587?starttls=true")
    assert (start.port, start.starttls, start.username, start.password) == (
        587,
        True,
        "apikey",
        "s/cr@t",
    )
    assert "s/cr@t" not in repr(start)  # the password never shows in logs or tracebacks


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://mail:25", "must start with smtp:// or smtps://"),
        ("smtp://", "has no host"),
        ("smtp://mail:99999", "invalid port"),
        ("smtp://mail?starttls=maybe", "starttls must be true or false"),
        ("smtps://mail?starttls=true", "already TLS"),
        ("smtp://mail?tls=1", "unknown option"),
    ],
)
def test_bad_smtp_urls_are_refused_clearly(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_smtp_url(url)


def test_settings_hide_the_smtp_password_in_errors() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(smtp_url="http://user:hunter2-secret@mail")
    assert "hunter2-secret" not in str(info.value)
    assert "smtp://" in str(info.value)


def test_email_off_by_default_and_from_address() -> None:
    s = Settings()
    assert not s.email_enabled and s.smtp is None
    on = Settings(smtp_url="smtp://127.0.0.1:2525", public_url="https://chat.example.com")
    assert on.email_enabled
    assert on.resolved_email_from == "ChatConnect <no-reply@chat.example.com>"
    assert Settings(email_from="Help <help@x.io>").resolved_email_from == "Help <help@x.io>"
    with pytest.raises(ValidationError):
        Settings(email_from="not an address")
    with pytest.raises(ValidationError):
        Settings(email_from="a@b.io\r\nBcc: victim@x.io")


def test_messages_carry_the_link_in_text_and_escaped_html() -> None:
    link = "https://chat.example.com/reset-password/abc_DEF-123"
    mail = messages.password_reset("ann@x.io", link, 30)
    assert link in mail.text and "30 minutes" in mail.text
    assert f'href="{link}"' in mail.html
    invite = messages.invitation("bo@x.io", link, '<b>"Acme"</b>', "ann@x.io", "admin", 7)
    assert "<b>" not in invite.html and "&lt;b&gt;" in invite.html
    assert "Acme" in invite.subject and "admin" in invite.text
    message = messages.to_email_message(mail, "ChatConnect <no-reply@chat.example.com>")
    assert message["To"] == "ann@x.io" and message["Message-ID"].endswith("@chat.example.com>")
    assert message.is_multipart()
    assert {p.get_content_type() for p in message.iter_parts()} == {"text/plain", "text/html"}


def test_backoff_doubles_and_is_capped() -> None:
    config = OutboxConfig(retry_base_s=30, retry_max_s=1800)
    assert [config.backoff(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert config.backoff(20) == 1800


def test_mail_throttle_backs_off_per_address_and_ip() -> None:
    throttle = MailThrottle(MemoryFailureStore())
    for _ in range(3):
        assert throttle.retry_after("ann@x.io", "1.2.3.4") == 0
        throttle.record("ann@x.io", "1.2.3.4")
    assert throttle.retry_after("ann@x.io", "5.6.7.8") > 0  # the address, from anywhere
    assert throttle.retry_after("bob@x.io", "9.9.9.9") == 0
    # Its counters are apart from the login throttle's (same store, other keys).
    assert throttle.store.get("acct:ann@x.io") == (0, 0.0)


def test_token_hashes_are_keyed_per_purpose() -> None:
    token = "same-token-text"
    reset = account_tokens._hash(token, TokenPurpose.password_reset)
    verify = account_tokens._hash(token, TokenPurpose.verify_email)
    assert reset != verify and token not in reset and len(reset) == 64
    assert reset == account_tokens._hash(token, TokenPurpose.password_reset)


def test_reset_link_token_from_path_or_query() -> None:
    assert token_from("/reset-password/abc-_1", None, "/reset-password") == "abc-_1"
    assert token_from("/reset-password/abc/", None, "/reset-password") == "abc"
    assert token_from("/reset-password", "q-tok", "/reset-password") == "q-tok"
    assert token_from("/elsewhere/abc", None, "/reset-password") == ""
    assert len(token_from("/reset-password/" + "a" * 500, None, "/reset-password")) == 128
