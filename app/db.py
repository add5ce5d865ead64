"""Engine, sessions, migrations and the tenant-scoped query helpers.

`TenantScope` is the one door to tenant data: it refuses to exist without a tenant id and
adds `tenant_id = :tenant` to every read, so an id from another workspace behaves exactly
like an id that does not exist.

Defence in depth (PostgreSQL): the same rule lives in the database as row-level security
(app/rls.py, migration 0013). `TenantScope` binds its tenant to the session, and every
transaction of that session starts with `set_config('app.tenant_id', :tenant, true)`; a query
that forgot `TenantScope` sees no rows and cannot write another tenant's. The few paths that
are cross-tenant by nature open `session_scope(system="why")` or `cross_tenant(session, "why")`
(login by email, key lookup by hash, public widget lookups, job claims, purges, deliveries);
that list is in the README. It only bites when the app connects as a role without SUPERUSER or
BYPASSRLS (README "Row-level security"); SQLite has no RLS and ignores all of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, create_engine, select
from sqlmodel.sql.expression import SelectOfScalar

from app.models import TenantOwned
from app.rls import BYPASS_KEY, bind_tenant
from app.rls import cross_tenant as cross_tenant  # re-exported: services import it from here
from app.settings import Settings, get_settings

T = TypeVar("T", bound=TenantOwned)

ROOT = Path(__file__).resolve().parent.parent

_engine: Engine | None = None
CONNECT_TIMEOUT_S = 5
_engine_lock = threading.Lock()


class TenantRequiredError(ValueError):
    """A tenant-scoped operation was called without a tenant."""


class NotFoundError(LookupError):
    """The row does not exist in this tenant (or at all: callers cannot tell)."""


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Enough pooled connections for the backend's thread pool (BACKEND_THREADS, 32):
            # with SQLAlchemy's default (5 kept) busy turns opened and closed overflow
            # connections, each paying the connect pragmas below.
            kwargs.setdefault("pool_size", 20)
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the ingestion worker write while pages read; FKs are off by default.
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # pre-ping: a pool whose server restarted drops the dead connections and reconnects by
    # itself; connect_timeout: an unreachable server fails a request in seconds, never hangs it.
    kwargs.setdefault("connect_args", {"connect_timeout": CONNECT_TIMEOUT_S})
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, **kwargs)


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean "the database cannot be reached right now" (a restart, a
    failover, the network): the request may be retried, so they answer 503, not 500."""
    if isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.TimeoutError
        | sa_exc.DisconnectionError,
    ):
        return True
    return isinstance(exc, sa_exc.DBAPIError) and bool(exc.connection_invalidated)


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = make_engine(get_settings().resolved_database_url)
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Point the app at another engine (tests); None forgets the current one."""
    global _engine
    _engine = engine


@contextmanager
def session_scope(
    engine: Engine | None = None, *, system: str | None = None, info: dict[str, Any] | None = None
) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on error. `system="why"` opens it
    cross-tenant (the row-level policy lifted for the whole unit): only for work that is
    about no one tenant (a job claim, a purge, a lookup by a global secret). `info` seeds
    `session.info` (tests)."""
    factory = sessionmaker(bind=engine or get_engine(), class_=Session, expire_on_commit=False)
    session = factory(info={**(info or {}), **({BYPASS_KEY: system} if system else {})})
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def run_migrations(settings: Settings | None = None, url: str | None = None) -> None:
    """Bring the schema to the newest Alembic revision (idempotent)."""
    from alembic.config import Config

    from alembic import command

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    target = url or (settings or get_settings()).resolved_database_url
    if target.startswith("sqlite:///"):
        Path(target.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    cfg.attributes["database_url"] = target
    command.upgrade(cfg, "head")


class TenantScope:
    """Reads and writes of one tenant's rows. Construct it only from a server-side identity."""

    def __init__(self, session: Session, tenant_id: str | None) -> None:
        if not tenant_id or not isinstance(tenant_id, str):
            raise TenantRequiredError("a tenant id is required for tenant data")
        self.session = session
        self.tenant_id = tenant_id
        bind_tenant(session, tenant_id)

    def _bound(self) -> Session:
        # Several scopes may share a session: the one about to run binds its tenant again
        # (a dict lookup when it already is; one set_config when the tenant changes).
        bind_tenant(self.session, self.tenant_id)
        return self.session

    def select(self, model: type[T]) -> SelectOfScalar[T]:
        self._bound()
        return select(model).where(model.tenant_id == self.tenant_id)

    def get(self, model: type[T], row_id: str | None) -> T:
        """The row with this id in this tenant, else NotFoundError (also for other tenants)."""
        if not row_id:
            raise NotFoundError(model.__name__)
        row = self._bound().get(model, row_id)
        if row is None or row.tenant_id != self.tenant_id:
            raise NotFoundError(model.__name__)
        return row

    def find(self, model: type[T], row_id: str | None) -> T | None:
        try:
            return self.get(model, row_id)
        except NotFoundError:
            return None

    def all(
        self, model: type[T], *conditions: Any, order_by: Any = None, limit: int = 500
    ) -> list[T]:
        query = self.select(model).where(*conditions)
        if order_by is not None:
            query = query.order_by(order_by)
        return list(self._bound().exec(query.limit(limit)))

    def add(self, row: T) -> T:
        """Stamp the row with this tenant; refuse a row that names another."""
        if getattr(row, "tenant_id", None) not in (None, "", self.tenant_id):
            raise TenantRequiredError("row belongs to another tenant")
        row.tenant_id = self.tenant_id
        self._bound().add(row)
        return row

    def delete(self, model: type[T], row_id: str) -> None:
        self.session.delete(self.get(model, row_id))
