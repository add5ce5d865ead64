"""Staff presence and the sidebar's inbox badge, on every dashboard page.

While a dashboard tab is connected, a background event sends a heartbeat every
HEARTBEAT_S (the person is online); it ends when the tab's websocket goes away, and the
person turns "away" PRESENCE_AWAY_S later. The badge (conversations waiting for a
person) follows the workspace's inbox topic, so it changes without a reload.
"""

from __future__ import annotations

import asyncio
import time

import reflex as rx

from app.db import session_scope
from app.services import inbox, live, presence
from app.state import live as live_push
from app.state.auth import AuthState


class PresenceState(AuthState):
    # Conversations waiting or mine with visitor messages staff have not opened yet.
    unread_badge: int = 0
    # Time of this tab's last heartbeat: a loop is alive while it is recent (a flag could
    # stay set forever in a persisted state after a process died mid-loop).
    _beat_at: float = 0.0

    def _beat(self) -> bool:
        ident = self._identity()
        if ident is None:
            return False
        with session_scope() as session:
            presence.heartbeat(session, ident.tenant_id, ident.user_id)
            self.unread_badge = inbox.counts(session, ident.tenant_id, ident.user_id).unread
        return True

    @rx.event
    def refresh_badge(self):
        """After staff open a conversation (it is read now), without waiting for a beat."""
        ident = self._identity()
        if ident is not None:
            with session_scope() as session:
                self.unread_badge = inbox.counts(session, ident.tenant_id, ident.user_id).unread

    async def _live_update(self, event: live.LiveEvent) -> None:
        ident = self._identity()
        if ident is None:
            live_push.unfollow(self)
            return
        with session_scope() as session:
            self.unread_badge = inbox.counts(session, ident.tenant_id, ident.user_id).unread

    @rx.event(background=True)
    async def keep_alive(self):
        async with self:
            if time.time() - self._beat_at < presence.HEARTBEAT_S * 1.5:
                return  # this tab already has its heartbeat (a client-side navigation)
            ident = self._identity()
            if ident is None:
                return
            self._beat_at = time.time()
            live_push.follow(self, live.inbox_topic(ident.tenant_id))
            token = self.router.session.client_token
        while True:
            async with self:
                alive = await asyncio.to_thread(self._beat)
                self._beat_at = time.time()
            if not alive or not await live_push.connected(token):
                return
            await asyncio.sleep(presence.HEARTBEAT_S)
