"""What the suite needs to run in several pytest-xdist worker processes at once (`make test`
runs two). Anything a test writes must be this process's own: temp dirs (tests/conftest.py),
schemas (uuid names), Redis keys (unique per test), ports (free_port) and, here, the folders
Reflex builds a frontend in."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
# "gw0", "gw1", ... in an xdist worker; empty in a serial run.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def per_worker(path: Path) -> Path:
    """`path` for this worker (`.web-cluster` -> `.web-cluster-gw1`); unchanged when serial.

    Each build embeds its server's URL, so two workers' servers cannot share one folder."""
    return path.with_name(f"{path.name}-{XDIST_WORKER}") if XDIST_WORKER else path


@contextlib.contextmanager
def frontend_build_lock() -> Iterator[None]:
    """One Reflex frontend build at a time in this checkout, across worker processes.

    Even in folders of their own, builds share files outside them (Reflex copies component
    assets into `assets/external/`; bun's package cache), and two at once on two cores only
    push each other towards the start-up timeout."""
    with FileLock(str(ROOT / ".web-build.lock")):
        yield
