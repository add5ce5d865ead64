"""One module per page; importing them registers the routes (app.py imports this package)."""

from app.pages import (  # noqa: F401
    analytics,
    api_keys,
    auth,
    conversations,
    embed,
    invite,
    knowledge,
    overview,
    password,
    settings,
    two_factor,
    widgets,
)
