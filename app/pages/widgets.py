"""Widgets."""

from __future__ import annotations

from app import routes
from app.components.placeholder import placeholder_page

widgets = placeholder_page(
    routes.WIDGETS,
    "Widgets",
    "message-square",
    "Chat widgets for your websites.",
    "Create a widget to choose its look, greeting, starter questions and "
    "allowed domains, then copy the embed snippet.",
)
