"""Every page is registered once (no "Page … is being redefined" at start-up)."""

from __future__ import annotations

import pytest

from app import page_registry, routes


def test_every_route_is_registered_once() -> None:
    import app.pages  # noqa: F401  (registers the pages)

    registered = page_registry.registered_routes()
    assert len(registered) == len(set(registered))
    for route in (routes.OVERVIEW, routes.CONVERSATION, routes.EMBED, routes.LOGIN, "/"):
        assert route in registered
    with pytest.raises(ValueError, match="registered twice"):
        page_registry.page(routes.OVERVIEW)(lambda: None)  # type: ignore[arg-type,return-value]
