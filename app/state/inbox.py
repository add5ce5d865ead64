"""The inbox (/inbox): conversations waiting for a person, mine, open, resolved; one
conversation with history, visitor details, notes and the take-over/reply/hand-back flow.

Live: the page follows its workspace's inbox topic (app/state/live.py), so a new request,
a visitor message or a colleague's take-over re-reads the list without a reload.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import reflex as rx

from app.db import NotFoundError, session_scope
from app.models import Conversation, Message, User
from app.services import inbox, live, widgets
from app.services.accounts import Identity
from app.services.answer_html import markdown_to_html
from app.services.conversations import messages as conversation_messages
from app.services.inbox import InboxError, OwnedByOtherError
from app.state import live as live_push
from app.state.auth import AuthState
from app.state.presence import PresenceState

VIEW_LABELS = {
    "waiting": "Waiting",
    "mine": "Assigned to me",
    "open": "Open",
    "resolved": "Resolved",
}
REASON_LABELS = {
    "button": "Button",
    "phrase": "Asked in words",
    "low_confidence": "Low confidence",
    "thumbs_down": "Thumbs down",
    "staff": "Staff",
    "api": "API",
}
TYPING_EVERY_S = 1.5


def _when(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


@dataclass
class InboxRowView:
    id: str = ""
    title: str = ""
    widget: str = ""
    status: str = ""
    reason: str = ""
    assignee: str = ""
    last: str = ""
    unread: bool = False


@dataclass
class ThreadItem:
    id: str = ""
    role: str = ""
    author: str = ""
    html: str = ""
    text: str = ""
    time: str = ""
    sources: list[str] = field(default_factory=list)


@dataclass
class NoteView:
    author: str = ""
    text: str = ""
    time: str = ""


@dataclass
class EarlierView:
    id: str = ""
    title: str = ""
    started: str = ""


class InboxState(AuthState):
    view: str = "waiting"
    widget_filter: str = "all"
    reason_filter: str = "all"
    rows: list[InboxRowView] = []
    waiting_count: int = 0
    mine_count: int = 0
    widget_options: list[dict[str, str]] = []
    selected: str = ""
    thread: list[ThreadItem] = []
    notes_list: list[NoteView] = []
    earlier: list[EarlierView] = []
    c_status: str = ""
    c_reason: str = ""
    c_assignee: str = ""
    c_assignee_me: bool = False
    c_host: str = ""
    c_agent: str = ""
    c_started: str = ""
    c_visitor: str = ""
    reply: str = ""
    note: str = ""
    action_error: str = ""

    _typing_sent: float = 0.0

    # ---- loading -----------------------------------------------------------------------

    def _reload_list(self, ident: Identity) -> None:
        with session_scope() as session:
            rows = inbox.list_inbox(
                session,
                ident.tenant_id,
                ident.user_id,
                view=self.view,
                widget_id=None if self.widget_filter == "all" else self.widget_filter,
                reason=None if self.reason_filter == "all" else self.reason_filter,
            )
            counts = inbox.counts(session, ident.tenant_id, ident.user_id)
            options = widgets.list_widgets(session, ident.tenant_id)
        self.rows = [
            InboxRowView(
                id=r.id,
                title=r.title,
                widget=r.widget_name,
                status=r.status,
                reason=REASON_LABELS.get(r.reason, r.reason),
                assignee=r.assignee_name,
                last=_when(r.last_message_at),
                unread=r.unread,
            )
            for r in rows
        ]
        self.waiting_count, self.mine_count = counts.waiting, counts.mine
        self.widget_options = [{"id": w.id, "name": w.name} for w in options]

    def _reload_conversation(self, ident: Identity, *, mark_read: bool = False) -> None:
        if not self.selected:
            return
        try:
            with session_scope() as session:
                conv: Conversation = inbox.get(session, ident.tenant_id, self.selected)
                rows: list[Message] = conversation_messages(session, ident.tenant_id, conv.id)
                notes = inbox.notes(session, ident.tenant_id, conv.id)
                earlier = inbox.earlier_conversations(session, ident.tenant_id, conv)
                owner = session.get(User, conv.assignee_id) if conv.assignee_id else None
                if mark_read:
                    inbox.mark_read(session, ident.tenant_id, conv.id)
        except NotFoundError:
            self.selected = ""
            self.action_error = "That conversation does not exist."
            return
        self.thread = [
            ThreadItem(
                id=m.id,
                role=m.role,
                author=m.author_name or "",
                html=markdown_to_html(m.text) if m.role != "user" else "",
                text=m.text,
                time=_when(m.created_at),
                sources=[str(s.get("title") or "Source") for s in (m.sources or [])][:5],
            )
            for m in rows
        ]
        self.notes_list = [NoteView(n.author_name, n.text, _when(n.created_at)) for n in notes]
        self.earlier = [
            EarlierView(c.id, c.title or "(untitled)", _when(c.started_at)) for c in earlier
        ]
        self.c_status = conv.handoff_status
        self.c_reason = REASON_LABELS.get(conv.handoff_reason or "", "")
        self.c_assignee = inbox.display_name(owner) if owner else ""
        self.c_assignee_me = conv.assignee_id == ident.user_id
        self.c_host, self.c_agent = conv.host_url, conv.user_agent
        self.c_started, self.c_visitor = _when(conv.started_at), conv.visitor_id[:8]

    @rx.event
    def load(self):
        ident = self._require()
        query = self.router.url.query_parameters or {}
        self.selected = str(query.get("c") or "")[:32]
        self.action_error = self.reply = self.note = ""
        self._reload_list(ident)
        self._reload_conversation(ident, mark_read=True)
        live_push.follow(self, live.inbox_topic(ident.tenant_id))
        return PresenceState.refresh_badge

    async def _live_update(self, event: live.LiveEvent) -> None:
        ident = self._identity()
        if ident is None:
            live_push.unfollow(self)
            return
        self._reload_list(ident)
        if event.data.get("conversation_id") == self.selected:
            self._reload_conversation(ident, mark_read=True)

    # ---- filters -----------------------------------------------------------------------

    @rx.event
    def choose_view(self, value: str | list[str]):
        value = value[0] if isinstance(value, list) and value else value
        self.view = value if isinstance(value, str) and value in VIEW_LABELS else "waiting"
        self._reload_list(self._require())

    @rx.event
    def choose_widget(self, value: str):
        self.widget_filter = value
        self._reload_list(self._require())

    @rx.event
    def choose_reason(self, value: str):
        self.reason_filter = value if value in REASON_LABELS or value == "all" else "all"
        self._reload_list(self._require())

    @rx.event
    def open_conversation(self, conversation_id: str):
        ident = self._require()
        self.selected, self.action_error, self.reply = conversation_id[:32], "", ""
        self._reload_conversation(ident, mark_read=True)
        self._reload_list(ident)
        return PresenceState.refresh_badge

    @rx.event
    def close_conversation(self):
        self.selected = ""

    # ---- actions -----------------------------------------------------------------------

    def _act(self, action) -> None:  # type: ignore[no-untyped-def]
        ident = self._require()
        self.action_error = ""
        try:
            with session_scope() as session:
                action(session, ident)
        except OwnedByOtherError as exc:
            self.action_error = str(exc)
        except InboxError as exc:
            self.action_error = str(exc)
        except NotFoundError:
            self.action_error = "That conversation does not exist."
        self._reload_conversation(ident)
        self._reload_list(ident)

    @rx.event
    def assign_to_me(self):
        cid = self.selected
        self._act(lambda s, i: inbox.assign_to_me(s, i.tenant_id, cid, i.user_id))

    @rx.event
    def take_over(self):
        cid = self.selected
        self._act(lambda s, i: inbox.take_over(s, i.tenant_id, cid, i.user_id))

    @rx.event
    def hand_back(self):
        cid = self.selected
        self._act(lambda s, i: inbox.hand_back(s, i.tenant_id, cid, i.user_id))

    @rx.event
    def resolve(self):
        cid = self.selected
        self._act(lambda s, i: inbox.resolve(s, i.tenant_id, cid, i.user_id))

    @rx.event
    def set_reply(self, value: str):
        self.reply = str(value)[: inbox.MAX_STAFF_MESSAGE]
        now = time.monotonic()
        if self.selected and self.reply and now - self._typing_sent >= TYPING_EVERY_S:
            # Typing is ephemeral: straight to the visitor's topic, nothing stored.
            ident = self._require()
            with session_scope() as session:
                inbox.assert_found(session, ident.tenant_id, self.selected)
            self._typing_sent = now
            live.publish(
                live.conversation_topic(ident.tenant_id, self.selected),
                "typing",
                conversation_id=self.selected,
                name=ident.name or ident.email.split("@")[0],
            )

    @rx.event
    def send_reply(self, form: dict):
        text = str(form.get("reply") or self.reply)
        cid = self.selected
        self._act(lambda s, i: inbox.post_staff_message(s, i.tenant_id, cid, i.user_id, text))
        if not self.action_error:
            self.reply = ""
            self._typing_sent = 0.0

    @rx.event
    def set_note(self, value: str):
        self.note = str(value)[: inbox.MAX_NOTE]

    @rx.event
    def add_note(self, form: dict):
        text = str(form.get("note") or self.note)
        cid = self.selected
        self._act(lambda s, i: inbox.add_note(s, i.tenant_id, cid, i.user_id, text))
        if not self.action_error:
            self.note = ""
