"""The email outbox: durable delivery jobs in the database.

`enqueue` writes a row in the caller's transaction (so a reset token and its email are
committed together or not at all) and wakes the mail worker once that transaction
commits. A `Deliverer` claims rows with a compare-and-set UPDATE (safe across threads and
processes, SQLite and PostgreSQL alike, like the ingestion jobs), sends, and records the
outcome: sent; retried with exponential backoff while the server is down or refuses for a
while; failed once retrying cannot help. A row whose sender died mid-send is claimable
again after `stale_after_s` (delivery is at least once). Bodies carry single-use links,
so they are stored encrypted and wiped once a row is finished.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import Engine, delete, event, or_, update
from sqlmodel import Session, col, select

from app import security
from app.db import session_scope
from app.models import EmailOutbox, MailStatus, utcnow
from app.services.mail.messages import Mail, to_email_message
from app.services.mail.transport import DeliveryError

log = logging.getLogger("chatconnect.mail")

# Wakes the worker; set by app.services.mail.worker while it runs.
_wake_hook: Callable[[], None] | None = None


def set_wake_hook(hook: Callable[[], None] | None) -> None:
    global _wake_hook
    _wake_hook = hook


def _wake_after_commit(session: Session) -> None:
    def wake(_session: Session) -> None:
        if _wake_hook is not None:
            _wake_hook()

    event.listen(session, "after_commit", wake, once=True)


def enqueue_request(
    session: Session, *, kind: str, to: str, discard_after: datetime | None = None
) -> EmailOutbox:
    """A row without a body: the worker's composer for `kind` decides what (if anything)
    to send. The caller's transaction does the same work whatever the address is."""
    row = EmailOutbox(
        kind=kind, to_address=to, subject="", body_encrypted=None, discard_after=discard_after
    )
    session.add(row)
    session.flush()
    _wake_after_commit(session)
    return row


def enqueue(
    session: Session,
    mail: Mail,
    *,
    kind: str,
    user_id: str | None = None,
    invitation_id: str | None = None,
    discard_after: datetime | None = None,
) -> EmailOutbox:
    body = json.dumps({"text": mail.text, "html": mail.html})
    row = EmailOutbox(
        kind=kind,
        to_address=mail.to,
        subject=mail.subject,
        body_encrypted=security.encrypt_secret(body),
        user_id=user_id,
        invitation_id=invitation_id,
        discard_after=discard_after,
    )
    session.add(row)
    session.flush()
    _wake_after_commit(session)
    return row


# ---- what the dashboard shows ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    state: str  # queued | retrying | sent | failed
    message: str  # one line for people
    attempts: int
    last_error: str | None


def describe(row: EmailOutbox, now: datetime | None = None) -> DeliveryStatus:
    now = now or utcnow()
    if row.status == MailStatus.sent:
        return DeliveryStatus("sent", f"Emailed to {row.to_address}", row.attempts, None)
    if row.status == MailStatus.failed:
        return DeliveryStatus(
            "failed",
            f"Email not delivered: {row.last_error or 'unknown error'}",
            row.attempts,
            row.last_error,
        )
    if row.attempts and row.last_error:
        wait = max(0, int((row.next_attempt_at - now).total_seconds()))
        when = f"in {wait // 60} min" if wait >= 60 else f"in {wait} s" if wait else "now"
        return DeliveryStatus(
            "retrying",
            f"Email not sent yet: {row.last_error}. Retrying {when}.",
            row.attempts,
            row.last_error,
        )
    return DeliveryStatus("queued", f"Sending to {row.to_address}…", row.attempts, None)


def latest_for_invitations(session: Session, invitation_ids: list[str]) -> dict[str, EmailOutbox]:
    """The newest outbox row of each invitation (callers pass ids they may already see)."""
    if not invitation_ids:
        return {}
    rows = session.exec(
        select(EmailOutbox)
        .where(col(EmailOutbox.invitation_id).in_(invitation_ids))
        .order_by(col(EmailOutbox.created_at))
    ).all()
    return {row.invitation_id: row for row in rows if row.invitation_id}


def latest_for_user(session: Session, user_id: str, kind: str) -> EmailOutbox | None:
    return session.exec(
        select(EmailOutbox)
        .where(EmailOutbox.user_id == user_id, EmailOutbox.kind == kind)
        .order_by(col(EmailOutbox.created_at).desc())
    ).first()


def backlog(session: Session, now: datetime | None = None) -> dict[str, int]:
    """For /api/health: emails waiting, how many of them after a failed attempt, oldest age."""
    now = now or utcnow()
    waiting = session.exec(
        select(EmailOutbox.attempts, EmailOutbox.created_at).where(
            col(EmailOutbox.status).in_([MailStatus.queued, MailStatus.sending])
        )
    ).all()
    oldest = min((created for _attempts, created in waiting), default=now)
    return {
        "waiting": len(waiting),
        "retrying": sum(1 for attempts, _created in waiting if attempts > 0),
        "oldest_waiting_s": int((now - oldest).total_seconds()),
    }


# ---- delivery -------------------------------------------------------------------------


@dataclass
class OutboxConfig:
    retry_base_s: float = 30.0
    retry_max_s: float = 1800.0
    stale_after_s: float = 300.0

    def backoff(self, attempts: int) -> float:
        return min(self.retry_max_s, self.retry_base_s * 2 ** max(0, attempts - 1))


class Transport(Protocol):
    def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True, slots=True)
class Composed:
    mail: Mail
    user_id: str | None = None
    discard_after: datetime | None = None


# Builds the message of a body-less row inside the worker's transaction; None: drop it.
Composer = Callable[[Session, EmailOutbox], Composed | None]


def default_composers() -> dict[str, Composer]:
    from app.services import password_reset  # services import the outbox, not the reverse

    return {password_reset.PURPOSE.value: password_reset.compose}


class Deliverer:
    """Claims and delivers outbox rows; one per worker thread."""

    def __init__(
        self,
        engine: Engine,
        transport: Transport,
        sender: str,
        worker_id: str,
        config: OutboxConfig | None = None,
        composers: dict[str, Composer] | None = None,
    ) -> None:
        self.engine = engine
        self.transport = transport
        self.sender = sender
        self.worker_id = worker_id[:64]
        self.config = config or OutboxConfig()
        self.composers = default_composers() if composers is None else composers

    def _claimable(self, now: datetime):  # type: ignore[no-untyped-def]
        stale = now - timedelta(seconds=self.config.stale_after_s)
        return or_(
            (EmailOutbox.status == MailStatus.queued) & (EmailOutbox.next_attempt_at <= now),
            (EmailOutbox.status == MailStatus.sending) & (EmailOutbox.claimed_at < stale),
        )

    def claim(self, now: datetime | None = None) -> str | None:
        now = now or utcnow()
        with session_scope(self.engine) as s:
            candidates = s.exec(
                select(EmailOutbox.id)
                .where(self._claimable(now))
                .order_by(col(EmailOutbox.next_attempt_at))
                .limit(5)
            ).all()
            for row_id in candidates:
                result = s.exec(  # type: ignore[call-overload]
                    update(EmailOutbox)
                    .where(col(EmailOutbox.id) == row_id, self._claimable(now))
                    .values(
                        status=MailStatus.sending,
                        claimed_by=self.worker_id,
                        claimed_at=utcnow(),
                        attempts=EmailOutbox.attempts + 1,
                        updated_at=utcnow(),
                    )
                )
                if result.rowcount == 1:
                    return row_id
        return None

    def run_once(self, now: datetime | None = None) -> bool:
        row_id = self.claim(now)
        if row_id is None:
            return False
        self.deliver(row_id)
        return True

    def drain(self, max_jobs: int = 100, now: datetime | None = None) -> int:
        done = 0
        while done < max_jobs and self.run_once(now):
            done += 1
        return done

    def deliver(self, row_id: str) -> None:
        with session_scope(self.engine) as s:
            row = s.get(EmailOutbox, row_id)
            if row is None or row.claimed_by != self.worker_id:
                return
            kind, attempts, max_attempts = row.kind, row.attempts, row.max_attempts
            if row.discard_after is not None and row.discard_after <= utcnow():
                self._finish(s, row, MailStatus.failed, "its link expired before it could be sent")
                log.warning("email %s (%s) dropped: link expired before delivery", row_id, kind)
                return
            if row.body_encrypted is None and not self._compose(s, row):
                return
            try:
                body = json.loads(security.decrypt_secret(row.body_encrypted or ""))
                message = to_email_message(
                    Mail(row.to_address, row.subject, body["text"], body["html"]), self.sender
                )
            except (ValueError, KeyError) as exc:  # SECRET_KEY changed: nothing can fix it
                self._finish(s, row, MailStatus.failed, f"the stored message is unreadable ({exc})")
                return
        try:
            self.transport.send(message)
        except DeliveryError as exc:
            self._failed_attempt(row_id, kind, attempts, max_attempts, exc)
            return
        with session_scope(self.engine) as s:
            row = s.get(EmailOutbox, row_id)
            if row is not None:
                self._finish(s, row, MailStatus.sent, None)
        log.info("email %s (%s) sent, attempt %d", row_id, kind, attempts)

    def _failed_attempt(
        self, row_id: str, kind: str, attempts: int, max_attempts: int, exc: DeliveryError
    ) -> None:
        reason = str(exc)[:500]
        with session_scope(self.engine) as s:
            row = s.get(EmailOutbox, row_id)
            if row is None:
                return
            if exc.permanent or attempts >= max_attempts:
                self._finish(s, row, MailStatus.failed, reason)
                log.error(
                    "email %s (%s) failed after %d attempt(s): %s", row_id, kind, attempts, reason
                )
                return
            delay = self.config.backoff(attempts)
            row.status, row.last_error = MailStatus.queued, reason
            row.next_attempt_at = utcnow() + timedelta(seconds=delay)
            row.claimed_by = None
            s.add(row)
        log.warning(
            "email %s (%s) not sent, attempt %d of %d: %s; retrying in %ds",
            row_id,
            kind,
            attempts,
            max_attempts,
            reason,
            delay,
        )

    def _compose(self, s: Session, row: EmailOutbox) -> bool:
        """Fill in a body-less row (once: retries reuse the body); False when dropped."""
        composer = self.composers.get(row.kind)
        composed = composer(s, row) if composer is not None else None
        if composed is None:
            row.to_address = ""  # keep no address that no account has
            self._finish(s, row, MailStatus.dropped, None)
            log.info("email %s (%s): nothing to send", row.id, row.kind)
            return False
        row.to_address, row.subject = composed.mail.to, composed.mail.subject
        body = json.dumps({"text": composed.mail.text, "html": composed.mail.html})
        row.body_encrypted = security.encrypt_secret(body)
        row.user_id = composed.user_id
        row.discard_after = composed.discard_after
        s.add(row)
        return True

    @staticmethod
    def _finish(s: Session, row: EmailOutbox, status: MailStatus, error: str | None) -> None:
        row.status, row.last_error = status, error
        row.body_encrypted = None  # the link inside is no one's business any more
        row.claimed_by = None
        if status == MailStatus.sent:
            row.sent_at = utcnow()
        s.add(row)


KEEP_FINISHED = timedelta(days=30)


def prune(engine: Engine, now: datetime | None = None) -> int:
    """Forget finished rows (sent, failed, dropped) after KEEP_FINISHED; they hold no body."""
    cutoff = (now or utcnow()) - KEEP_FINISHED
    with session_scope(engine) as s:
        result = s.exec(  # type: ignore[call-overload]
            delete(EmailOutbox).where(
                col(EmailOutbox.status).in_(
                    [MailStatus.sent, MailStatus.failed, MailStatus.dropped]
                ),
                col(EmailOutbox.updated_at) < cutoff,
            )
        )
        return int(result.rowcount or 0)


def requeue_orphans(engine: Engine) -> int:
    """One-process startup: a row left `sending` belongs to a process that no longer runs."""
    with session_scope(engine) as s:
        result = s.exec(  # type: ignore[call-overload]
            update(EmailOutbox)
            .where(EmailOutbox.status == MailStatus.sending)
            .values(status=MailStatus.queued, claimed_by=None, next_attempt_at=utcnow())
        )
        return int(result.rowcount or 0)
