"""Settings."""

from __future__ import annotations

from app import routes
from app.components.placeholder import placeholder_page

settings = placeholder_page(
    routes.SETTINGS,
    "Settings",
    "settings",
    "Workspace, providers, members and your account.",
    "Workspace name, plan limits, LLM provider credentials and team members will be managed here.",
)
