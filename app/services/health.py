"""Readiness of the database, the vector store and Redis (when configured)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text

from app.db import get_engine
from app.settings import get_settings


def _timed(check: Callable[[], Any]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # health reports every failure, whatever its type
        return {
            "status": "down",
            "error": type(exc).__name__,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    result: dict[str, Any] = {
        "status": "up",
        "latency_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    if isinstance(detail, dict):
        result.update(detail)
    return result


def _database() -> dict[str, Any]:
    engine = get_engine()
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"backend": engine.dialect.name}


def _redis() -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(
        get_settings().redis_url or "", socket_timeout=2, socket_connect_timeout=2
    )
    try:
        client.ping()
    finally:
        client.close()
    return {}


def _vectors() -> dict[str, Any]:
    from app.services.vectors import store_health

    return store_health()


# Without these a process can serve nothing; without Redis the API still answers chat (rate
# limits fall back to in-process counters, caches miss) while login fails closed and the
# websocket pages wait for it: reported as degraded, not unready, so a load balancer keeps
# every replica that can still answer (taking them all out would stop chat entirely).
REQUIRED = ("database", "vector_store")


def check_health() -> tuple[bool, dict[str, Any]]:
    """(ready, body): ready unless the database or the vector store is down."""
    components: dict[str, Any] = {"database": _timed(_database), "vector_store": _timed(_vectors)}
    if get_settings().redis_url:
        components["redis"] = _timed(_redis)
    ok = all(components[name]["status"] == "up" for name in REQUIRED)
    whole = all(c["status"] == "up" for c in components.values())
    body: dict[str, Any] = {"status": "ok" if whole else "degraded", "components": components}
    if get_settings().email_enabled and components["database"]["status"] == "up":
        # Informational: a mail server outage delays email but does not make the app unready.
        body["email"] = _email_backlog()
    return ok, body


def _email_backlog() -> dict[str, Any]:
    from app.db import session_scope
    from app.services.mail.outbox import backlog

    try:
        with session_scope() as session:
            return backlog(session)
    except Exception as exc:  # health reports, never raises
        return {"error": type(exc).__name__}
