"""Websites over the REST API v1 (HTTP semantics through the app's middleware), with a real
crawl of a loopback site, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from app.services.cache import reset_cache
from app.services.limits import reset_rate_limiter
from app.settings import get_settings
from tests.api.test_v1 import assert_problem
from tests.api.v1_world import World, auth, client_for, drain, make_world
from tests.support.crawl_world import crawl_runner, make_site
from tests.support.http_site import HttpSite

V1 = "/api/v1"


@pytest.fixture
def world(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "true")
    reset_cache()
    reset_rate_limiter()
    yield make_world(engine, ingest=False)


@pytest.fixture
def site() -> Iterator[HttpSite]:
    with make_site() as s:
        yield s


@pytest.fixture
async def http(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for() as client:
        yield client


async def test_preview_create_crawl_pages_sync_cancel_delete(
    http: httpx.AsyncClient, world: World, site: HttpSite, engine: Engine
) -> None:
    h = auth(world.docs_key)
    body = {"url": site.base + "/", "exclude": ["/docs/faq"]}
    r = await http.post(f"{V1}/website-preview", json=body, headers=h)
    assert r.status_code == 200, r.text
    urls = r.json()["urls"]
    assert urls[0] == site.base + "/" and site.base + "/docs/install" in urls
    assert site.base + "/docs/faq" not in urls and site.base + "/private/secret" not in urls
    assert len(urls) <= 20

    r = await http.post(f"{V1}/websites", json={**body, "schedule": "weekly"}, headers=h)
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["status"] == "queued" and created["schedule"] == "weekly"
    wid = created["id"]
    runner = crawl_runner(engine, get_settings().files_dir)
    assert await run_in_threadpool(runner.drain) == 1
    await run_in_threadpool(drain, engine)
    got = (await http.get(f"{V1}/websites/{wid}", headers=h)).json()
    assert got["status"] == "done" and got["last_added"] == 5 and got["pages"]["indexed"] == 5
    assert got["next_sync_at"] is not None
    pages = await http.get(f"{V1}/websites/{wid}/pages", params={"status": "skipped"}, headers=h)
    reasons = {p["url"].removeprefix(site.base): p["reason"] for p in pages.json()["items"]}
    assert reasons["/private/secret"] == "blocked by robots.txt"
    assert reasons["/docs/faq"] == "excluded by a pattern"
    listed = (await http.get(f"{V1}/websites", headers=h)).json()["items"]
    assert [w["id"] for w in listed] == [wid]

    synced = (await http.post(f"{V1}/websites/{wid}/sync", headers=h)).json()
    assert synced["status"] == "queued"
    cancelled = (await http.post(f"{V1}/websites/{wid}/cancel", headers=h)).json()
    assert cancelled["status"] == "cancelled"
    r = await http.put(f"{V1}/websites/{wid}/schedule", json={"schedule": "off"}, headers=h)
    assert r.json()["schedule"] == "off" and r.json()["next_sync_at"] is None

    # Another workspace: every route answers 404, like a missing id.
    o = auth(world.other_key)
    for method, path in [
        ("GET", ""),
        ("GET", "/pages"),
        ("POST", "/sync"),
        ("POST", "/cancel"),
        ("DELETE", ""),
    ]:
        assert_problem(await http.request(method, f"{V1}/websites/{wid}{path}", headers=o), 404)
    r = await http.put(f"{V1}/websites/{wid}/schedule", json={"schedule": "daily"}, headers=o)
    assert_problem(r, 404)
    assert (await http.get(f"{V1}/websites", headers=o)).json()["items"] == []

    assert (await http.delete(f"{V1}/websites/{wid}", headers=h)).status_code == 204
    assert_problem(await http.get(f"{V1}/websites/{wid}", headers=h), 404)
    docs = (await http.get(f"{V1}/documents", headers=h)).json()
    assert docs["total"] == 0


async def test_refused_urls_and_scopes(http: httpx.AsyncClient, world: World) -> None:
    h = auth(world.docs_key)
    for url, words in [
        ("ftp://example.com/", "http"),
        ("https://user:pw@example.com/", "password"),
        ("not a url", "http"),
    ]:
        detail = assert_problem(
            await http.post(f"{V1}/websites", json={"url": url}, headers=h), 422
        )
        assert words in detail["detail"]
    r = await http.post(
        f"{V1}/websites", json={"url": "https://x.test/", "max_pages": 99999}, headers=h
    )
    assert "between 1 and 500" in assert_problem(r, 422)["detail"]
    assert_problem(await http.post(f"{V1}/websites", json={"url": "https://x.test/"}), 401)
    chat_only = auth(world.chat_key)
    assert_problem(
        await http.post(f"{V1}/websites", json={"url": "https://x.test/"}, headers=chat_only), 403
    )


async def test_private_addresses_refused_when_not_allowed(
    http: httpx.AsyncClient, world: World, site: HttpSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "false")
    get_settings.cache_clear()
    h = auth(world.docs_key)
    r = await http.post(f"{V1}/website-preview", json={"url": site.base + "/"}, headers=h)
    assert "loopback" in assert_problem(r, 422)["detail"]
    assert site.connections == 0
