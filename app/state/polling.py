"""One "refresh every second while work runs" loop for the Knowledge tabs.

Documents, websites and catalogues each show live progress the same way: a background
event that re-reads the tenant's rows while the user stays on the page and something is
still queued or running. The loop re-checks the session cookie on every tick, so a
sign-out or a tenant switch stops it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from app.db import session_scope
from app.services import accounts
from app.state.auth import _cookie_token

POLL_INTERVAL_S = 1.0

A = TypeVar("A")
R = TypeVar("R")


class _Watcher(Protocol):
    watching: bool
    router: Any

    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc: object) -> None: ...


def tenant_for_cookie(cookie: str) -> str | None:
    """The tenant of a live dashboard session, or None once it is gone."""
    with session_scope() as session:
        ident = accounts.identity_for_token(session, _cookie_token(cookie))
        return ident.tenant_id if ident else None


async def poll_while_active(
    state: _Watcher,
    path: str,
    read_args: Callable[[], A],
    fetch: Callable[[str, A], R],
    apply: Callable[[R], bool],
) -> None:
    """Refresh `state` until `apply` reports nothing active or the user leaves `path`.

    `read_args` runs under the state lock (read what the page shows), `fetch(tenant, args)`
    in a thread (database work), `apply(result)` under the lock again and returns whether
    work is still running. A second call while a loop runs returns at once.
    """
    async with state:
        if state.watching:
            return
        state.watching = True
    try:
        while True:
            await asyncio.sleep(POLL_INTERVAL_S)
            async with state:
                cookie = state.router.headers.cookie
                on_page = state.router.url.path.rstrip("/") == path
                args = read_args()
            tenant_id = await asyncio.to_thread(tenant_for_cookie, cookie)
            if tenant_id is None or not on_page:
                break
            result = await asyncio.to_thread(fetch, tenant_id, args)
            async with state:
                active = apply(result)
            if not active:
                break
    finally:
        async with state:
            state.watching = False
