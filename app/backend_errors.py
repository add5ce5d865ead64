"""What a page shows when one of its websocket events fails on the server.

Reflex's default says "An error occurred. Contact the website administrator." for
everything. When Redis (where Reflex keeps page state with several processes) cannot be
reached, the visitor can do nothing but wait, so the page says that instead; the question
stays in the input to send again. Everything else keeps Reflex's default (logged, toast).
"""

# No `from __future__ import annotations`: Reflex checks this handler's real annotations.
import reflex as rx
from reflex.app import default_backend_exception_handler
from reflex.event import EventSpec

BRIEFLY_UNAVAILABLE = "The chat is briefly unavailable. Please try again in a moment."


def _redis_unreachable(exception: Exception) -> bool:
    import redis

    seen: BaseException | None = exception
    while seen is not None:
        if isinstance(seen, redis.ConnectionError | redis.TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def backend_exception_handler(exception: Exception) -> EventSpec:
    if not _redis_unreachable(exception):
        return default_backend_exception_handler(exception)
    return rx.toast(
        BRIEFLY_UNAVAILABLE,
        level="warning",
        position="top-center",
        id="backend_unavailable",
        duration=8000,
    )
