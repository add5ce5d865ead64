"""SMTP delivery with smtplib: plain, STARTTLS or implicit TLS, optional login.

Every failure becomes a DeliveryError whose message says what went wrong in words an
operator can act on ("mail server unreachable at mail:587 (connection refused)") and
whether retrying can help. Messages never include the mail body (it carries links).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage

from app.settings import SmtpConfig


class DeliveryError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class SmtpTransport:
    def __init__(
        self, config: SmtpConfig, timeout_s: float, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.config = config
        self.timeout_s = timeout_s
        # Tests pass a context trusting their own certificate; production verifies normally.
        self.ssl_context = ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.implicit_tls:
            return smtplib.SMTP_SSL(
                c.host, c.port, timeout=self.timeout_s, context=self.ssl_context
            )
        return smtplib.SMTP(c.host, c.port, timeout=self.timeout_s)

    def send(self, message: EmailMessage) -> None:
        c = self.config
        try:
            with self._connect() as smtp:
                smtp.ehlo()
                if c.starttls:
                    smtp.starttls(context=self.ssl_context)
                    smtp.ehlo()
                if c.username:
                    smtp.login(c.username, c.password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            replies = list(exc.recipients.values())
            raise DeliveryError(
                f"the mail server refused the recipient ({_reply(*replies[0])})",
                permanent=all(code >= 500 for code, _text in replies),
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            answer = _reply(exc.smtp_code, exc.smtp_error)
            raise DeliveryError(
                f"the mail server at {c.address} refused the login ({answer}); "
                "check the user and password in SMTP_URL"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"the mail server at {c.address} does not support {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"the mail server at {c.address} answered {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise DeliveryError(f"the mail server at {c.address} closed the connection") from exc
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"SMTP error with {c.address}: {type(exc).__name__}") from exc
        except ssl.SSLError as exc:
            raise DeliveryError(
                f"TLS with the mail server at {c.address} failed ({exc.reason})"
            ) from exc
        except TimeoutError as exc:
            raise DeliveryError(f"the mail server at {c.address} did not answer in time") from exc
        except socket.gaierror as exc:
            raise DeliveryError(f"the mail server host {c.host} cannot be resolved") from exc
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise DeliveryError(
                f"mail server unreachable at {c.address} ({reason.lower()})"
            ) from exc
        if refused:
            raise DeliveryError("the mail server refused the recipient", permanent=True)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(str(text).split())}"[:200]
