"""Browser steps several e2e modules share."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Frame, Page, expect

from tests.e2e.conftest import ARTIFACTS

PASSWORD = "a-long-password-1"


def sign_up(page: Page, base: str, email: str, workspace: str) -> None:
    """Create an account + workspace through the real form; ends signed in on /overview."""
    page.goto(f"{base}/signup")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#workspace", workspace)
    page.click("#signup-submit")
    expect(page).to_have_url(re.compile(r"/overview/?$"), timeout=30_000)
    expect(page.locator("#workspace-name")).to_have_text(workspace, timeout=15_000)


# ---- accessibility (axe-core) --------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# `make axe` (part of `make test`) installs it; AXE_CORE_JS points elsewhere if needed.
AXE_JS = Path(
    os.environ.get("AXE_CORE_JS") or ROOT / ".tools" / "node_modules" / "axe-core" / "axe.min.js"
)
BLOCKING_IMPACTS = ("serious", "critical")


def axe_results(target: Page | Frame, *, context: str | None = None) -> dict[str, Any]:
    """Run axe-core in a page or frame (all rules axe runs by default) and return its result."""
    if not AXE_JS.exists():
        from tests.conftest import service_missing

        service_missing(f"axe-core not found at {AXE_JS} (make axe installs it)")
    if not target.evaluate("typeof window.axe === 'object'"):
        target.evaluate(AXE_JS.read_text(encoding="utf-8"))
    return target.evaluate(
        """async (context) => {
          const r = await axe.run(context ? document.querySelector(context) : document,
                                  {resultTypes: ['violations']});
          return {violations: r.violations.map(v => ({id: v.id, impact: v.impact,
            help: v.help, nodes: v.nodes.map(n => ({target: n.target.join(' '),
            summary: n.failureSummary}))}))};
        }""",
        context,
    )


def assert_no_serious_axe_violations(
    target: Page | Frame, name: str, *, context: str | None = None
) -> list[dict[str, Any]]:
    """Fail on any serious or critical axe-core violation; print every violation found.

    `name` labels the output line and the JSON report (tests/e2e/artifacts/axe-<name>.json);
    `context` limits the check to one CSS selector. Returns the (minor/moderate) violations
    that did not fail, for callers that want to assert more.
    """
    violations = axe_results(target, context=context)["violations"]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"axe-{name}.json").write_text(json.dumps(violations, indent=2))
    summary = ", ".join(f"{v['id']} ({v['impact']}, {len(v['nodes'])})" for v in violations)
    print(f"axe {name}: {len(violations)} violation(s){': ' + summary if summary else ''}")
    blocking = [v for v in violations if v["impact"] in BLOCKING_IMPACTS]
    assert not blocking, f"axe {name}: serious/critical violations:\n" + "\n".join(
        f"- {v['id']} [{v['impact']}] {v['help']}: "
        + "; ".join(f"{n['target']} ({n['summary']})" for n in v["nodes"][:5])
        for v in blocking
    )
    return [v for v in violations if v["impact"] not in BLOCKING_IMPACTS]
