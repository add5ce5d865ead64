"""API keys."""

from __future__ import annotations

from app import routes
from app.components.placeholder import placeholder_page

api_keys = placeholder_page(
    routes.API_KEYS,
    "API keys",
    "key-round",
    "Secret keys for the REST API.",
    "Create a key to call the chat and documents API from your backend. The secret is shown once.",
)
