"""Reflex side of app.services.live: turn a service event into a websocket state push.

A page subscribes its client (the websocket's client token) to a topic; when the topic
fires, `App.modify_state` opens that client's state, the page's `_live_update(event)`
re-reads what it shows from the database, and Reflex sends the delta down the client's
own websocket (with the Redis state manager, `emit_update` relays it to the process that
holds the socket). Subscriptions are per process: an event raised in another process is
not heard here, and the client then catches up on its next event or reload.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import reflex as rx
from reflex.istate.manager.token import BaseStateToken

from app.services import live

log = logging.getLogger("chatconnect.live")

_app: Any = None
_loop: asyncio.AbstractEventLoop | None = None
_tasks: set[asyncio.Task] = set()


def _event_loop() -> asyncio.AbstractEventLoop:
    """The app's loop, also from a sync handler Reflex runs in a worker thread."""
    global _loop
    try:
        _loop = asyncio.get_running_loop()
    except RuntimeError:
        if _loop is None:
            raise
    return _loop


def _get_app() -> Any:
    global _app
    if _app is None:
        from reflex.utils.prerequisites import get_and_validate_app

        _app = get_and_validate_app().app
    return _app


def _key(client_token: str, state_cls: type[rx.State]) -> str:
    return f"{client_token}:{state_cls.get_full_name()}"


def follow(state: rx.State, topic: str) -> None:
    """Push `topic`'s events into this client's `state` (replacing its earlier topic)."""
    token = state.router.session.client_token
    if not token:
        return
    state_cls = state.__class__  # not type(): a background event holds a StateProxy
    loop = _event_loop()
    key = _key(token, state_cls)

    def on_event(event: live.LiveEvent) -> None:
        # Services publish from worker threads; the push runs on the app's loop.
        loop.call_soon_threadsafe(_spawn, token, state_cls, event)

    live.unsubscribe_key(key, keep=topic)
    live.subscribe(topic, key, on_event)


def unfollow(state: rx.State) -> None:
    token = state.router.session.client_token
    if token:
        live.unsubscribe_key(_key(token, state.__class__))


def after(delay_s: float, state: rx.State, event: live.LiveEvent) -> None:
    """Deliver `event` to this client's state again after a delay (typing expiry)."""
    token = state.router.session.client_token
    loop = _event_loop()
    loop.call_soon_threadsafe(loop.call_later, delay_s, _spawn, token, state.__class__, event)


def _spawn(token: str, state_cls: type[rx.State], event: live.LiveEvent) -> None:
    task = asyncio.ensure_future(_push(token, state_cls, event))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def connected(token: str) -> bool:
    """Whether this client's websocket is still connected (to any process)."""
    return await _connected(_get_app(), token)


async def _connected(app: Any, token: str) -> bool:
    manager = getattr(app.event_namespace, "_token_manager", None)
    if manager is None:
        return True
    try:
        return bool(await manager.is_token_connected(token))
    except Exception:  # an older/other token manager: assume connected
        return True


async def _push(token: str, state_cls: type[rx.State], event: live.LiveEvent) -> None:
    app = _get_app()
    if not await _connected(app, token):
        live.unsubscribe_key(_key(token, state_cls))  # the tab is gone
        return
    try:
        async with app.modify_state(BaseStateToken(ident=token, cls=state_cls)) as root:
            state = await root.get_state(state_cls)
            await state._live_update(event)  # type: ignore[attr-defined]
    except Exception:
        log.exception("live push to %s failed", state_cls.get_full_name())
