"""The audit log over HTTP: `admin` scope only, the key's workspace only, filters, CSV, and
a document deleted through the API is recorded with the key as its actor."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import select

from app.db import session_scope
from app.models import ApiKey
from app.services import api_keys, audit, documents
from app.services.limits import reset_rate_limiter
from tests.api.v1_world import World, auth, client_for, make_world

V1 = "/api/v1"


@pytest.fixture
def world(engine: Engine) -> World:
    reset_rate_limiter()
    return make_world(engine, ingest=False)


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


async def test_audit_api_scope_tenant_filters_csv_and_key_actor(
    http: httpx.AsyncClient, world: World, engine: Engine
) -> None:
    url = f"{V1}/audit-events"
    for secret in (world.chat_key, world.docs_key, world.bound_key):
        assert (await http.get(url, headers=auth(secret))).status_code == 403
    assert (await http.get(url)).status_code == 401
    with session_scope(engine) as s:
        bound_admin = api_keys.create_key(s, world.tenant, "b", ["admin"], widget_id=world.widget)
        audit.record(
            s,
            world.tenant,
            audit.Actor.user("u", "eve@x.io"),
            "widget.updated",
            after={"name": "=cmd|' /C calc'!A0"},
        )
        audit.record(s, world.other_tenant, audit.SYSTEM, "widget.updated", "widget", "theirs")
    assert (await http.get(url, headers=auth(bound_admin.secret))).status_code == 403

    # A document deleted with the documents key: one event naming that key.
    with session_scope(engine) as s:
        doc_id = documents.create_text_document(s, world.tenant, title="T", text="x").id
        docs_key = s.exec(select(ApiKey).where(ApiKey.name == "docs")).one()
        docs_key_id, docs_prefix = docs_key.id, docs_key.prefix
    response = await http.delete(
        f"{V1}/documents/{doc_id}",
        headers={**auth(world.docs_key), "User-Agent": "audit-test/1"},
    )
    assert response.status_code == 204

    admin = auth(world.admin_key)
    page = (await http.get(url, headers=admin, params={"action": "document.deleted"})).json()
    assert page["total"] == 1
    event = page["items"][0]
    assert (event["actor_type"], event["actor_id"], event["actor_label"]) == (
        "api_key",
        docs_key_id,
        docs_prefix,
    )
    assert event["user_agent"] == "audit-test/1" and event["target_id"] == doc_id
    everything = (await http.get(url, headers=admin, params={"limit": 200})).json()
    assert "theirs" not in {e["target_id"] for e in everything["items"]}
    assert world.admin_key not in str(everything) and world.docs_key not in str(everything)
    first = (await http.get(url, headers=admin, params={"limit": 1, "offset": 1})).json()
    assert first["items"][0]["id"] == everything["items"][1]["id"]
    assert (await http.get(url, headers=admin, params={"since": "not-a-date"})).status_code == 422
    eve = (await http.get(url, headers=admin, params={"actor": "eve@"})).json()
    assert eve["total"] == 1

    exported = await http.get(f"{url}/export", headers=admin, params={"actor": "eve@"})
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0][:3] == ["time", "actor_type", "actor"] and len(rows) == 2
    assert rows[1][2] == "eve@x.io" and "=cmd" in rows[1][-1]
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in rows[1])
