"""Two ChatConnect app processes on PostgreSQL + Redis behind a switchable loopback proxy.

The scale-out shape of the README's recipe, on one machine:

- PostgreSQL: a fresh schema of its own in the machine's server, migrated by the release
  step (`python -m app.manage migrate`), as compose.yaml's `migrate` service does;
- Redis: a throwaway `redis-server` of its own (tests may stop and restart it), carrying
  Reflex's state manager, rate limits, caches, login throttling and the live relay;
- the frontend built once (`reflex export --frontend-only`, as the Dockerfile does) for the
  proxy's URL (the build embeds it), into a web folder of its own;
- two app processes (`python -m app.serve`, the image's command: the prod backend `reflex run
  --env prod` starts, one Granian worker each, `INGEST_WORKERS=0`) each serving that build;
- `SwitchProxy`: a TCP proxy the browser talks to. It sends new connections to the
  active backend; `route(i)` switches (and cuts the connections it holds, as a load
  balancer does when a replica goes), `kill(i)` is `kill -9` of that process.

What is NOT shared: vectors. The embedded Qdrant Edge shard belongs to one process
(ShardInUseError for a second opener) and a Qdrant server is not installable here, so each
process has its own `DATA_DIR` (own shard, own upload folder), and the seeded workspaces
answer from what the database holds (Q&A pairs) or from a model (tests/support/fake_llm.py)
on an empty knowledge base.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, text

from app import db as app_db
from tests.support.own_services import OwnRedis, free_port
from tests.support.parallel import frontend_build_lock, per_worker

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = per_worker(ROOT / ".web-cluster")
STATES_DIR = per_worker(ROOT / ".states-cluster")
START_TIMEOUT_S = 240
DROPPED_ENV = ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "SMTP_URL", "EMAIL_FROM")


class SwitchProxy:
    """A loopback TCP proxy (HTTP and websockets pass through) with one active backend."""

    def __init__(self, targets: list[int]) -> None:
        self.targets = targets
        self.active = 0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = [0] * len(targets)  # accepted per backend, for the tests
        self.refused = 0  # connections whose backend did not answer (closed at once)
        # Open connections stay open and carry nothing (a network gone quiet): bytes read
        # are dropped. `route` ends it.
        self.frozen = False
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.base_events.Server | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if self.frozen:
                    continue
                writer.write(data)
                await writer.drain()
        with contextlib.suppress(OSError, RuntimeError):
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.active
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.targets[index])
        except OSError:
            self.refused += 1
            writer.close()
            return
        self.connections[index] += 1
        self._open.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self._open.difference_update((writer, up_writer))

    def _cut_all(self) -> None:
        for writer in list(self._open):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        self._open.clear()

    def freeze(self) -> None:
        """Open connections go quiet: neither side's bytes reach the other, nobody is told."""
        self.frozen = True

    def route(self, index: int, cut: bool = True) -> None:
        """New connections go to backend `index`; with `cut`, open ones are closed."""
        self.active = index

        def cut_and_thaw() -> None:  # a frozen connection is cut before it could carry more
            if cut:
                self._cut_all()
            self.frozen = False

        self._loop.call_soon_threadsafe(cut_and_thaw)

    def start(self) -> SwitchProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        def close() -> None:
            self._cut_all()
            if self._server is not None:
                self._server.close()
            self._loop.stop()

        self._loop.call_soon_threadsafe(close)
        self._thread.join(10)


@dataclass
class Backend:
    index: int
    port: int
    data_dir: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Cluster:
    tmp: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    redis: OwnRedis = field(default_factory=OwnRedis)
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(48))
    schema: str = field(default_factory=lambda: f"cl_{uuid.uuid4().hex[:12]}")
    backends: list[Backend] = field(default_factory=list)
    proxy: SwitchProxy | None = None
    database_url: str = ""
    engine: Engine | None = None
    timings: dict[str, float] = field(default_factory=dict)

    # ---- setup ---------------------------------------------------------------------

    def _env(self, port: int | None = None, data_dir: Path | None = None) -> dict[str, str]:
        assert self.proxy is not None
        env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis.url,
            SECRET_KEY=self.secret_key,
            PUBLIC_URL=self.proxy.url,
            PORT=str(port or self.proxy.port),
            DATA_DIR=str(data_dir or self.tmp / "build-data"),
            INGEST_WORKERS="0",
            GRANIAN_WORKERS="1",  # one Edge shard per process: one worker per process
            HF_HUB_OFFLINE="1",
            REFLEX_USE_SYSTEM_BUN="1",
            REFLEX_WEB_WORKDIR=str(WEB_DIR),
            REFLEX_STATES_WORKDIR=str(STATES_DIR),
            # The model server of the tests (tests/support/fake_llm.py) listens on loopback.
            CRAWL_ALLOW_PRIVATE_NETWORKS="true",
        )
        env.update(self.extra_env)
        return env

    def _database(self) -> None:
        from tests.conftest import _postgres_engine

        self.engine = _postgres_engine(self.schema)
        self.database_url = self.engine.url.render_as_string(hide_password=False)

    def _run(self, args: list[str], env: dict[str, str], log: Path, timeout: float) -> None:
        with log.open("wb") as out:
            done = subprocess.run(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
            )
        if done.returncode != 0:
            raise RuntimeError(f"{args[:3]} failed:\n{log.read_text()[-4000:]}")

    def start(self) -> Cluster:
        started = time.monotonic()
        self.redis.start()
        self._database()
        ports = [free_port(), free_port()]
        self.proxy = SwitchProxy(ports).start()
        env = self._env()
        self._run(
            [sys.executable, "-m", "app.manage", "migrate"], env, self.tmp / "migrate.log", 180
        )
        # Migrated as the owner; the processes run as the ordinary app role, so row-level
        # security applies to them as in production (tests/conftest.py APP_ROLE).
        from tests.conftest import _as_app_role

        assert self.engine is not None
        self.engine = _as_app_role(self.engine, self.schema)
        self.database_url = self.engine.url.render_as_string(hide_password=False)
        env = self._env()
        self.timings["migrate_s"] = round(time.monotonic() - started, 1)
        reflex = str(Path(sys.executable).with_name("reflex"))
        with frontend_build_lock():  # one build at a time across xdist workers
            build_started = time.monotonic()
            self._run(
                [reflex, "export", "--frontend-only", "--no-zip", "--env", "prod"],
                env,
                self.tmp / "export.log",
                600,
            )
            self.timings["frontend_build_s"] = round(time.monotonic() - build_started, 1)
        self.backends = [
            Backend(i, port, self.tmp / f"data-{i}", self.tmp / f"backend-{i}.log")
            for i, port in enumerate(ports)
        ]
        boot = time.monotonic()
        for backend in self.backends:
            self._spawn(backend)
        for backend in self.backends:
            self.wait_ready(backend.index)
        self.timings["backends_ready_s"] = round(time.monotonic() - boot, 1)
        return self

    def _spawn(self, backend: Backend) -> None:
        backend.data_dir.mkdir(parents=True, exist_ok=True)
        with backend.log.open("ab") as out:
            backend.proc = subprocess.Popen(
                [
                    *(sys.executable, "-m", "app.serve"),
                    *("--host", "127.0.0.1", "--port", str(backend.port), "--loglevel", "info"),
                ],
                cwd=ROOT,
                env=self._env(backend.port, backend.data_dir),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, index: int, timeout_s: float = START_TIMEOUT_S) -> None:
        backend = self.backends[index]
        deadline = time.monotonic() + timeout_s
        while True:
            if not backend.alive:
                raise RuntimeError(f"backend {index} exited:\n{backend.log.read_text()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                health = httpx.get(f"{backend.url}/api/health", timeout=3)
                page = httpx.get(f"{backend.url}/login", timeout=5, follow_redirects=True)
                if health.status_code == 200 and page.status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"backend {index} not ready:\n{backend.log.read_text()[-4000:]}")
            time.sleep(0.5)

    # ---- faults --------------------------------------------------------------------

    def kill(self, index: int) -> None:
        """`kill -9` of the whole process (its Granian worker included)."""
        backend = self.backends[index]
        if backend.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(backend.proc.pid, signal.SIGKILL)
            backend.proc.wait(10)

    def restart(self, index: int) -> None:
        """Start a killed process again on its port (returns at once; see `wait_ready`)."""
        assert not self.backends[index].alive
        self._spawn(self.backends[index])

    # ---- teardown ------------------------------------------------------------------

    def stop(self) -> None:
        for backend in self.backends:
            if backend.alive and backend.proc is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(backend.proc.pid, signal.SIGTERM)
                try:
                    backend.proc.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(backend.proc.pid, signal.SIGKILL)
        if self.proxy is not None:
            self.proxy.stop()
        self.redis.__exit__()
        if self.engine is not None:
            self.engine.dispose()
            from tests.conftest import _postgres_engine_admin

            admin = _postgres_engine_admin()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            admin.dispose()


@contextlib.contextmanager
def running_cluster(tmp: Path, extra_env: dict[str, str] | None = None) -> Iterator[Cluster]:
    cluster = Cluster(tmp, extra_env or {})
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@contextlib.contextmanager
def use_cluster_database(cluster: Cluster) -> Iterator[None]:
    """Point this (test) process's engine and SECRET_KEY at the cluster's, for seeding."""
    from app.settings import reset_settings_cache

    old = os.environ.get("SECRET_KEY")
    os.environ["SECRET_KEY"] = cluster.secret_key
    reset_settings_cache()
    app_db.set_engine(cluster.engine)
    try:
        yield
    finally:
        app_db.set_engine(None)
        if old is None:
            os.environ.pop("SECRET_KEY", None)
        else:
            os.environ["SECRET_KEY"] = old
        reset_settings_cache()
