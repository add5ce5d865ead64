"""A real ChatConnect server (`reflex run --env prod`, one port) and headless Chromium."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.parallel import XDIST_WORKER, frontend_build_lock, per_worker

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "e2e" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
START_TIMEOUT_S = 420


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AppServer:
    def __init__(self, base_url: str, data_dir: Path, log: Path, secret_key: str = "") -> None:
        self.base_url = base_url
        self.data_dir = data_dir
        self.log = log
        self.secret_key = secret_key  # lets tests write keys/credentials the server can read


@contextlib.contextmanager
def run_app_server(
    tmp_path_factory: pytest.TempPathFactory,
    extra_env: dict[str, str] | None = None,
    backend_env: dict[str, str] | None = None,
) -> Iterator[AppServer]:
    """`reflex run --env prod` on a free port with a throwaway DATA_DIR, until the block ends."""
    port = free_port()
    data_dir = tmp_path_factory.mktemp("e2e-data")
    log = tmp_path_factory.mktemp("e2e-log") / "server.log"
    base = f"http://127.0.0.1:{port}"
    dropped = ("DATABASE_URL", "REDIS_URL", "QDRANT_URL", "SMTP_URL", "EMAIL_FROM")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    secret_key = secrets.token_urlsafe(48)
    env.update(
        PORT=str(port),
        PUBLIC_URL=base,
        DATA_DIR=str(data_dir),
        HF_HUB_OFFLINE="1",
        SECRET_KEY=secret_key,
        REFLEX_USE_SYSTEM_BUN="1",
        # The website-crawl and catalogue tests serve their sites and shops on loopback.
        CRAWL_ALLOW_PRIVATE_NETWORKS="true",
    )
    # Every server compiles its own frontend (the build embeds its URL). A server with its
    # own settings does so in a folder of its own, so the session's server keeps serving
    # `.web/`; and so does each xdist worker (tests/support/parallel.py).
    web, states = (".web-e2e-extra", ".states-e2e-extra") if extra_env else (".web", ".states")
    if extra_env or XDIST_WORKER:
        env.update(
            REFLEX_WEB_WORKDIR=str(per_worker(ROOT / web)),
            REFLEX_STATES_WORKDIR=str(per_worker(ROOT / states)),
        )
    env.update(extra_env or {})
    # Settings only the backend reads (no frontend of its own needed).
    env.update(backend_env or {})
    reflex = str(Path(sys.executable).with_name("reflex"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        # One frontend build at a time across xdist workers; released once this one serves.
        with frontend_build_lock():
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [reflex, "run", "--env", "prod", "--loglevel", "info"],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            _wait_until_serving(proc, base, log)
        yield AppServer(base, data_dir, log, secret_key)
    finally:
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):  # already exited (startup failure)
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _wait_until_serving(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            pytest.fail(f"server exited ({proc.returncode}):\n{log.read_text()[-4000:]}")
        try:
            if (
                httpx.get(f"{base}/api/health", timeout=2).status_code == 200
                and httpx.get(f"{base}/login", timeout=5, follow_redirects=True).status_code == 200
            ):
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"server not ready in {START_TIMEOUT_S}s:\n{log.read_text()[-4000:]}")
        time.sleep(1)


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[object]:
    """A local OpenID Connect provider the session's server offers as "Google"."""
    from tests.support.oidc_provider import running_provider

    with running_provider() as provider:
        yield provider


@pytest.fixture(scope="session")
def dns_records(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session server's DNS TXT answers for SSO domain checks (SSO_DNS_TEST_RECORDS)."""
    path = tmp_path_factory.mktemp("dns") / "txt.json"
    path.write_text("{}")
    return path


@pytest.fixture(scope="session")
def app_server(
    tmp_path_factory: pytest.TempPathFactory, oidc_provider: object, dns_records: Path
) -> Iterator[AppServer]:
    from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET

    social = {
        "GOOGLE_CLIENT_ID": CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
        "GOOGLE_ISSUER": oidc_provider.base_url,  # type: ignore[attr-defined]
        "SSO_DNS_TEST_RECORDS": f"@{dns_records}",
    }
    with run_app_server(tmp_path_factory, backend_env=social) as server:
        yield server


# Module scope: the sync Playwright API runs an event loop in this thread while it lives,
# which would stop later async tests (and a second sync_playwright) from running.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        from tests.conftest import service_missing

        service_missing("Debian's chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
