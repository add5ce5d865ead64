"""The handoff API over HTTP (ASGI transport, the app's middleware): scope `inbox`,
waiting list, take over (409 for the loser, with the owner's name), staff message,
hand back, resolve; other workspaces' and other widgets' conversations are 404."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine

from app.db import TenantScope, session_scope
from app.models import Membership, Role, User
from app.services import accounts, inbox, visitors, widgets
from app.services.api_keys import create_key
from app.services.conversations import get_or_start_conversation
from tests.api.v1_world import BASE, asgi_app


@dataclass
class Desk:
    cid: str
    other_widget_cid: str
    inbox_key: str
    bob_key: str
    chat_key: str
    bound_key: str
    foreign_key: str
    widget: str


@pytest.fixture
async def desk(engine: Engine) -> Desk:
    with session_scope(engine) as s:
        alice, a = accounts.sign_up(s, "alice@api.io", "a-long-password", "A")
        alice.name = "Alice"
        zed, b = accounts.sign_up(s, "zed@api.io", "a-long-password", "B")
        bob = User(email="bob@api.io", password_hash="x", name="Bob")
        s.add(bob)
        s.flush()
        TenantScope(s, a.id).add(Membership(user_id=bob.id, role=Role.member))
        w1 = widgets.create_widget(s, a.id, "Support")
        w2 = widgets.create_widget(s, a.id, "Sales")
        convs = []
        for w in (w1, w2):
            conv, _ = get_or_start_conversation(
                s, a.id, conversation_id=None, widget_id=w.id, visitor_id="v1"
            )
            inbox.record_visitor_message(s, a.id, conv, "Need a human")
            inbox.request_handoff(s, a.id, conv.id, "button")
            convs.append(conv.id)
        keys = (
            create_key(s, a.id, "inbox", ["inbox"], created_by=alice.id).secret,
            create_key(s, a.id, "bob", ["inbox"], created_by=bob.id).secret,
            create_key(s, a.id, "chat", ["chat"], created_by=alice.id).secret,
            create_key(s, a.id, "bound", ["inbox"], widget_id=w1.id, created_by=alice.id).secret,
            create_key(s, b.id, "foreign", ["inbox", "admin"], created_by=zed.id).secret,
        )
        return Desk(convs[0], convs[1], *keys, w1.id)


@pytest.fixture
async def http(engine: Engine) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=asgi_app()), base_url=BASE
    ) as client:
        yield client


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_the_handoff_flow_over_http(http: httpx.AsyncClient, desk: Desk) -> None:
    r = await http.get("/api/v1/inbox", headers=_h(desk.inbox_key))
    assert r.status_code == 200
    assert {c["id"] for c in r.json()["items"]} == {desk.cid, desk.other_widget_cid}
    assert (await http.get("/api/v1/inbox", headers=_h(desk.chat_key))).status_code == 403

    r = await http.post(f"/api/v1/conversations/{desk.cid}/take-over", headers=_h(desk.inbox_key))
    assert r.status_code == 200 and r.json()["status"] == "human"
    r = await http.post(f"/api/v1/conversations/{desk.cid}/take-over", headers=_h(desk.bob_key))
    assert r.status_code == 409 and r.json()["owner_name"] == "Alice"

    r = await http.post(
        f"/api/v1/conversations/{desk.cid}/staff-messages",
        headers=_h(desk.inbox_key),
        json={"text": "Hi from the helpdesk", "author_name": "Dana (Helpdesk)"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["role"], r.json()["author_name"]) == ("staff", "Dana (Helpdesk)")
    r = await http.post(
        f"/api/v1/conversations/{desk.cid}/staff-messages",
        headers=_h(desk.inbox_key),
        json={"text": ""},
    )
    assert r.status_code == 422
    with session_scope() as s:  # the visitor's transcript has it, as a person's reply
        public = visitors.find_widget(s, desk.widget)
        assert public is not None
        items = visitors.transcript(s, public, desk.cid, "v1")
        assert (items[-1].role, items[-1].author) == ("staff", "Dana (Helpdesk)")
    detail = await http.get(f"/api/v1/conversations/{desk.cid}", headers=_h(desk.chat_key))
    assert detail.status_code == 200 and detail.json()["messages"][-1]["role"] == "staff"

    r = await http.post(f"/api/v1/conversations/{desk.cid}/hand-back", headers=_h(desk.bob_key))
    assert r.status_code == 409
    r = await http.post(f"/api/v1/conversations/{desk.cid}/hand-back", headers=_h(desk.inbox_key))
    assert r.status_code == 200 and r.json()["status"] == "bot"
    r = await http.post(f"/api/v1/conversations/{desk.cid}/resolve", headers=_h(desk.bob_key))
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    r = await http.get("/api/v1/inbox?view=resolved", headers=_h(desk.inbox_key))
    assert [c["id"] for c in r.json()["items"]] == [desk.cid]


async def test_other_tenants_and_widgets_get_404(http: httpx.AsyncClient, desk: Desk) -> None:
    r = await http.get("/api/v1/inbox", headers=_h(desk.foreign_key))
    assert r.status_code == 200 and r.json()["items"] == []
    missing = "0" * 32
    for cid, key in (
        (desk.cid, desk.foreign_key),
        (missing, desk.inbox_key),
        (desk.other_widget_cid, desk.bound_key),
    ):
        for action in ("take-over", "hand-back", "resolve"):
            r = await http.post(f"/api/v1/conversations/{cid}/{action}", headers=_h(key))
            assert r.status_code == 404, (action, r.text)
        r = await http.post(
            f"/api/v1/conversations/{cid}/staff-messages", headers=_h(key), json={"text": "x"}
        )
        assert r.status_code == 404
    r = await http.get("/api/v1/inbox", headers=_h(desk.bound_key))
    assert [c["id"] for c in r.json()["items"]] == [desk.cid]
    with session_scope() as s:
        conv = inbox.get(s, _tenant_of(s, desk), desk.cid)
        assert conv.assignee_id is None and conv.handoff_status == "waiting_for_human"


def _tenant_of(session, desk: Desk) -> str:  # type: ignore[no-untyped-def]
    from app.models import Conversation

    row = session.get(Conversation, desk.cid)
    return row.tenant_id
