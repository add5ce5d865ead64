"""One module per page; importing them registers the routes (app.py imports this package)."""

from app.pages import (  # noqa: F401
    analytics,
    api_keys,
    auth,
    conversations,
    embed,
    inbox,
    invite,
    knowledge,
    leads,
    overview,
    password,
    settings,
    two_factor,
    widget_intents,
    widgets,
)
