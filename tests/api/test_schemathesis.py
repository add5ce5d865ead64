"""schemathesis (the CLI, as a user would run it) against the OpenAPI document of the API
served over real HTTP, authenticated with a real admin key: no 5xx, no schema violations,
no undocumented statuses. Bounded examples keep it around a minute on 2 cores."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.services.cache import reset_cache
from app.services.limits import reset_rate_limiter
from tests.api.live_server import LiveServer
from tests.api.v1_world import make_world

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "40"))


@pytest.mark.parametrize("engine", ["sqlite"], indirect=True)
def test_schemathesis_finds_no_failures(engine: Engine, tmp_path: Path) -> None:
    reset_cache()
    reset_rate_limiter()
    world = make_world(engine)
    cli = str(Path(sys.executable).with_name("schemathesis"))
    # The repository's schemathesis.toml, with the cache schemathesis writes after every run
    # (a crash manifest naming the server's port) in this test's temp dir instead of
    # `.schemathesis/` in the checkout: no churn in git, nothing shared between workers.
    config = tmp_path / "schemathesis.toml"
    cache = tmp_path / "schemathesis-cache"
    config.write_text(
        (ROOT / "schemathesis.toml").read_text() + f'\n[cache]\ndirectory = "{cache}"\n'
    )
    with LiveServer() as server:
        result = subprocess.run(
            [
                cli,
                "--config-file",
                str(config),
                "run",
                f"{server.base_url}/api/v1/openapi.json",
                "-H",
                f"Authorization: Bearer {world.admin_key}",
                "--max-examples",
                str(MAX_EXAMPLES),
                "--seed",
                "20261121",
                "--no-color",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    summary = output[output.rfind("SUMMARY") :]
    assert result.returncode == 0, re.sub(r"(.)\1{80,}", r"\1…", output)[-6000:]
    assert "Failures:" not in summary
    tested = re.search(r"Tested: (\d+)", summary)
    assert tested is not None and int(tested.group(1)) >= 11
