"""Audit retention: events older than AUDIT_RETENTION_DAYS are purged once a day.

This is the one delete of the audit trail the code has, and it deletes by age only (see
tests/unit/test_audit_append_only.py). Several processes may each run the daily purge: a
delete by age is idempotent, so they cannot disagree.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col

from app.db import cross_tenant, session_scope
from app.models import AuditEvent, utcnow
from app.settings import get_settings

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "audit retention purge: by age, every workspace"

log = logging.getLogger("chatconnect.audit")
PURGE_INTERVAL_S = 24 * 3600.0


def purge_expired(session: Session, days: int | None = None, now: datetime | None = None) -> int:
    """Delete events older than the retention period; returns how many went."""
    keep_days = days if days is not None else get_settings().audit_retention_days
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    with cross_tenant(session, _CROSS_TENANT):
        result = session.exec(  # type: ignore[call-overload]
            delete(AuditEvent).where(col(AuditEvent.created_at) < cutoff)
        )
    return int(result.rowcount or 0)


class PurgeJob:
    """A daemon thread that purges at start and then every `interval_s`."""

    def __init__(self, interval_s: float = PURGE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="audit-purge", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                with session_scope(system=_CROSS_TENANT) as session:
                    removed = purge_expired(session)
                if removed:
                    log.info("purged %d audit events past retention", removed)
            except Exception:  # a database hiccup must not kill the thread; retry tomorrow
                log.exception("audit purge failed")
            self._stop.wait(self.interval_s)


_job: PurgeJob | None = None


def start_purge_job() -> PurgeJob:
    global _job
    if _job is None:
        _job = PurgeJob()
        _job.start()
    return _job


def stop_purge_job() -> None:
    global _job
    if _job is not None:
        _job.stop()
        _job = None
