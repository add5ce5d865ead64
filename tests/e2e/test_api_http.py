"""The REST API over real HTTP against `reflex run --env prod` (granian): the README's curl
examples run as written, and SSE tokens arrive one by one (nothing buffers the stream)."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app import db as app_db
from app.db import session_scope
from app.models import Tenant
from app.services import accounts, credentials, widgets
from app.services.api_keys import create_key
from app.settings import reset_settings_cache
from tests.e2e.conftest import ROOT, AppServer, shot
from tests.support.fake_llm import FakeLLM, Script

README_VARS = ("CHATCONNECT_URL", "CHATCONNECT_KEY", "CHATCONNECT_WIDGET")


@dataclass
class Workspace:
    tenant: str
    widget: str
    key: str


@pytest.fixture(scope="module")
def server_db(app_server: AppServer) -> Iterator[None]:
    """Write to the server's own database with the server's SECRET_KEY (keyed key hashes)."""
    old = os.environ.get("SECRET_KEY")
    os.environ["SECRET_KEY"] = app_server.secret_key
    reset_settings_cache()
    engine = app_db.make_engine(f"sqlite:///{app_server.data_dir / 'chatconnect.db'}")
    app_db.set_engine(engine)
    yield
    app_db.set_engine(None)
    engine.dispose()
    if old is not None:
        os.environ["SECRET_KEY"] = old
    reset_settings_cache()


def workspace(email: str) -> Workspace:
    with session_scope() as s:
        _, tenant = accounts.sign_up(s, email, "a-long-password", email.split("@")[0])
        widget = widgets.create_widget(s, tenant.id, "Support")
        key = create_key(s, tenant.id, "readme", ["chat", "documents"])
        return Workspace(tenant.id, widget.id, key.secret)


def readme_api_script() -> str:
    """The bash blocks of the README's API section, in order, exactly as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## API\n") : text.index("\n## ", text.index("\n## API\n") + 5)]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.S)
    assert len(blocks) >= 6, "the README's API section lost its curl examples"
    return "\n".join(blocks)


def test_readme_curl_examples_run_as_written(
    app_server: AppServer, server_db: None, tmp_path: Path
) -> None:
    if not shutil.which("curl") or not shutil.which("jq"):
        pytest.fail("the README's examples need curl and jq")
    ws = workspace("readme@example.com")
    script = readme_api_script()
    values = {
        "CHATCONNECT_URL": app_server.base_url,
        "CHATCONNECT_KEY": ws.key,
        "CHATCONNECT_WIDGET": ws.widget,
    }
    # Only the values of the variables the README tells the reader to export change.
    for name, value in values.items():
        script, n = re.subn(rf"^export {name}=\S+", f"export {name}={value}", script, flags=re.M)
        assert n == 1, name
    env = {k: v for k, v in os.environ.items() if k not in README_VARS}
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout
    assert result.returncode == 0, f"{result.stderr[-3000:]}\n---\n{out[-3000:]}"
    assert '"status":"ready"' in result.stderr  # the poll loop saw the document indexed
    assert '"title":"Returns policy"' in out
    assert "30 days" in result.stderr  # the first answer quotes the document
    assert '"conversation_id"' in out and '"usage"' in out
    assert "event: token" in out and "event: sources" in out and "event: done" in out
    assert '"feedback":1' in out
    assert "204" in out  # the delete
    assert '"object":"list"' in out and ws.widget in out
    assert '"object":"chat.completion"' in out and '"prompt_tokens"' in out
    assert "chat.completion.chunk" in out and "data: [DONE]" in out


def test_sse_tokens_arrive_incrementally_over_real_http(
    app_server: AppServer, server_db: None
) -> None:
    ws = workspace("stream@example.com")
    base, h = app_server.base_url, {"Authorization": f"Bearer {ws.key}"}
    doc = b"# Warranty\n\nThe warranty covers manufacturing defects for two years.\n"
    r = httpx.post(f"{base}/api/v1/documents", headers=h, files={"file": ("w.md", doc)})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while httpx.get(f"{base}{r.json()['status_url']}", headers=h).json()["status"] != "ready":
        assert time.monotonic() < deadline, "document not indexed in 120 s"
        time.sleep(0.5)
    chunks = ["The", " warranty", " lasts", " two", " years", " [1]."]
    with FakeLLM(script=Script(chunks=chunks, delay_chunks=0.4)) as llm:
        with session_scope() as s:
            credentials.set_credentials(
                s,
                s.get(Tenant, ws.tenant),
                {"openai_key": "sk-fake-1234567890", "openai_base_url": llm.openai_url},
            )
        arrivals: list[float] = []
        started = time.monotonic()
        with httpx.stream(
            "POST",
            f"{base}/api/v1/chat/stream",
            headers=h,
            json={"widget_id": ws.widget, "message": "How long is the warranty?"},
            timeout=60,
        ) as response:
            assert response.status_code == 200
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["x-request-id"]
            for line in response.iter_lines():
                if line == "event: token":
                    arrivals.append(time.monotonic() - started)
    assert llm.count == 1
    assert len(arrivals) == len(chunks)
    # 0.4 s between generated chunks: had anything buffered, they would land together.
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) > 0.2, arrivals


def test_docs_page_renders_offline(app_server: AppServer, browser) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    external: list[str] = []
    page.on(
        "request",
        lambda req: (
            external.append(req.url) if not req.url.startswith(app_server.base_url) else None
        ),
    )
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{app_server.base_url}/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "ChatConnect API" in page.inner_text(".swagger-ui .info .title")
    page.get_by_text("/chat/stream", exact=True).first.wait_for(timeout=10_000)
    shot(page, "api-docs")
    assert external == [] and errors == [], (external, errors)
    page.close()
