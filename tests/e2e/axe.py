"""axe-core checks for the dashboard tests: the shared runner in tests/e2e/helpers.py."""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Frame, Page

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.helpers import BLOCKING_IMPACTS, axe_results


def serious_axe_violations(target: Page | Frame, name: str) -> list[dict[str, Any]]:
    """The serious or critical violations (every finding is saved to artifacts/axe-<name>.json
    and summarized on stdout), for tests that collect problems across many pages."""
    found = axe_results(target)["violations"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(found, indent=1))
    summary = ", ".join(f"{v['id']}({v['impact']}, {len(v['nodes'])})" for v in found) or "none"
    print(f"axe {name}: {summary}")
    return [v for v in found if v["impact"] in BLOCKING_IMPACTS]
