"""compose.yaml and the Dockerfile, checked as far as this machine allows (no containers).

- compose.yaml validates against the Compose Specification's JSON schema (vendored in
  tests/support/compose-spec.json, from compose-spec/compose-spec, Apache-2.0);
- its shape is the scale-out recipe: the services, health checks, the migration step
  first, shared volumes, app replicas without in-process ingestion, a proxy over all of them;
- the commands it and the Dockerfile run are exercised for real: the migration step on a
  fresh PostgreSQL schema, the worker's health command, and the app's health command
  (curl) against the API served on a free port, healthy and with its database gone.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from sqlalchemy import Engine, text

from app import db as app_db
from tests.api.live_server import LiveServer
from tests.conftest import _postgres_engine, _postgres_engine_admin

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "tests" / "support" / "compose-spec.json"
APPS = ("app1", "app2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def command_of(compose: dict[str, Any], service: str) -> list[str]:
    return compose["services"][service]["command"]


def shell_of(test: list[str]) -> str:
    """A compose healthcheck `test` as the shell line the container runs ($$ -> $)."""
    kind, *rest = test
    line = rest[0] if kind == "CMD-SHELL" else shlex.join(rest)
    return line.replace("$$", "$")


def run(
    args: list[str] | str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    if isinstance(args, list) and args[0] == "python":  # the image's python is this venv's
        args = [sys.executable, *args[1:]]
    base = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "QDRANT_URL", "REDIS_URL")
    }
    return subprocess.run(
        args,
        shell=isinstance(args, str),
        cwd=ROOT,
        env={**base, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text()))
    errors = [str(e) for e in validator.iter_errors(compose)]
    assert errors == []
    broken = {**compose, "services": {**compose["services"], "x": {"healthcheck": {"tset": 1}}}}
    assert not validator.is_valid(broken)  # the validator does reject a bad file


def test_compose_is_the_scale_out_recipe(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "redis", "qdrant", "migrate", *APPS, "worker", "proxy"}
    for name, service in services.items():
        if name != "migrate":  # a one-shot step; everything else is watched
            assert service["healthcheck"]["test"], name
    assert command_of(compose, "migrate") == ["python", "-m", "app.manage", "migrate"]
    assert command_of(compose, "worker")[:3] == ["python", "-m", "app.worker"]
    data_dir = re.search(r"DATA_DIR=(\S+)", dockerfile()).group(1)  # type: ignore[union-attr]
    for name in (*APPS, "worker"):
        service = services[name]
        deps = service["depends_on"]
        assert deps["migrate"]["condition"] == "service_completed_successfully"
        for backend in ("db", "redis", "qdrant"):
            assert deps[backend]["condition"] == "service_healthy"
        env = service["environment"]
        assert env["INGEST_WORKERS"] == "0"  # ingestion is the worker's job
        assert (
            env["DATABASE_URL"].startswith("postgresql://") and "@db:5432/" in env["DATABASE_URL"]
        )
        assert (
            env["REDIS_URL"].startswith("redis://redis:")
            and env["QDRANT_URL"] == "http://qdrant:6333"
        )
        assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")  # refuses to start without one
        # The app that receives an upload and the worker that indexes it see the same files.
        assert f"files:{data_dir}" in service["volumes"]
    named = set(compose["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in named
    proxy = services["proxy"]
    caddyfile = compose["configs"][proxy["configs"][0]["source"]]["content"]
    port = re.search(r"PORT=(\d+)", dockerfile()).group(1)  # type: ignore[union-attr]
    assert (
        all(f"{app}:{port}" in caddyfile for app in APPS) and "health_uri /api/health" in caddyfile
    )
    assert all(proxy["depends_on"][app]["condition"] == "service_healthy" for app in APPS)


def test_qdrant_image_matches_the_client(compose: dict[str, Any]) -> None:
    tag = compose["services"]["qdrant"]["image"].split(":v")[1]
    client = re.search(r"^qdrant-client==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert client and tag.split(".")[:2] == client.group(1).split(".")[:2]


@pytest.fixture
def fresh_schema() -> Iterator[str]:
    schema = f"m_{uuid.uuid4().hex[:12]}"
    engine = _postgres_engine(schema)
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    yield url
    admin = _postgres_engine_admin()
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


@pytest.mark.slow
def test_migration_step_and_worker_health_command(
    compose: dict[str, Any], fresh_schema: str
) -> None:
    migrate = run(command_of(compose, "migrate"), {"DATABASE_URL": fresh_schema})
    assert migrate.returncode == 0, migrate.stderr
    assert "database ready" in migrate.stdout
    health = compose["services"]["worker"]["healthcheck"]["test"]
    assert health[0] == "CMD"
    refused = run(health[1:], {"DATABASE_URL": fresh_schema})
    assert refused.returncode == 2 and "needs QDRANT_URL" in refused.stderr
    # Schema current, Qdrant unreachable: unhealthy, with a one-line reason.
    down = run(health[1:], {"DATABASE_URL": fresh_schema, "QDRANT_URL": "http://127.0.0.1:9"})
    assert down.returncode == 1 and "worker not ready" in down.stderr
    assert "Traceback" not in down.stderr


@pytest.mark.slow
def test_app_health_command_against_the_served_api(compose: dict[str, Any], pg: Engine) -> None:
    docker_line = re.search(r"HEALTHCHECK[^\n]*\n\s*CMD (.+)", dockerfile()).group(1)  # type: ignore[union-attr]
    compose_line = shell_of(compose["services"]["app1"]["healthcheck"]["test"])
    with LiveServer() as server:
        env = {"PORT": str(server.port)}
        for line in (docker_line, compose_line):
            assert run(line, env, timeout=30).returncode == 0, line
        gone = app_db.make_engine("postgresql+psycopg://postgres@127.0.0.1:9/none")
        app_db.set_engine(gone)
        try:
            for line in (docker_line, compose_line):
                assert run(line, env, timeout=30).returncode != 0, line  # 503: unhealthy
        finally:
            app_db.set_engine(pg)
            gone.dispose()


def test_compose_runs_the_app_as_an_ordinary_role_and_migrates_as_the_owner(
    compose: dict[str, Any],
) -> None:
    """Row-level security only binds roles without SUPERUSER/BYPASSRLS: the compose app and
    worker use the role the db service's init script creates; migrations use the owner."""
    services = compose["services"]
    for name in (*APPS, "worker"):
        assert services[name]["environment"]["DATABASE_URL"].startswith(
            "postgresql://chatconnect_app:"
        )
    migrate_url = services["migrate"]["environment"]["DATABASE_URL"]
    assert migrate_url.startswith("postgresql://chatconnect:")
    assert services["migrate"]["environment"]["SECRET_KEY"].startswith("${SECRET_KEY:?")

    # The init script itself, run the way the postgres image runs it, against this machine's
    # server: a throwaway role and schema stand in for chatconnect_app and public.
    (mount,) = services["db"]["configs"]
    assert mount["target"].startswith("/docker-entrypoint-initdb.d/")
    script = compose["configs"][mount["source"]]["content"].replace("$$", "$")
    role, schema = f"cc_app_{uuid.uuid4().hex[:8]}", f"m_{uuid.uuid4().hex[:12]}"
    script = (
        script.replace("chatconnect_app", role)
        .replace("FOR ROLE chatconnect", "FOR ROLE postgres")
        .replace("SCHEMA public", f'SCHEMA "{schema}"')
    )
    env = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "POSTGRES_USER": "postgres",
        "POSTGRES_DB": "test",
        "APP_DB_PASSWORD": "pw-" + uuid.uuid4().hex,
    }
    admin = _postgres_engine_admin()
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        subprocess.run(["sh", "-c", script], env=env, check=True, capture_output=True, timeout=30)
        with admin.begin() as conn:
            # A table the owner creates later (as migrations do) is usable by the app role.
            conn.execute(text(f'CREATE TABLE "{schema}".later (id int)'))
            flags = conn.execute(
                text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :r"), {"r": role}
            ).one()
            assert tuple(flags) == (False, False)
            conn.execute(text(f"SET ROLE {role}"))
            conn.execute(text(f'INSERT INTO "{schema}".later VALUES (1)'))
            assert conn.execute(text(f'SELECT count(*) FROM "{schema}".later')).scalar() == 1
            conn.execute(text("RESET ROLE"))
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            if _role_exists(conn, role):
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


def _role_exists(conn: Any, role: str) -> bool:
    return bool(
        conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    )


def test_image_serves_the_build_it_made_without_rebuilding() -> None:
    """The image exports the frontend at build time and starts `python -m app.serve`, the
    command the two-process browser test (tests/support/cluster.py) runs for real."""
    text_ = dockerfile()
    assert "reflex export --frontend-only" in text_
    cmd = re.findall(r"^CMD (\[.*\])$", text_, re.M)
    assert json.loads(cmd[-1]) == ["python", "-m", "app.serve"]
    assert '"-m", "app.serve"' in (ROOT / "tests" / "support" / "cluster.py").read_text()
    # Flags and defaults: the port comes from PORT like everywhere else; bad flags fail.
    done = run(["python", "-m", "app.serve", "--help"], {})
    assert done.returncode == 0 and "--port" in done.stdout
    assert run(["python", "-m", "app.serve", "--loglevel", "loud"], {}).returncode == 2
