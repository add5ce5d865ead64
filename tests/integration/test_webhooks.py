"""Signed webhooks on SQLite and PostgreSQL, against a real HTTP receiver on loopback:
the signature verifies, a receiver that fails twice gets the event on the third attempt
(exponential backoff), a fresh worker (= a restarted app) delivers what was queued or
left mid-send, Slack-compatible bodies, SSRF refusals, roles and tenant isolation."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine

from app.db import NotFoundError, session_scope
from app.models import DeliveryStatus, WebhookDelivery, utcnow
from app.services import accounts, inbox, outbound, webhooks, widgets
from app.services.conversations import get_or_start_conversation
from app.services.permissions import PermissionDeniedError
from app.settings import reset_settings_cache


@dataclass
class Receiver:
    url: str
    statuses: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "1")
    reset_settings_cache()
    state = Receiver("", [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            code = state.statuses.pop(0) if state.statuses else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Shop:
    tenant: str
    other: str
    widget: str


@pytest.fixture
def shop(engine: Engine) -> Shop:
    with session_scope(engine) as s:
        _, a = accounts.sign_up(s, "hooks@a.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "hooks@b.io", "a-long-password", "B")
        w = widgets.create_widget(s, a.id, "Support")
        return Shop(a.id, b.id, w.id)


def _handoff(shop: Shop) -> str:
    with session_scope() as s:
        conv, _ = get_or_start_conversation(
            s, shop.tenant, conversation_id=None, widget_id=shop.widget, visitor_id="v"
        )
        inbox.request_handoff(s, shop.tenant, conv.id, "button")
        return conv.id


def _deliveries(engine: Engine) -> list[WebhookDelivery]:
    with session_scope(engine) as s:
        return list(s.query(WebhookDelivery).order_by(WebhookDelivery.created_at))


def test_signed_delivery_retried_with_backoff_and_after_restart(
    engine: Engine, shop: Shop, receiver: Receiver
) -> None:
    with session_scope() as s:
        endpoint, secret = webhooks.create_endpoint(
            s,
            shop.tenant,
            "owner",
            receiver.url,
            ["conversation.handoff_requested", "lead.created"],
        )
        endpoint_id = endpoint.id
    cid = _handoff(shop)
    receiver.statuses[:] = [500, 503]
    worker = webhooks.Deliverer(engine)
    now = utcnow()
    assert worker.run_once(now)  # attempt 1: 500
    [row] = _deliveries(engine)
    assert (row.status, row.attempts, row.last_status_code) == ("queued", 1, 500)
    assert row.next_attempt_at >= now + timedelta(seconds=webhooks.BACKOFF_BASE_S - 1)
    assert not worker.run_once(now)  # not due yet
    later = now + timedelta(seconds=webhooks.BACKOFF_BASE_S + 1)
    assert worker.run_once(later)  # attempt 2: 503, next one twice as far
    [row] = _deliveries(engine)
    assert row.next_attempt_at >= later + timedelta(seconds=2 * webhooks.BACKOFF_BASE_S - 1)
    # A restarted app: a new worker object, the queued row is still there.
    restarted = webhooks.Deliverer(engine)
    assert restarted.run_once(later + timedelta(hours=1))
    [row] = _deliveries(engine)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 200)

    headers, body = receiver.received[-1]
    assert webhooks.verify_signature(secret, headers["x-chatconnect-signature"], body)
    assert not webhooks.verify_signature(secret, headers["x-chatconnect-signature"], body + b" ")
    assert not webhooks.verify_signature("whsec_other", headers["x-chatconnect-signature"], body)
    event = json.loads(body)
    assert event["type"] == "conversation.handoff_requested"
    assert event["data"]["conversation_id"] == cid and event["data"]["reason"] == "button"
    assert headers["x-chatconnect-event"] == "conversation.handoff_requested"

    # Unsubscribed events queue nothing; a delivery left "sending" by a crash is resumed.
    with session_scope() as s:
        inbox.resolve(s, shop.tenant, cid, "")
        webhooks.send_test(s, shop.tenant, "admin", endpoint_id)
    rows = _deliveries(engine)
    assert [r.event for r in rows] == ["conversation.handoff_requested", "webhook.test"]
    with session_scope() as s:
        stuck = s.get(WebhookDelivery, rows[-1].id)
        assert stuck is not None
        stuck.status, stuck.claimed_at = DeliveryStatus.sending, utcnow() - timedelta(hours=1)
        s.add(stuck)
    assert webhooks.Deliverer(engine).run_once()
    assert _deliveries(engine)[-1].status == "delivered"
    with session_scope() as s:
        log = webhooks.deliveries(s, shop.tenant, endpoint_id)
        assert [d.event for d in log] == ["webhook.test", "conversation.handoff_requested"]
        with pytest.raises(NotFoundError):
            webhooks.deliveries(s, shop.other, endpoint_id)


def test_slack_body_roles_ssrf_and_tenants(engine: Engine, shop: Shop, receiver: Receiver) -> None:
    with pytest.raises(PermissionDeniedError), session_scope() as s:
        webhooks.create_endpoint(s, shop.tenant, "member", receiver.url, ["lead.created"])
    with pytest.raises(webhooks.WebhookError), session_scope() as s:
        webhooks.create_endpoint(s, shop.tenant, "owner", receiver.url, ["nothing.real"])
    with pytest.raises(webhooks.WebhookError), session_scope() as s:
        webhooks.create_endpoint(s, shop.tenant, "owner", "ftp://example.com/x", ["lead.created"])
    with pytest.raises(outbound.BlockedURLError, match="loopback"):
        outbound.vet_url("http://127.0.0.1:9/x", allow_private=False)
    with pytest.raises(outbound.BlockedURLError, match="metadata"):
        outbound.vet_url("http://169.254.169.254/latest", allow_private=True)
    with session_scope() as s:
        endpoint, _ = webhooks.create_endpoint(
            s, shop.tenant, "owner", receiver.url, ["message.created"], slack=True
        )
        endpoint_id = endpoint.id
    with session_scope() as s:
        conv, _ = get_or_start_conversation(
            s, shop.tenant, conversation_id=None, widget_id=shop.widget, visitor_id="v"
        )
        inbox.record_visitor_message(s, shop.tenant, conv, "Where is my parcel?")
        # Another workspace's events never reach this endpoint.
        conv_b, _ = get_or_start_conversation(
            s, shop.other, conversation_id=None, widget_id=None, visitor_id="v", channel="api"
        )
        inbox.record_visitor_message(s, shop.other, conv_b, "Other tenant")
    assert webhooks.Deliverer(engine).run_once()
    assert not webhooks.Deliverer(engine).run_once()
    _, body = receiver.received[-1]
    assert json.loads(body) == {"text": "[user] Where is my parcel?"}
    with pytest.raises(NotFoundError), session_scope() as s:
        webhooks.delete_endpoint(s, shop.other, "owner", endpoint_id)
    with session_scope() as s:
        webhooks.delete_endpoint(s, shop.tenant, "admin", endpoint_id)
        assert webhooks.list_endpoints(s, shop.tenant) == []
