"""Row-level security on PostgreSQL (app/rls.py, migration 0013): the database refuses what a
query that forgot `TenantScope` would otherwise read or write.

Runs as the ordinary role the PostgreSQL fixtures use (tests/conftest.py APP_ROLE): a
superuser skips every policy, so these tests build their own app-role engine whatever
POSTGRES_TEST_AS_OWNER says.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, text
from sqlalchemy import exc as sa_exc

from app import db as app_db
from app import rls
from app.db import TenantScope, cross_tenant
from app.models import Widget
from app.rls import POLICY
from app.services import accounts, api_keys, documents, leads, widgets
from tests.conftest import _app_session_scope as session_scope  # the app's, not the test one
from tests.conftest import _as_app_role, _postgres_engine, _postgres_engine_admin


@dataclass
class World:
    owner: Engine  # the migrating superuser: sees everything
    app: Engine  # the app's ordinary role: policies apply
    schema: str
    a: str
    b: str


def _tenant_tables(conn, schema: str) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(
        conn.execute(
            text(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = :s AND column_name = 'tenant_id'"
            ),
            {"s": schema},
        ).scalars()
    )


def _seed(engine: Engine, email: str, workspace: str) -> str:
    """One workspace with rows in several tenant tables, made by the services as the app role."""
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, email, "a-long-password", workspace)
        tenant_id = tenant.id
    with session_scope(engine) as s:
        widget = widgets.create_widget(s, tenant_id, f"{workspace} widget")
        api_keys.create_key(s, tenant_id, "k", ["chat"], widget_id=widget.id)
        documents.create_text_document(s, tenant_id, title="Manual", text=f"{workspace} manual")
        leads.create_lead(s, tenant_id, None, email=f"lead@{workspace}.io", consent=True)
    with session_scope(engine) as s:
        user = accounts.authenticate(s, email, "a-long-password")
        code = accounts.start_login(s, user)
    with session_scope(engine) as s:
        assert accounts.complete_login(s, code) is not None
    return tenant_id


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    schema = f"r_{uuid.uuid4().hex[:12]}"
    owner = _postgres_engine(schema)
    owner_url = owner.url.render_as_string(hide_password=False)
    app_db.run_migrations(url=owner_url)
    app = _as_app_role(owner, schema, force=True)
    owner = app_db.make_engine(owner_url)
    app_db.set_engine(app)
    try:
        a = _seed(app, "a@a.io", "alpha")
        b = _seed(app, "b@b.io", "beta")
        yield World(owner, app, schema, a, b)
    finally:
        app_db.set_engine(None)
        app.dispose()
        owner.dispose()
        admin = _postgres_engine_admin()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def test_every_table_with_a_tenant_id_has_the_forced_policy(world: World) -> None:
    """Fails when a later migration creates a tenant table without `enable_tenant_rls`."""
    with world.owner.connect() as conn:
        tables = _tenant_tables(conn, world.schema)
        rows = conn.execute(
            text(
                "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.qual, p.with_check "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "LEFT JOIN pg_policies p ON p.schemaname = n.nspname AND p.tablename = c.relname "
                "AND p.policyname = :policy WHERE n.nspname = :s AND c.relkind = 'r'"
            ),
            {"s": world.schema, "policy": POLICY},
        ).all()
    by_table = {r.relname: r for r in rows}
    assert len(tables) >= 25  # the schema really was found (every TenantOwned table and audit)
    missing = [
        t
        for t in tables
        if not (by_table[t].relrowsecurity and by_table[t].relforcerowsecurity)
        or "app.tenant_id" not in (by_table[t].qual or "")
        or "app.tenant_id" not in (by_table[t].with_check or "")
    ]
    assert missing == [], f"tenant tables without the {POLICY} policy: {missing}"


def test_raw_queries_see_no_rows_without_the_setting_and_one_tenant_with_it(world: World) -> None:
    with world.owner.connect() as conn:
        tables = _tenant_tables(conn, world.schema)
        total = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
        of_a = {
            t: conn.execute(
                text(f'SELECT count(*) FROM "{t}" WHERE tenant_id = :a'), {"a": world.a}
            ).scalar_one()
            for t in tables
        }
    populated = [t for t in tables if total[t] and total[t] > of_a[t] > 0]
    # Both workspaces have rows in these tables, so "no rows" and "only A's" mean something.
    assert {"membership", "auth_session", "widget", "api_key", "document", "lead"} <= set(
        populated
    ), populated
    with world.app.connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar_one() != "postgres"
        for t in tables:
            assert conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() == 0, t
        conn.rollback()
        with conn.begin():
            conn.execute(text("SELECT set_config('app.tenant_id', :a, true)"), {"a": world.a})
            for t in tables:
                seen = conn.execute(text(f'SELECT DISTINCT tenant_id FROM "{t}"')).scalars().all()
                assert seen == ([world.a] if of_a[t] else []), t
                count = conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                assert count == of_a[t], t
        # Transaction-local: the next transaction on the same pooled connection sees nothing.
        assert conn.execute(text('SELECT count(*) FROM "widget"')).scalar_one() == 0


def test_writes_naming_another_tenant_are_refused(world: World) -> None:
    with world.app.connect() as conn:
        with pytest.raises(sa_exc.ProgrammingError, match="row-level security"), conn.begin():
            conn.execute(text("SELECT set_config('app.tenant_id', :a, true)"), {"a": world.a})
            conn.execute(
                text(
                    "INSERT INTO widget SELECT * FROM json_populate_record(NULL::widget, "
                    "(SELECT to_jsonb(w) || jsonb_build_object('id', 'x' || substr(w.id, 2), "
                    "'tenant_id', CAST(:b AS text)) FROM widget w LIMIT 1)::json)"
                ),
                {"b": world.b},
            )
        with conn.begin():
            conn.execute(text("SELECT set_config('app.tenant_id', :a, true)"), {"a": world.a})
            with (
                pytest.raises(sa_exc.ProgrammingError, match="row-level security"),
                conn.begin_nested(),
            ):
                conn.execute(text("UPDATE widget SET tenant_id = :b"), {"b": world.b})
            # B's rows cannot be touched from A's transaction: zero rows, not an error.
            gone = conn.execute(text("DELETE FROM widget WHERE tenant_id = :b"), {"b": world.b})
            assert gone.rowcount == 0
    with session_scope(world.owner) as s:
        assert set(s.execute(text("SELECT tenant_id FROM widget")).scalars()) == {
            world.a,
            world.b,
        }


def test_the_orm_path_binds_the_scope_tenant_and_the_bypass_is_scoped(world: World) -> None:
    with session_scope(world.app) as s:
        # No scope: nothing.
        assert s.execute(text("SELECT count(*) FROM widget")).scalar_one() == 0
        # A scope binds its tenant to the running transaction.
        assert [w.tenant_id for w in TenantScope(s, world.a).all(Widget)] == [world.a]
        assert s.execute(text("SELECT count(*) FROM widget")).scalar_one() == 1
        with cross_tenant(s, "test"):
            assert s.execute(text("SELECT count(*) FROM widget")).scalar_one() == 2
        assert s.execute(text("SELECT count(*) FROM widget")).scalar_one() == 1
        s.commit()  # the next transaction gets the tenant again from after_begin
        assert s.execute(text("SELECT count(*) FROM widget")).scalar_one() == 1
    with session_scope(world.app) as s:
        # A service that adds a row for another tenant under A's binding is refused by the
        # database even though the ORM would let it through.
        TenantScope(s, world.a)
        s.add(Widget(name="forged", tenant_id=world.b))
        with pytest.raises(sa_exc.ProgrammingError, match="row-level security"):
            s.flush()
        s.rollback()
    with session_scope(world.app, system="test: a whole unit cross-tenant") as s:
        assert s.execute(text("SELECT count(*) FROM widget")).scalar_one() == 2


def test_strict_mode_makes_an_unscoped_orm_query_loud(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the test suite runs with (tests/conftest.py): a query that row-level security
    would silently empty raises instead, so a forgotten scope cannot pass a test."""
    from sqlmodel import select

    monkeypatch.setattr(rls, "STRICT", True)
    with session_scope(world.app) as s:
        with pytest.raises(rls.UnscopedQueryError, match="Widget"):
            s.exec(select(Widget)).all()
        assert len(TenantScope(s, world.b).all(Widget)) == 1
    with session_scope(world.app) as s, cross_tenant(s, "test"):
        assert len(s.exec(select(Widget)).all()) == 2


def test_downgrade_removes_the_policies_and_upgrade_restores_them() -> None:
    from alembic.config import Config

    from alembic import command

    schema = f"r_{uuid.uuid4().hex[:12]}"
    owner = _postgres_engine(schema)
    url = owner.url.render_as_string(hide_password=False)
    cfg = Config(str(app_db.ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(app_db.ROOT / "alembic"))
    cfg.attributes["database_url"] = url

    def policies() -> int:
        with owner.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM pg_policies WHERE schemaname = :s AND policyname = :p"),
                {"s": schema, "p": POLICY},
            ).scalar_one()

    try:
        command.upgrade(cfg, "head")
        with owner.connect() as conn:
            tables = _tenant_tables(conn, schema)
        assert policies() == len(tables) >= 25
        command.downgrade(cfg, "-1")  # 0013 is the last revision
        assert policies() == 0
        command.upgrade(cfg, "head")
        assert policies() == len(tables)
    finally:
        owner.dispose()
        admin = _postgres_engine_admin()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
