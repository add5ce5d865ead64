"""The process's mail worker: one thread, started by the app's lifespan when SMTP_URL is set.

Enqueueing wakes it after the transaction commits; otherwise it polls for retries that
have come due. Several processes may run one each: rows are claimed with compare-and-set.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from app.db import get_engine
from app.services.mail import outbox
from app.services.mail.transport import SmtpTransport
from app.settings import Settings, get_settings

log = logging.getLogger("chatconnect.mail")

POLL_S = 5.0
PRUNE_EVERY_S = 3600.0


class MailWorker:
    def __init__(self, deliverer: outbox.Deliverer, poll_s: float = POLL_S) -> None:
        self.deliverer = deliverer
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="mail-0", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        last_prune = 0.0
        while not self._stop.is_set():
            try:
                worked = self.deliverer.run_once()
                if not worked and time.monotonic() - last_prune > PRUNE_EVERY_S:
                    last_prune = time.monotonic()
                    outbox.prune(self.deliverer.engine)
            except Exception:  # a broken claim (database down) must not kill the thread
                log.exception("mail worker loop error")
                worked = False
            if not worked:
                self._wake.wait(self.poll_s)
                self._wake.clear()


def worker_identity() -> str:
    return f"mail:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


_worker: MailWorker | None = None
_lock = threading.Lock()


def make_deliverer(settings: Settings) -> outbox.Deliverer:
    smtp = settings.smtp
    assert smtp is not None
    return outbox.Deliverer(
        get_engine(),
        SmtpTransport(smtp, settings.smtp_timeout_s),
        settings.resolved_email_from,
        worker_identity(),
    )


def start_mail_worker(settings: Settings | None = None) -> MailWorker | None:
    global _worker
    settings = settings or get_settings()
    with _lock:
        if _worker is not None or not settings.email_enabled:
            return _worker
        if settings.is_embedded:
            requeued = outbox.requeue_orphans(get_engine())
            if requeued:
                log.info("resuming %d interrupted email(s)", requeued)
        _worker = MailWorker(make_deliverer(settings))
        outbox.set_wake_hook(_worker.wake)
        _worker.start()
        smtp = settings.smtp
        log.info("email on: sending through %s", smtp.address if smtp else "?")
        return _worker


def stop_mail_worker() -> None:
    global _worker
    with _lock:
        if _worker is not None:
            outbox.set_wake_hook(None)
            _worker.stop()
            _worker = None
