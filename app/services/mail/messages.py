"""The emails ChatConnect sends: plain text with an equivalent simple HTML part."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from html import escape


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str


def _html(paragraphs: list[str], link: str, button: str) -> str:
    """A minimal, inline-styled body: every client renders it; no images, no tracking."""
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    href = escape(link, quote=True)
    return (
        '<!doctype html><html><body style="font-family:system-ui,sans-serif;'
        'line-height:1.5;color:#1c2024;max-width:560px">'
        f"{body}"
        f'<p><a href="{href}" style="display:inline-block;padding:10px 18px;'
        'background:#3e63dd;color:#fff;border-radius:8px;text-decoration:none">'
        f"{escape(button)}</a></p>"
        f'<p style="color:#60646c;font-size:13px">Or paste this link into your browser:<br>'
        f"{escape(link)}</p></body></html>"
    )


def password_reset(to: str, link: str, minutes: int) -> Mail:
    lines = [
        "Someone (hopefully you) asked to reset the password of your ChatConnect account.",
        f"The link works once, for {minutes} minutes. Resetting signs you out everywhere.",
        "If you did not ask for this, ignore this email: your password stays as it is.",
    ]
    return Mail(
        to=to,
        subject="Reset your ChatConnect password",
        text="\n\n".join([*lines[:2], link, lines[2]]) + "\n",
        html=_html(lines, link, "Choose a new password"),
    )


def verify_email(to: str, link: str, hours: int) -> Mail:
    lines = [
        "Confirm that this is your email address for ChatConnect.",
        f"The link works once, for {hours} hours.",
        "If you did not create an account, ignore this email.",
    ]
    return Mail(
        to=to,
        subject="Confirm your email address",
        text="\n\n".join([*lines[:2], link, lines[2]]) + "\n",
        html=_html(lines, link, "Confirm my address"),
    )


def invitation(to: str, link: str, workspace: str, inviter: str, role: str, days: int) -> Mail:
    who = inviter or "Someone"
    lines = [
        f"{who} invited you to join the ChatConnect workspace “{workspace}” as {role}.",
        f"The link works once and expires in {days} days.",
        "If you were not expecting this, ignore this email.",
    ]
    return Mail(
        to=to,
        subject=f"Join {workspace} on ChatConnect"[:300],
        text="\n\n".join([*lines[:2], link, lines[2]]) + "\n",
        html=_html(lines, link, "Join the workspace"),
    )


def to_email_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rsplit("@", 1)[-1].strip("> ") or None
    message["Message-ID"] = make_msgid(domain=domain)
    # Transactional: ask autoresponders not to answer.
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message
