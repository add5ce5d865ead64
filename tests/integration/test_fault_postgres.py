"""PostgreSQL restarted under chat traffic (its own throwaway cluster, never the shared one).

While the server is down, every request answers a clean 503 problem document with
Retry-After within seconds (never a 500, never a hang); once it is back the engine's pool
recovers by itself (pre-ping drops the dead connections); every turn that answered 200 is
stored, and nothing is stored half-way (whole turns only, usage matching the messages).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from app import db as app_db
from app.services.cache import reset_cache
from app.services.limits import reset_rate_limiter
from app.settings import Settings
from tests.api.v1_world import client_for, make_world
from tests.support.own_services import OwnPostgres
from tests.support.traffic import Traffic, check_database

GAP_S = 3.0


@pytest.fixture
def own_pg() -> Iterator[tuple[OwnPostgres, Engine]]:
    with OwnPostgres() as server:
        engine = app_db.make_engine(Settings(database_url=server.url).resolved_database_url)
        app_db.run_migrations(url=engine.url.render_as_string(hide_password=False))
        app_db.set_engine(engine)
        reset_cache()
        reset_rate_limiter()
        try:
            yield server, engine
        finally:
            app_db.set_engine(None)
            engine.dispose()
            reset_cache()
            reset_rate_limiter()


@pytest.mark.slow
async def test_postgres_restart_under_traffic(own_pg: tuple[OwnPostgres, Engine]) -> None:
    server, engine = own_pg
    world = make_world(engine)
    async with client_for(raise_app_exceptions=False) as http:
        traffic = Traffic(http, world.chat_key, world.widget)
        traffic.start()
        await traffic.until(6, "before")
        traffic.phase = "gap"
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(GAP_S)
        await asyncio.to_thread(server.start)
        traffic.phase = "after"
        await traffic.until(6, "after", timeout_s=20)
        outcomes = await traffic.stop()

    assert {o.status for o in outcomes} <= {200, 503}, sorted({o.status for o in outcomes})
    refused = [o for o in outcomes if o.status == 503]
    assert any(o.phase == "gap" for o in refused), "no request was made while the server was down"
    for o in refused:
        assert o.headers["content-type"].startswith("application/problem+json")
        assert o.body["type"] == "urn:chatconnect:problem:database-unavailable"
        assert int(o.headers["retry-after"]) > 0 and o.body["request_id"]
    assert max(o.elapsed_s for o in outcomes) < 8, "a request hung"
    after = [o.status for o in outcomes if o.phase == "after"]
    assert after[-3:] == [200, 200, 200]  # the pool recovered by itself
    check_database(engine, traffic.ok())
