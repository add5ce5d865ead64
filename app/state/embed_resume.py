"""Resuming the embed chat after a server went away (a mixin of EmbedState).

Several app processes serve the widget behind a proxy; a process can die (kill -9, a lost
machine) in the middle of a streamed answer, and Redis can restart empty. The chat's truth is
in the database (turns are stored whole or not at all); what the page needs to find it again
lives in the browser's localStorage: the visitor token, the conversation per widget, and the
turn in flight (`cc_pending`: its question and the process that runs it).

- A page whose process died reconnects to another one, whose `load` sees the pending turn
  was not finished: the transcript is restored from the database and, if the turn is not in
  it, the banner says so and offers "Ask again".
- A process that lost the page's server state (Redis restarted) runs `load` without the
  browser's storage; the page is asked for it (STORAGE_JS) before a new visitor id is minted.
- While the page's load is in flight, a question waits for it instead of being dropped.
- A question sent into a connection that was already dead is recorded by the page itself
  (`mark_sent`) and offered again after the reconnect.
"""

from __future__ import annotations

import json
import os
import socket
import uuid

import reflex as rx
from reflex.event import EventSpec
from reflex.vars.base import Var

from app.services import visitors

# Which process runs a turn's stream: a page that reloads on the same process while the
# stream still runs there is not told it was interrupted.
PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
# The page's own storage, read when the server has lost it (see EmbedState.load).
STORAGE_JS = (
    "JSON.stringify({v: localStorage.getItem('cc_visitor') || '',"
    " c: localStorage.getItem('cc_conversations') || '',"
    " p: localStorage.getItem('cc_pending') || ''})"
)
# Installed in the page when the chat is ready (`EmbedState._finish_load`) and run as a
# question is sent (`mark_sent`): from the chat box, a starter chip or "Ask again", it is
# recorded as the pending turn before the websocket carries it. A connection that died
# without the page noticing yet (a network gone quiet, a proxy or a process killed an
# instant earlier) takes the question and delivers nothing; the next (re)connect sends
# localStorage along, so `load` finds a pending turn the transcript lacks and offers "Ask
# again". The server overwrites the entry as soon as the turn starts (`pending_for`) and
# clears it when it ends. The widget id is the page's last path segment, as
# `EmbedState.load` reads it; the spacing is normalised like `_open_turn`'s. An owner's
# preview stores no turn, so it records none either.
MARK_SENT_INSTALL_JS = (
    "window.ccMarkSent = (raw) => { const q = String(raw || '')"
    ".split(/\\s+/).filter(Boolean).join(' ');"
    " const w = location.pathname.replace(/\\/+$/, '').split('/').pop();"
    " if (q && !/[?&]preview=1(&|$)/.test(location.search))"
    " localStorage.setItem('cc_pending', JSON.stringify({q: q, w: w})); };"
)
_CHAT_BOX = "document.getElementById('cc-input')?.value"


def mark_sent(question: Var | None = None) -> EventSpec:
    """Run before an event that sends `question` (None: the chat box's text); see above."""
    if question is None:
        return rx.call_script(f"window.ccMarkSent?.({_CHAT_BOX})")
    return rx.call_script(Var.create("window.ccMarkSent?.(") + question.to_string() + ")")


LOAD_WAIT_S = 10.0
INTERRUPTED = "The connection was lost before the answer arrived."


def interrupted_question(pending: str, widget_id: str, streaming_here: bool) -> str:
    """The question of a turn the page saw start and not finish on this widget, or ""."""
    try:
        data = json.loads(pending or "{}")
    except ValueError:
        return ""
    if not isinstance(data, dict) or not isinstance(data.get("q"), str):
        return ""
    if data.get("w") != widget_id:
        return ""  # localStorage is per site: another widget's turn
    if data.get("p") == PROCESS_ID and streaming_here:
        return ""  # still running in this process: its answer will arrive
    return data["q"]


class EmbedResumeMixin(rx.State, mixin=True):
    retry_question: str = ""  # an interrupted turn's question, for "Ask again"
    pending_turn: str = rx.LocalStorage(name="cc_pending")

    @staticmethod
    def pending_for(question: str, widget_id: str) -> str:
        return json.dumps({"q": question, "w": widget_id, "p": PROCESS_ID})

    def _adopt_storage(self, raw: str) -> bool:
        """Take the page's visitor token (if valid), conversations and pending turn."""
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            data = {}
        data = data if isinstance(data, dict) else {}
        token = str(data.get("v") or "")
        if visitors.visitor_from_token(token) is None:
            token = visitors.issue_visitor_token()  # truly a first visit
        self.visitor_token = token  # type: ignore[attr-defined]
        self.saved_conversations = str(data.get("c") or "")  # type: ignore[attr-defined]
        self.pending_turn = str(data.get("p") or "")
        return True

    def _offer_retry(self, question: str, message: str) -> None:
        """An interrupted turn that is not in the transcript: say so, offer to ask again."""
        messages = self.messages  # type: ignore[attr-defined]
        asked = [i for i, m in enumerate(messages) if m.role == "user"]
        last = asked[-1] if asked else -1
        if last >= 0 and messages[last].text == question and last < len(messages) - 1:
            return  # it finished (stored whole) before the process went
        self.banner_kind, self.banner = "interrupted", message  # type: ignore[attr-defined]
        self.retry_question = question
