"""Browser steps several e2e modules share."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

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
