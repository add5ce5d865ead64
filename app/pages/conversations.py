"""Conversations."""

from __future__ import annotations

from app import routes
from app.components.placeholder import placeholder_page

conversations = placeholder_page(
    routes.CONVERSATIONS,
    "Conversations",
    "messages-square",
    "What visitors asked and what they were told.",
    "Transcripts with sources, cost and feedback will be listed here.",
)
