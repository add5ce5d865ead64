"""Every page is registered here exactly once, then added to the app by `app.py`.

Reflex's `@rx.page` keeps a list that each compile replays into the app; `reflex run
--env prod` compiles twice in one process (CLI, then the backend), so every decorated
page was added twice and logged "Page … is being redefined". Pages added with
`App.add_page` are registered once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

_PAGES: list[tuple[Callable[[], rx.Component], dict[str, Any]]] = []


def page(
    route: str, **kwargs: Any
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Like `@rx.page(route=..., title=..., on_load=...)`, without the replay."""

    def decorator(render: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        if route in registered_routes():
            raise ValueError(f"route {route} is registered twice")
        _PAGES.append((render, {"route": route, **kwargs}))
        return render

    return decorator


def add_pages(app: rx.App) -> None:
    for render, kwargs in _PAGES:
        app.add_page(render, **kwargs)


def registered_routes() -> list[str]:
    return [kw["route"] for _, kw in _PAGES]
