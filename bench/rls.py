"""What row-level security costs on PostgreSQL: one tenant-scoped unit of work (a session,
`TenantScope.all(Widget)` and `TenantScope.get(Widget, id)`, commit), timed three ways:

* owner:        the migrating superuser; policies skipped and no set_config (as before 0013)
* owner+set:    the superuser with the per-transaction set_config (the round trip alone)
* app role:     an ordinary role: set_config + the policy evaluated on every row (production)

    python -m bench.rls            # POSTGRES_URL (default: the test database) ; N=1000

Runs in a throwaway schema of its own, removed at the end. Writes bench/results/rls.json.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from app import db as app_db
from app import rls
from app.db import TenantScope, session_scope
from app.models import Widget
from app.services import accounts, widgets
from app.settings import Settings
from bench.common import RESULTS

URL = os.environ.get(
    "POSTGRES_URL", os.environ.get("POSTGRES_TEST_URL", "postgresql://postgres@127.0.0.1/test")
)
N = int(os.environ.get("N", "200"))  # units per round and configuration
ROUNDS = int(os.environ.get("ROUNDS", "20"))  # interleaved, so load drifts hit all three alike
ROLE = "chatconnect_app"


def _setup() -> tuple[str, Engine, Engine]:
    base = Settings(database_url=URL).resolved_database_url
    schema = f"bench_rls_{uuid.uuid4().hex[:8]}"
    admin = app_db.make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        conn.execute(
            text(
                "DO $$ BEGIN CREATE ROLE chatconnect_app LOGIN NOSUPERUSER NOBYPASSRLS; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        )
    admin.dispose()
    owner_url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    app_db.run_migrations(url=owner_url)
    owner = app_db.make_engine(owner_url)
    with owner.begin() as conn:
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {ROLE}'))
        conn.execute(
            text(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {ROLE}'
            )
        )
    app = app_db.make_engine(owner.url.set(username=ROLE).render_as_string(hide_password=False))
    return schema, owner, app


def _seed(engine: Engine) -> tuple[str, list[str]]:
    """Ten workspaces of 20 widgets each; returns one workspace and its widget ids."""
    ids: list[str] = []
    tenant_id = ""
    for n in range(10):
        with session_scope(engine) as s:
            _, tenant = accounts.sign_up(s, f"o{n}@bench.io", "a-long-password", f"W{n}")
        with session_scope(engine) as s:
            made = [widgets.create_widget(s, tenant.id, f"w{i}").id for i in range(20)]
        if n == 0:
            tenant_id, ids = tenant.id, made
    return tenant_id, ids


def _unit(engine: Engine, tenant_id: str, widget_id: str) -> None:
    with session_scope(engine) as s:
        scope = TenantScope(s, tenant_id)
        assert len(scope.all(Widget)) == 20
        scope.get(Widget, widget_id)


def _time(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    for _ in range(N):
        fn()
    return (time.perf_counter() - start) / N * 1000


def _statements(engine: Engine, tenant_id: str, n: int = 2000) -> float:
    """ms per SELECT of one tenant's 20 widgets, on one connection in one transaction with
    the tenant set: the policy's own cost, without pool, commit or set_config round trips."""
    query = text("SELECT id, name FROM widget WHERE tenant_id = :t")
    with engine.connect() as conn:
        conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": tenant_id})
        for _ in range(50):
            conn.execute(query, {"t": tenant_id}).all()
        start = time.perf_counter()
        for _ in range(n):
            assert len(conn.execute(query, {"t": tenant_id}).all()) == 20
        return (time.perf_counter() - start) / n * 1000


def main() -> dict[str, Any]:
    schema, owner, app = _setup()
    listener = rls._set_tenant_on_begin
    try:
        tenant_id, ids = _seed(owner)
        runs: dict[str, list[float]] = {"owner": [], "owner+set": [], "app role": []}

        def owner_plain() -> None:
            _unit(owner, tenant_id, ids[3])

        for fn in (owner_plain, lambda: _unit(app, tenant_id, ids[3])):
            for _ in range(50):
                fn()  # warm pools and plans
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        for _ in range(ROUNDS):
            event.remove(Session, "after_begin", listener)
            try:
                runs["owner"].append(_time(owner_plain))
            finally:
                event.listen(Session, "after_begin", listener)
            runs["owner+set"].append(_time(owner_plain))
            runs["app role"].append(_time(lambda: _unit(app, tenant_id, ids[3])))
        statements: dict[str, list[float]] = {"owner": [], "app role": []}
        for _ in range(ROUNDS // 2):
            statements["owner"].append(_statements(owner, tenant_id))
            statements["app role"].append(_statements(app, tenant_id))
        median = {k: round(statistics.median(v), 3) for k, v in runs.items()}
        per_statement = {k: round(min(v), 4) for k, v in statements.items()}
        best = {k: round(min(v), 3) for k, v in runs.items()}
        result = {
            "units_per_round": N,
            "rounds": ROUNDS,
            "unit": "session + TenantScope.all(Widget) (20 of 200 rows) + get + commit",
            "load_average_1m": round(os.getloadavg()[0], 2),
            "ms_per_unit_median": median,
            "ms_per_unit_best_round": best,
            "ratio_set_config_median": round(median["owner+set"] / median["owner"], 3),
            "ratio_rls_median": round(median["app role"] / median["owner"], 3),
            "ratio_set_config_best": round(best["owner+set"] / best["owner"], 3),
            "ratio_rls_best": round(best["app role"] / best["owner"], 3),
            "select_ms_best_round": per_statement,
            "ratio_policy_per_select": round(per_statement["app role"] / per_statement["owner"], 3),
            "runs_ms": {k: [round(x, 3) for x in v] for k, v in runs.items()},
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "rls.json").write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result, indent=2))
        return result
    finally:
        app.dispose()
        with owner.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        owner.dispose()


if __name__ == "__main__":
    main()
