"""axe-core accessibility checks in the browser tests (axe-core from tests/e2e/node_modules,
installed by `make chromium` with `npm install --prefix tests/e2e`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.conftest import ARTIFACTS

AXE_JS = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


def axe_violations(page: Page) -> list[dict]:
    """Run axe-core (WCAG 2.x A/AA + best practices) on the page as it is now."""
    if not AXE_JS.exists():
        pytest.fail(f"axe-core missing at {AXE_JS}: run `npm install --prefix tests/e2e`")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text())
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => ({target: n.target, html: n.html.slice(0, 200),
                                          summary: n.failureSummary}))}));
        }"""
    )
    return list(result)


def serious_axe_violations(page: Page, name: str) -> list[dict]:
    """The serious or critical violations on the page; every finding (minor ones too) is
    saved under artifacts/axe-<name>.json and summarized on stdout (pytest -s)."""
    found = axe_violations(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(found, indent=1))
    summary = ", ".join(f"{v['id']}({v['impact']}, {len(v['nodes'])})" for v in found) or "none"
    print(f"axe {name}: {summary}")
    return [v for v in found if v["impact"] in BLOCKING]


def assert_no_serious_axe_violations(page: Page, name: str) -> None:
    """Zero serious or critical violations."""
    blocking = serious_axe_violations(page, name)
    assert not blocking, f"axe {name}: " + json.dumps(blocking, indent=1)[:4000]
