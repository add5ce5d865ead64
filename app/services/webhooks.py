"""Signed webhooks for handoff events, delivered as durable jobs.

`emit` writes one WebhookDelivery row per subscribed endpoint in the caller's
transaction (an event exists exactly when its change does). Workers claim due rows by
compare-and-set, POST them through app.services.outbound, and retry failures with
exponential backoff; rows survive a restart. Each request carries

    X-ChatConnect-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

Verify it with `verify_signature` (or the README's snippet): recompute the HMAC over the
timestamp, a dot and the raw body, compare in constant time, reject old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col, select

from app.db import TenantScope, get_engine, session_scope
from app.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, new_id, utcnow
from app.security import decrypt_secret, encrypt_secret, new_token
from app.services import audit, outbound
from app.services.permissions import Action, require
from app.settings import get_settings

# Row-level security (app/rls.py): this work is cross-tenant by nature.
_CROSS_TENANT = "webhook delivery worker: every workspace's deliveries"

log = logging.getLogger("chatconnect.webhooks")

EVENTS = (
    "conversation.handoff_requested",
    "conversation.assigned",
    "conversation.resolved",
    "lead.created",
    "message.created",
)
TEST_EVENT = "webhook.test"
SIGNATURE_HEADER = "X-ChatConnect-Signature"
MAX_ENDPOINTS = 10
BACKOFF_BASE_S = 10.0
BACKOFF_MAX_S = 3600.0
STALE_SENDING_S = 120.0
TOLERANCE_S = 300


class WebhookError(ValueError):
    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# ---- signing ------------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance_s: int = TOLERANCE_S,
) -> bool:
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((now or time.time()) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


# ---- endpoints ----------------------------------------------------------------------------


def create_endpoint(
    session: Session,
    tenant_id: str,
    role: str,
    url: str,
    events: list[str],
    *,
    slack: bool = False,
    actor: audit.Actor | None = None,
) -> tuple[WebhookEndpoint, str]:
    """The endpoint and its signing secret (shown once; stored encrypted)."""
    require(role, Action.manage_webhooks)
    try:
        clean_url = outbound.vet_url(url)
    except outbound.OutboundError as exc:
        raise WebhookError(str(exc), "url") from exc
    chosen = [e for e in EVENTS if e in set(events)]
    if not chosen:
        raise WebhookError("Choose at least one event.", "events")
    scope = TenantScope(session, tenant_id)
    if len(scope.all(WebhookEndpoint, limit=MAX_ENDPOINTS + 1)) >= MAX_ENDPOINTS:
        raise WebhookError(f"A workspace can have at most {MAX_ENDPOINTS} endpoints.")
    secret = "whsec_" + new_token(24)
    endpoint = scope.add(
        WebhookEndpoint(
            url=clean_url, events=chosen, slack=bool(slack), secret_encrypted=encrypt_secret(secret)
        )
    )
    session.flush()
    audit.record(
        session, tenant_id, actor, "webhook.created", "webhook", endpoint.id,
        after=_audited(endpoint),
    )  # fmt: skip
    return endpoint, secret


def _audited(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "events": list(endpoint.events), "slack": endpoint.slack}


def list_endpoints(session: Session, tenant_id: str) -> list[WebhookEndpoint]:
    return TenantScope(session, tenant_id).all(
        WebhookEndpoint, order_by=col(WebhookEndpoint.created_at)
    )


def delete_endpoint(
    session: Session,
    tenant_id: str,
    role: str,
    endpoint_id: str,
    *,
    actor: audit.Actor | None = None,
) -> None:
    require(role, Action.manage_webhooks)
    scope = TenantScope(session, tenant_id)
    before = _audited(scope.get(WebhookEndpoint, endpoint_id))
    scope.delete(WebhookEndpoint, endpoint_id)
    audit.record(
        session, tenant_id, actor, "webhook.deleted", "webhook", endpoint_id, before=before
    )


def deliveries(
    session: Session, tenant_id: str, endpoint_id: str, limit: int = 20
) -> list[WebhookDelivery]:
    scope = TenantScope(session, tenant_id)
    scope.get(WebhookEndpoint, endpoint_id)
    return list(
        session.exec(
            scope.select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(col(WebhookDelivery.created_at).desc())
            .limit(limit)
        )
    )


# ---- events -------------------------------------------------------------------------------


def _envelope(event: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": new_id(), "type": event, "created_at": utcnow().isoformat(), "data": data}


def emit(session: Session, tenant_id: str, event: str, data: dict[str, Any]) -> int:
    """Queue `event` for every enabled endpoint subscribed to it (same transaction)."""
    return emit_many(session, tenant_id, event, [data])


def emit_many(session: Session, tenant_id: str, event: str, payloads: list[dict[str, Any]]) -> int:
    """`emit` for several events of one kind (a chat turn's two messages): the endpoints
    are read once. Returns the number of endpoints."""
    scope = TenantScope(session, tenant_id)
    endpoints = [
        e for e in scope.all(WebhookEndpoint, col(WebhookEndpoint.enabled)) if event in e.events
    ]
    for endpoint in endpoints:
        for data in payloads:
            scope.add(
                WebhookDelivery(
                    endpoint_id=endpoint.id, event=event, payload=_envelope(event, data)
                )
            )
    if endpoints:
        from sqlalchemy import event as sa_event

        sa_event.listen(session, "after_commit", lambda _s: wake_worker(), once=True)
    return len(endpoints)


def send_test(session: Session, tenant_id: str, role: str, endpoint_id: str) -> WebhookDelivery:
    require(role, Action.manage_webhooks)
    endpoint = TenantScope(session, tenant_id).get(WebhookEndpoint, endpoint_id)
    delivery = TenantScope(session, tenant_id).add(
        WebhookDelivery(
            endpoint_id=endpoint.id,
            event=TEST_EVENT,
            payload=_envelope(TEST_EVENT, {"message": "Test event from ChatConnect"}),
        )
    )
    session.flush()
    from sqlalchemy import event as sa_event

    sa_event.listen(session, "after_commit", lambda _s: wake_worker(), once=True)
    return delivery


def slack_text(payload: dict[str, Any]) -> str:
    data = payload.get("data") or {}
    kind = payload.get("type", "")
    if kind == "conversation.handoff_requested":
        return f"A visitor asked for a person ({data.get('reason', '')}): {data.get('title', '')}"
    if kind == "conversation.assigned":
        who = data.get("assignee_name", "Someone")
        return f"{who} took conversation {data.get('conversation_id')}"
    if kind == "conversation.resolved":
        return f"Conversation {data.get('conversation_id')} resolved"
    if kind == "lead.created":
        who = f"{data.get('name') or ''} <{data.get('email', '')}>"
        return f"New lead: {who}: {data.get('message', '')}"
    if kind == "message.created":
        return f"[{data.get('role')}] {str(data.get('text', ''))[:500]}"
    return str(data.get("message") or kind)


# ---- delivery -----------------------------------------------------------------------------


def backoff_s(attempts: int) -> float:
    return min(BACKOFF_BASE_S * 2 ** max(0, attempts - 1), BACKOFF_MAX_S)


@dataclass
class Deliverer:
    engine: Engine
    worker_id: str = "webhooks"

    def _claimable(self, now: datetime):  # type: ignore[no-untyped-def]
        stale = now - timedelta(seconds=STALE_SENDING_S)
        return or_(
            (col(WebhookDelivery.status) == DeliveryStatus.queued.value)
            & (col(WebhookDelivery.next_attempt_at) <= now),
            (col(WebhookDelivery.status) == DeliveryStatus.sending.value)
            & (col(WebhookDelivery.claimed_at) < stale),
        )

    def claim(self, now: datetime | None = None) -> str | None:
        now = now or utcnow()
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            candidates = s.exec(
                select(WebhookDelivery.id)
                .where(self._claimable(now))
                .order_by(col(WebhookDelivery.next_attempt_at))
                .limit(5)
            ).all()
            for row_id in candidates:
                result = s.execute(
                    update(WebhookDelivery)
                    .where(col(WebhookDelivery.id) == row_id, self._claimable(now))
                    .values(
                        status=DeliveryStatus.sending.value,
                        claimed_at=utcnow(),
                        attempts=WebhookDelivery.attempts + 1,
                        updated_at=utcnow(),
                    )
                )
                if result.rowcount == 1:  # type: ignore[attr-defined]
                    return row_id
        return None

    def release(self) -> int:
        """Nothing to hand back: a delivery left mid-send is taken again after the claim
        timeout (at-least-once; receivers dedupe on X-ChatConnect-Delivery)."""
        return 0

    def run_once(self, now: datetime | None = None) -> bool:
        row_id = self.claim(now)
        if row_id is None:
            return False
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            delivery = s.get(WebhookDelivery, row_id)
            endpoint = s.get(WebhookEndpoint, delivery.endpoint_id) if delivery else None
            if delivery is None or endpoint is None:
                return True
            payload, url, slack = dict(delivery.payload), endpoint.url, endpoint.slack
            secret = decrypt_secret(endpoint.secret_encrypted)
        body = json.dumps({"text": slack_text(payload)} if slack else payload).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "ChatConnect-Webhooks/1",
            SIGNATURE_HEADER: sign(secret, int(time.time()), body),
            "X-ChatConnect-Event": str(payload.get("type", "")),
            "X-ChatConnect-Delivery": row_id,
        }
        code, error = None, None
        try:
            response = outbound.post(url, body, headers)
            code = response.status
            if not 200 <= code < 300:
                error = f"HTTP {code}"
        except (outbound.OutboundError, Exception) as exc:  # network errors, refused URL
            error = f"{type(exc).__name__}: {exc}"[:300]
        with session_scope(self.engine, system=_CROSS_TENANT) as s:
            delivery = s.get(WebhookDelivery, row_id)
            if delivery is None:
                return True
            delivery.last_status_code = code
            delivery.last_error = error
            if error is None:
                delivery.status = DeliveryStatus.delivered
                delivery.delivered_at = utcnow()
            elif delivery.attempts >= delivery.max_attempts:
                delivery.status = DeliveryStatus.failed
            else:
                delivery.status = DeliveryStatus.queued
                # From the clock the claim used (tests pass one; workers the real one).
                delivery.next_attempt_at = max(now or utcnow(), utcnow()) + timedelta(
                    seconds=backoff_s(delivery.attempts)
                )
            s.add(delivery)
        return True


class WebhookWorker:
    def __init__(self, deliverer: Deliverer, poll_s: float = 5.0) -> None:
        self.deliverer = deliverer
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="webhooks-0", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.deliverer.run_once()
            except Exception:  # the database being down must not kill the thread
                log.exception("webhook worker loop error")
                worked = False
            if not worked:
                self._wake.wait(self.poll_s)
                self._wake.clear()


_worker: WebhookWorker | None = None


def start_webhook_worker() -> WebhookWorker | None:
    """In-process delivery thread, unless durable jobs run in `app.worker` processes
    (INGEST_WORKERS=0)."""
    global _worker
    if get_settings().ingest_workers == 0:
        return None
    if _worker is None:
        _worker = WebhookWorker(Deliverer(get_engine()))
        _worker.start()
    return _worker


def stop_webhook_worker() -> None:
    global _worker
    if _worker is not None:
        _worker.stop()
        _worker = None


def wake_worker() -> None:
    if _worker is not None:
        _worker.wake()
