"""Shared fixtures. The suite runs on embedded defaults in a throwaway DATA_DIR; the
scale-out cases use the machine's PostgreSQL and Redis (skipped with a reason when absent,
failed instead when CHATCONNECT_REQUIRE_SERVICES=1, as in CI)."""

from __future__ import annotations

import os
import secrets
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

_TMP = Path(tempfile.mkdtemp(prefix="chatconnect-tests-"))
for _name in (
    "DATABASE_URL",
    "REDIS_URL",
    "QDRANT_URL",
    "QDRANT_API_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "PUBLIC_URL",
    "SMTP_URL",
    "EMAIL_FROM",
):
    os.environ.pop(_name, None)
os.environ["DATA_DIR"] = str(_TMP / "data")
os.environ["SECRET_KEY"] = secrets.token_urlsafe(48)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from sqlalchemy import Engine, text  # noqa: E402

from app import db as app_db  # noqa: E402
from app import rls as app_rls  # noqa: E402
from app.services.throttle import reset_login_throttle  # noqa: E402
from app.settings import reset_settings_cache  # noqa: E402

POSTGRES_URL = os.environ.get("POSTGRES_TEST_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REDIS_URL_TEST", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("CHATCONNECT_REQUIRE_SERVICES") == "1"
# The PostgreSQL tests migrate as the URL's user (a superuser here) and then run the app as
# APP_ROLE, an ordinary role: superusers skip row-level security, so only this way do the
# tests exercise the tenant policies (app/rls.py). POSTGRES_TEST_AS_OWNER=1 keeps the
# superuser for the whole test (to tell an RLS failure from any other).
APP_ROLE = "chatconnect_app"
PG_AS_APP_ROLE = os.environ.get("POSTGRES_TEST_AS_OWNER") != "1"


# The slowest modules (seconds in a serial run on the 2-core machine, December 2026), handed
# to the xdist workers first (`make test`: --dist loadfile --no-loadscope-reorder). With the
# long ones early and the many short ones last, the two workers finish together instead of
# one running a long browser module alone at the end. A stale list costs balance, never
# correctness: refresh it from a serial run's junit times when the suite's shape changes.
SLOWEST_MODULES = (
    "tests/e2e/test_cluster_browser.py",  # 88: two app processes, own frontend build
    "tests/integration/test_ingestion.py",  # 78
    "tests/e2e/test_email_browser.py",  # 74: own app server and frontend build
    "tests/e2e/test_dashboard_browser.py",  # 66
    "tests/integration/test_crawl.py",  # 62
    "tests/integration/test_chat.py",  # 48
    "tests/integration/test_workers.py",  # 47
    "tests/e2e/test_knowledge_browser.py",  # 44
    "tests/integration/test_actions.py",  # 33
    "tests/api/test_v1.py",  # 33
    "tests/e2e/test_team_browser.py",  # 29
    "tests/e2e/test_embed.py",  # 26
    "tests/e2e/test_widgets_browser.py",  # 26
    "tests/integration/test_catalogue_sync.py",  # 26
    "tests/e2e/test_convo_browser.py",  # 24
    "tests/api/test_schemathesis.py",  # 23
    "tests/integration/test_fault_redis.py",  # 23
    "tests/api/test_disconnect.py",  # 23
    "tests/integration/test_intent_mode.py",  # 23
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under xdist, the slowest modules first (a stable sort: the rest keep their order)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return  # a serial run keeps the plain collection order
    rank = {path: i for i, path in enumerate(SLOWEST_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def service_missing(reason: str) -> None:
    """Skip with a visible reason on a developer machine; fail in CI."""
    if REQUIRE_SERVICES:
        pytest.fail(f"required service unavailable: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fresh_singletons() -> Iterator[None]:
    reset_settings_cache()
    reset_login_throttle()
    yield
    reset_settings_cache()
    reset_login_throttle()


_app_role_ready = False
_TESTS_DIR = str(Path(__file__).resolve().parent)
_app_session_scope = app_db.session_scope


def _session_scope_for_tests(engine: Engine | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    """`session_scope` as the app has it, except for a session a test opens itself to look at
    the database: that one reads across tenants until a service in it binds a tenant
    (app/rls.py INSPECT_KEY). Sessions the app opens, and what services do once bound, meet
    the policies like in production."""
    import sys

    caller = sys._getframe(1).f_code.co_filename
    if caller.startswith(_TESTS_DIR):
        kwargs["info"] = {**(kwargs.get("info") or {}), app_rls.INSPECT_KEY: True}  # type: ignore[dict-item]
    return _app_session_scope(engine, **kwargs)  # type: ignore[arg-type]


if PG_AS_APP_ROLE:
    # Installed before any test module imports it (`from app.db import session_scope`).
    app_db.session_scope = _session_scope_for_tests  # type: ignore[assignment]
    # A query that row-level security would silently empty fails loudly instead.
    app_rls.STRICT = True


def _ensure_app_role(admin: Engine) -> None:
    """Create APP_ROLE once per cluster (idempotent, safe when several runs race)."""
    global _app_role_ready
    if _app_role_ready:
        return
    with admin.begin() as conn:
        conn.execute(
            text(
                "DO $$ BEGIN "
                f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        )
    _app_role_ready = True


def _as_app_role(owner: Engine, schema: str, *, force: bool = False) -> Engine:
    """The app's engine on a migrated schema: APP_ROLE with plain DML rights on it (no DDL,
    not the owner, no BYPASSRLS), so the tenant policies apply to everything it runs."""
    if not (PG_AS_APP_ROLE or force):
        return owner
    _ensure_app_role(owner)
    with owner.begin() as conn:
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO {APP_ROLE}'))
        conn.execute(
            text(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" '
                f"TO {APP_ROLE}"
            )
        )
        conn.execute(
            text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {APP_ROLE}')
        )
    owner.dispose()
    url = owner.url.set(username=APP_ROLE, password=None)
    return app_db.make_engine(url.render_as_string(hide_password=False))


def _postgres_engine(schema: str) -> Engine:
    from app.settings import Settings

    url = Settings(database_url=POSTGRES_URL).resolved_database_url
    admin = app_db.make_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        service_missing(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}")
    admin.dispose()
    sep = "&" if "?" in url else "?"
    return app_db.make_engine(f"{url}{sep}options=-csearch_path%3D{schema}")


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database on each backend; the app's engine points at it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        eng = app_db.make_engine(url)
        schema = None
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        owner = _postgres_engine(schema)
        app_db.run_migrations(url=owner.url.render_as_string(hide_password=False))
        eng = _as_app_role(owner, schema)
        url = eng.url.render_as_string(hide_password=False)
    if not schema:
        app_db.run_migrations(url=url)
    app_db.set_engine(eng)
    yield eng
    app_db.set_engine(None)
    eng.dispose()
    if schema:
        admin = _postgres_engine_admin()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _postgres_engine_admin() -> Engine:
    from app.settings import Settings

    return app_db.make_engine(Settings(database_url=POSTGRES_URL).resolved_database_url)


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    finally:
        client.close()
    return REDIS_URL
