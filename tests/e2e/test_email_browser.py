"""Email in a real browser: the server sends through an SMTP server this test runs
(aiosmtpd); the test reads what arrived and follows the links. Verification after
sign-up, forgot/reset password, and an invitation emailed while the mail server is down,
then delivered when it is back."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import AppServer, run_app_server, shot
from tests.e2e.helpers import PASSWORD, sign_up
from tests.support.smtp_sink import Sink, free_port, link_in, start_smtp

pytestmark = pytest.mark.e2e

NEW_PASSWORD = "a-brand-new-password-2"


class MailRoom:
    """The SMTP server the app sends to; it can be stopped and started on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.sink = Sink()
        self.controller = None
        self.start()

    def start(self) -> None:
        self.controller, _ = start_smtp(self.port, self.sink)

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def wait_for(self, to: str, subject: str, timeout: float = 60.0) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.sink.messages:
                if message["To"] == to and subject in message["Subject"]:
                    return message
            time.sleep(0.2)
        raise AssertionError(f"no '{subject}' mail to {to}; got {len(self.sink.messages)}")


@pytest.fixture(scope="module")
def mail() -> Iterator[MailRoom]:
    room = MailRoom()
    yield room
    room.stop()


@pytest.fixture(scope="module")
def mail_app(tmp_path_factory: pytest.TempPathFactory, mail: MailRoom) -> Iterator[AppServer]:
    env = {
        "SMTP_URL": f"smtp://127.0.0.1:{mail.port}",
        "EMAIL_FROM": "ChatConnect <no-reply@chatconnect.test>",
    }
    with run_app_server(tmp_path_factory, env) as server:
        yield server


def _account_tab(page: Page, base: str) -> None:
    page.goto(f"{base}/settings")
    page.click("#tab-account", timeout=30_000)


def test_verification_link_from_the_sign_up_email(mail_app: AppServer, browser, mail) -> None:  # type: ignore[no-untyped-def]
    base = mail_app.base_url
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_up(page, base, "vera@acme.io", "Verified Co")
    message = mail.wait_for("vera@acme.io", "Confirm your email")
    link = link_in(message, "/verify-email")
    assert link.startswith(f"{base}/verify-email/")

    # Before following it: the Account tab says so, and inviting waits for it.
    _account_tab(page, base)
    expect(page.locator("#email-unverified")).to_be_visible(timeout=15_000)
    expect(page.locator("#verify-delivery")).to_contain_text("Emailed to vera@acme.io")
    shot(page, "email-account-unverified")
    page.click("#tab-members")
    expect(page.locator("#invite-needs-verified")).to_be_visible(timeout=15_000)

    page.goto(link)
    expect(page.locator("#verify-done")).to_contain_text("vera@acme.io", timeout=30_000)
    shot(page, "email-verified")
    _account_tab(page, base)
    expect(page.locator("#email-verified")).to_be_visible(timeout=15_000)
    shot(page, "email-account-verified")

    page.goto(link)  # once only
    expect(page.locator("#verify-problem")).to_contain_text("already used", timeout=30_000)


def test_forgot_and_reset_password(mail_app: AppServer, browser, mail) -> None:  # type: ignore[no-untyped-def]
    base = mail_app.base_url
    elsewhere = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    sign_up(elsewhere, base, "rosa@acme.io", "Reset Co")  # a session that must end

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{base}/login")
    expect(page.locator("#forgot-password-link")).to_be_visible(timeout=30_000)
    shot(page, "email-login-forgot-link-phone")
    page.click("#forgot-password-link")
    expect(page).to_have_url(re.compile(r"/forgot-password/?$"), timeout=30_000)
    shot(page, "email-forgot-form-phone")

    # An unknown address gets exactly the same answer.
    expect(page.locator("#forgot-submit")).to_be_enabled(timeout=30_000)
    page.fill("#email", "nobody@acme.io")
    page.click("#forgot-submit")
    expect(page.locator("#forgot-sent")).to_be_visible(timeout=15_000)
    unknown_answer = page.locator("#forgot-sent").inner_text()
    page.goto(f"{base}/forgot-password")
    # The form re-renders once the page has loaded its state; type after that.
    expect(page.locator("#forgot-submit")).to_be_enabled(timeout=30_000)
    page.fill("#email", "rosa@acme.io")
    page.click("#forgot-submit")
    expect(page.locator("#forgot-sent")).to_be_visible(timeout=15_000)
    assert page.locator("#forgot-sent").inner_text() == unknown_answer
    shot(page, "email-forgot-sent-phone")

    link = link_in(
        mail.wait_for("rosa@acme.io", "Reset your ChatConnect password"), "/reset-password"
    )
    assert not any(m["To"] == "nobody@acme.io" for m in mail.sink.messages)
    page.goto(link)
    expect(page.locator("#reset-submit")).to_be_enabled(timeout=30_000)
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", "not-the-same-password")
    page.click("#reset-submit")
    expect(page.locator("#confirm-error")).to_contain_text("not the same", timeout=15_000)
    page.fill("#confirm", NEW_PASSWORD)
    page.click("#reset-submit")
    expect(page.locator("#reset-done")).to_be_visible(timeout=15_000)
    shot(page, "email-reset-done-phone")

    # Every session ended: the other browser is sent to the login page.
    elsewhere.goto(f"{base}/overview")
    expect(elsewhere).to_have_url(re.compile(r"/login/?$"), timeout=30_000)

    # The old password no longer works; the new one does.
    page.click("#reset-login")
    page.fill("#email", "rosa@acme.io", timeout=30_000)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#password-error")).to_contain_text("Wrong", timeout=15_000)
    page.fill("#password", NEW_PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)

    page.goto(link)  # single use
    expect(page.locator("#reset-problem")).to_contain_text("already used", timeout=30_000)
    shot(page, "email-reset-used-phone")

    # The ?token= form of the link is the same page; a made-up token is refused plainly.
    dark = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme="dark")
    other = dark.new_page()
    other.goto(f"{base}/reset-password?token=not-a-real-token")
    expect(other.locator("#reset-problem")).to_contain_text("not valid", timeout=30_000)
    shot(other, "email-reset-invalid-dark")


def test_invitation_email_survives_a_mail_server_outage(mail_app: AppServer, browser, mail) -> None:  # type: ignore[no-untyped-def]
    base = mail_app.base_url
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_up(page, base, "ines@acme.io", "Invite Co")
    page.goto(link_in(mail.wait_for("ines@acme.io", "Confirm your email"), "/verify-email"))
    expect(page.locator("#verify-done")).to_be_visible(timeout=30_000)

    mail.stop()  # the mail server goes down
    try:
        page.goto(f"{base}/settings")
        page.click("#tab-members", timeout=30_000)
        page.click("#invite-open")
        page.fill("#invite-email", "teo@acme.io")
        page.click("#invite-submit")
        shown = page.locator("#invite-link")
        expect(shown).to_contain_text("/invite/", timeout=15_000)
        shown_link = shown.inner_text().strip()
        page.click("#invite-link-done")
        # The open invitation says plainly that the email is waiting, and why.
        status = page.locator("#invites-table .invite-delivery")
        deadline = time.monotonic() + 30
        while "unreachable" not in status.inner_text() and time.monotonic() < deadline:
            time.sleep(1)
            page.reload()
            page.click("#tab-members", timeout=30_000)
        expect(status).to_contain_text("mail server unreachable", timeout=5_000)
        expect(status).to_contain_text("Retrying")
        shot(page, "email-invite-retrying")
    finally:
        mail.start()  # back up: the queued email goes out at its next attempt (30 s)

    invite = mail.wait_for("teo@acme.io", "Join Invite Co", timeout=90)
    assert link_in(invite, "/invite") == shown_link
    page.reload()
    page.click("#tab-members", timeout=30_000)
    expect(page.locator("#invites-table .invite-delivery")).to_contain_text(
        "Emailed to teo@acme.io", timeout=15_000
    )
    shot(page, "email-invite-delivered")

    guest = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    guest.goto(link_in(invite, "/invite"))
    expect(guest.locator("#invite-workspace")).to_have_text("Invite Co", timeout=30_000)


def test_server_log_never_holds_a_token_or_link(mail_app: AppServer, mail) -> None:  # type: ignore[no-untyped-def]
    """Runs after the flows above: every token that was mailed is absent from the log."""
    log = mail_app.log.read_text(errors="replace")
    assert "email" in log  # the mail worker did log (row ids and kinds)
    tokens = [
        re.search(r"/(?:reset-password|verify-email|invite)/([A-Za-z0-9_-]{20,})", m.get_content())
        for message in mail.sink.messages
        for m in [message.get_body(preferencelist=("plain",))]
        if m is not None
    ]
    found = [t.group(1) for t in tokens if t]
    assert found, "expected links in the mail that was received"
    for token in found:
        assert token not in log
