"""Row-level security on PostgreSQL: the database's own copy of the tenant rule.

`TenantScope` (app/db.py) adds `tenant_id = :tenant` to every query it builds; that is the
rule. This module makes PostgreSQL enforce it a second time, for the queries that forget:

* Migration 0013 gives every table with a `tenant_id` column a policy `tenant_isolation`:
  a row is visible and writable only when its tenant equals the transaction's
  `app.tenant_id` setting, or when the transaction set `app.rls_bypass = 'on'`.
* A session remembers its tenant in `session.info` (set by `TenantScope`); at the start of
  every transaction the `after_begin` hook below runs one `set_config(..., true)` statement
  (transaction-local, so a pooled connection never carries a tenant into the next request).
* Work that is cross-tenant by nature (finding the account behind an email or an API key,
  a visitor's widget by its public id, workers claiming the next job of any tenant,
  retention purges, migrations) says so with `cross_tenant(session, reason)`, which sets
  the bypass for that block only.

A session with neither a tenant nor a bypass sets nothing: on a non-superuser role it sees
no tenant rows at all. Superusers and roles with BYPASSRLS skip policies entirely, so the
app must connect as an ordinary role (README: "Row-level security") for any of this to
bite. SQLite has no RLS: every function here is a no-op there.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

TENANT_KEY = "rls_tenant_id"
BYPASS_KEY = "rls_bypass"
# Tests only: a session the test itself opened to look at the database reads across tenants
# while no scope has bound a tenant (tests/conftest.py); once a service binds one, the
# policy applies to the rest of that session like anywhere else.
INSPECT_KEY = "rls_test_inspection"
POLICY = "tenant_isolation"
# The policy expression, shared by the migration and the test that checks every table has it.
POLICY_EXPR = (
    "(tenant_id = current_setting('app.tenant_id', true)) "
    "OR (current_setting('app.rls_bypass', true) = 'on')"
)
_SET = text(
    "SELECT set_config('app.tenant_id', :tenant, true), set_config('app.rls_bypass', :bypass, true)"
)


def _bypassed(info: dict[str, Any]) -> bool:
    return bool(info.get(BYPASS_KEY) or (info.get(INSPECT_KEY) and not info.get(TENANT_KEY)))


def _apply(connection: Connection, info: dict[str, Any]) -> None:
    connection.execute(
        _SET,
        {
            "tenant": info.get(TENANT_KEY) or "",
            "bypass": "on" if _bypassed(info) else "off",
        },
    )


@event.listens_for(Session, "after_begin")
def _set_tenant_on_begin(session: Session, _transaction: Any, connection: Connection) -> None:
    if connection.dialect.name != "postgresql":
        return
    if session.info.get(TENANT_KEY) or _bypassed(session.info):
        _apply(connection, session.info)


class UnscopedQueryError(RuntimeError):
    """(STRICT mode, tests) An ORM query touched a tenant table in a session bound to no
    tenant and not cross-tenant: on PostgreSQL it would silently see no rows."""


# Tests turn this on when they run as the non-superuser role: a query that row-level security
# would silently empty fails loudly instead (production keeps the silent, safe behaviour).
STRICT = False


@event.listens_for(Session, "do_orm_execute")
def _refuse_unscoped(state: Any) -> None:
    info = state.session.info
    if not STRICT or info.get(TENANT_KEY) or _bypassed(info):
        return
    tenant_tables = [m.class_.__name__ for m in state.all_mappers if _tenant_owned(m)]
    if tenant_tables and state.session.get_bind().dialect.name == "postgresql":
        raise UnscopedQueryError(
            f"query on {', '.join(tenant_tables)} without a TenantScope or cross_tenant()"
        )


def _tenant_owned(mapper: Any) -> bool:
    return "tenant_id" in mapper.columns


def _live_connection(session: Session) -> Connection | None:
    """The connection the session's transaction already holds, else None (then `after_begin`
    will apply the settings when one is taken, at no extra round trip)."""
    trans = session.get_transaction()
    if trans is None or not getattr(trans, "_connections", None):
        return None
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":
        return None
    return session.connection()


def _sync(session: Session) -> None:
    connection = _live_connection(session)
    if connection is not None:
        _apply(connection, session.info)


def bind_tenant(session: Session, tenant_id: str) -> None:
    """Make `tenant_id` the tenant of this session's transactions (the last scope wins)."""
    previous = session.info.get(TENANT_KEY)
    if previous == tenant_id:
        return
    if (
        previous
        and (session.new or session.dirty or session.deleted)
        and session.get_bind().dialect.name == "postgresql"
    ):
        session.flush()  # what the previous tenant's scope added is written as that tenant
    session.info[TENANT_KEY] = tenant_id
    _sync(session)


@contextmanager
def cross_tenant(session: Session, reason: str) -> Iterator[Session]:
    """Lift the row-level policy for this block of this session. `reason` names why the work
    is legitimately cross-tenant (kept on the session for debugging; see the README list)."""
    previous = session.info.get(BYPASS_KEY)
    session.info[BYPASS_KEY] = reason
    _sync(session)
    failed = False
    try:
        yield session
    except BaseException:
        failed = True
        raise
    finally:
        if previous is None:
            session.info.pop(BYPASS_KEY, None)
        else:
            session.info[BYPASS_KEY] = previous
        try:
            _sync(session)
        except sa_exc.SQLAlchemyError:
            # An aborted transaction cannot run the reset; it is rolled back anyway and the
            # next transaction starts from the restored session.info.
            if not failed:
                raise


def bypass_connection(connection: Connection) -> None:
    """Lift the policy for the current transaction of a Core connection (migrations, raw
    maintenance SQL). Transaction-local: it ends with the transaction."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT set_config('app.rls_bypass', 'on', true)"))


# --- migrations -------------------------------------------------------------------------


def tenant_tables(bind: Connection) -> list[str]:
    """Every table of the connection's current schema that has a tenant_id column."""
    from sqlalchemy import inspect

    inspector = inspect(bind)
    return sorted(
        table
        for table in inspector.get_table_names()
        if any(col["name"] == "tenant_id" for col in inspector.get_columns(table))
    )


def enable_tenant_rls(op: Any, table: str) -> None:
    """For migrations: give `table` (it has a tenant_id column) the tenant policy, enabled and
    FORCEd (so it binds a non-superuser owner too). Idempotent; a no-op on SQLite. A migration
    that creates a tenant table calls `enable_tenant_rls(op, "its_table")`."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quoted = bind.dialect.identifier_preparer.quote(table)
    op.execute(f"ALTER TABLE {quoted} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {quoted} FORCE ROW LEVEL SECURITY")
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {quoted}")
    op.execute(
        f"CREATE POLICY {POLICY} ON {quoted} USING ({POLICY_EXPR}) WITH CHECK ({POLICY_EXPR})"
    )


def disable_tenant_rls(op: Any, table: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    quoted = bind.dialect.identifier_preparer.quote(table)
    op.execute(f"DROP POLICY IF EXISTS {POLICY} ON {quoted}")
    op.execute(f"ALTER TABLE {quoted} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {quoted} DISABLE ROW LEVEL SECURITY")
