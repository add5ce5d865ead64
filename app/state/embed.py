"""The chat page inside a website's iframe (/embed/<widget_id>). Shares nothing with the
dashboard: its own rx.State subclass, no login. Every handler resolves the widget (and so
the workspace) on the server from the route's widget id; the visitor is identified by a
signed token in localStorage, and the conversation id is trusted only after the server
checked it belongs to that visitor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import asdict, replace
from typing import Any

import reflex as rx

from app.db import NotFoundError, session_scope
from app.rag.chat import MAX_QUESTION_CHARS, TokenEvent, WidgetConfig
from app.rag.sanitize import sanitize_markdown
from app.services import accounts, action_confirm, visitors
from app.services.answer_html import markdown_to_html
from app.services.chat import (
    ChatInputError,
    ChatRequest,
    ConversationEvent,
    HandoffEvent,
    TurnSaved,
    WidgetUnavailableError,
    get_chat_service,
)
from app.services.conversations import BudgetExceededError
from app.services.framing import origin_of
from app.services.handoff_flow import NextStep, visitor_rate
from app.services.limits import RateLimitedError
from app.services.visitors import PublicWidget
from app.settings import get_settings
from app.state.auth import _cookie_token
from app.state.embed_actions import EmbedActionsMixin, confirm_cards
from app.state.embed_bridge import BRIDGE_JS
from app.state.embed_handoff import EmbedHandoffMixin

# Chip too: states pickled before the move name it as app.state.embed.Chip.
from app.state.embed_items import Card, ChatItem, cards_from, chips_for
from app.state.embed_items import Chip as Chip
from app.state.embed_resume import (
    INTERRUPTED,
    LOAD_WAIT_S,
    MARK_SENT_INSTALL_JS,
    STORAGE_JS,
    EmbedResumeMixin,
    interrupted_question,
)

log = logging.getLogger("chatconnect.embed")

# Tokens are pushed to the page at most this often (one websocket frame per batch).
STREAM_BATCH_S = 0.04
MAX_HOST_URL = 500


def _render(text: str, widget: PublicWidget | WidgetConfig) -> str:
    """Answer markdown -> sanitized (links per the widget's domains) -> HTML for the page."""
    return markdown_to_html(
        sanitize_markdown(
            text, allowed_domains=widget.allowed_domains, own_base_url=get_settings().public_url
        )
    )


def _ink_on(hex_color: str) -> str:
    """White or near-black text, whichever reads better on the primary color."""
    try:
        rgb = [int(hex_color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    except ValueError:
        return "#ffffff"
    lum = sum(
        w * (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        for w, c in zip((0.2126, 0.7152, 0.0722), rgb, strict=True)
    )
    return "#111827" if lum > 0.3 else "#ffffff"


def _find_widget(widget_id: str) -> PublicWidget | None:
    with session_scope() as session:
        return visitors.find_widget(session, widget_id)


def _post(message: dict[str, Any]) -> rx.event.EventSpec:
    """postMessage to the loader through the page's bridge (see BRIDGE_JS)."""
    return rx.call_script(f"window.ccEmbed&&window.ccEmbed.post({json.dumps(message)})")


class _Painter:
    """`async with _Painter(state)`: paints `text` as the streaming bubble, at most once per
    STREAM_BATCH_S (one websocket frame per batch), in a task of its own: new text is
    painted at once when the last paint is older than that, else when the interval ends,
    so text that arrives before a pause (the answer's lead-in) is not held back until the
    next token. Counted from the question: an answer complete within the first interval
    (cached, a Q&A pair) is one update with the final message. Leaving the block stops it
    after any paint in flight."""

    def __init__(self, state: Any) -> None:
        self.state = state
        self.widget: WidgetConfig | None = None
        self._text = ""
        self._shown = 0
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def text(self) -> str:
        return self._text

    @text.setter
    def text(self, value: str) -> None:
        self._text = value
        self._wake.set()

    async def __aenter__(self) -> _Painter:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        last = time.monotonic()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                return
            wait = last + STREAM_BATCH_S - time.monotonic()
            if wait > 0 and await self._stopped_within(wait):
                return
            if self.widget is None or len(self._text) <= self._shown:
                continue
            self._shown, last = len(self._text), time.monotonic()
            html = _render(self._text, self.widget)
            async with self.state:
                self.state.stream_text = html


class EmbedState(EmbedResumeMixin, EmbedHandoffMixin, EmbedActionsMixin, rx.State):
    status: str = "loading"  # loading | ready | unavailable
    title: str = "Assistant"
    avatar_url: str = ""
    primary_color: str = "#3e63dd"
    ink_color: str = "#ffffff"
    theme_class: str = ""  # "light" | "dark" | "" (follow the visitor's system)
    greeting: str = ""
    starters: list[str] = []
    placeholder: str = "Type your question…"
    mode: str = "bubble"
    preview: bool = False
    messages: list[ChatItem] = []
    draft: str = ""
    streaming: bool = False
    stream_text: str = ""
    banner: str = ""
    banner_kind: str = ""  # rate_limited | error | interrupted

    visitor_token: str = rx.LocalStorage(name="cc_visitor")
    saved_conversations: str = rx.LocalStorage(name="cc_conversations")

    _widget_id: str = ""
    _tenant_id: str = ""  # the widget's workspace, read once per page load
    _visitor_id: str = ""
    _conversation_id: str = ""
    _host_url: str = ""
    _user_agent: str = ""

    @rx.var
    def show_person_button(self) -> bool:
        """The "Talk to a person" button, per the widget's rules (never in the preview)."""
        if self.preview or self.status != "ready":
            return False
        if self.handoff_status in ("waiting_for_human", "human"):
            return False
        if self.person_button == "always":
            return True
        return self.person_button == "after_first" and any(
            m.role == "assistant" for m in self.messages
        )

    # ---- loading ---------------------------------------------------------------------

    def _apply_look(self, widget: PublicWidget) -> None:
        self.title = widget.title
        self.avatar_url = widget.avatar_url
        self.primary_color = widget.primary_color
        self.ink_color = _ink_on(widget.primary_color)
        self.theme_class = widget.theme if widget.theme in ("light", "dark") else ""
        self.greeting = widget.greeting
        self.starters = widget.starter_questions
        self.placeholder = widget.placeholder or "Type your question…"

    def _conversation_map(self) -> dict[str, str]:
        try:
            data = json.loads(self.saved_conversations or "{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _remember_conversation(self, conversation_id: str) -> None:
        if self.preview:
            return  # the dashboard's preview never leaves a conversation behind
        saved = self._conversation_map()
        if conversation_id:
            saved[self._widget_id] = conversation_id
        else:
            saved.pop(self._widget_id, None)
        self.saved_conversations = json.dumps(dict(list(saved.items())[-20:]))

    def _is_owner_preview(self, widget: PublicWidget) -> bool:
        """Preview mode only for a signed-in member of the widget's workspace."""
        token = _cookie_token(self.router.headers.cookie)
        if not token:
            return False
        with session_scope() as session:
            ident = accounts.identity_for_token(session, token)
        return ident is not None and ident.tenant_id == widget.tenant_id

    @rx.event
    async def load(self):
        # /embed/<widget_id>, from the URL being opened (router.page is deprecated).
        query = self.router.url.query_parameters or {}
        self._widget_id = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1][:64]
        self.mode = "inline" if query.get("mode") == "inline" else "bubble"
        host = str(query.get("host") or "")[:MAX_HOST_URL]
        self._host_url = host if origin_of(host) else ""
        self._user_agent = (self.router.headers.user_agent or "")[:300]
        self.messages, self.banner, self.banner_kind, self.stream_text = [], "", "", ""
        self.retry_question = ""
        streaming, self.streaming = self.streaming, False
        widget = await asyncio.to_thread(_find_widget, self._widget_id)
        if widget is None or not widget.enabled:
            self.status = "unavailable"
            return [rx.call_script(BRIDGE_JS)]
        if not self.visitor_token and query.get("preview") != "1":
            # A first visit, or a server that lost this page's state (Redis restarted empty)
            # and runs on_load without the browser's storage: read it from the page before
            # minting a new visitor id, which would orphan the visitor's conversation.
            self.status = "loading"
            return rx.call_script(STORAGE_JS, callback=EmbedState.load_stored)
        return await self._finish_load(widget, streaming)

    @rx.event
    async def load_stored(self, raw: str):
        """Continue `load` with the visitor token and conversations read from the page."""
        if self.status == "ready" or not self._adopt_storage(raw):
            return None
        widget = await asyncio.to_thread(_find_widget, self._widget_id)
        if widget is None or not widget.enabled:
            self.status = "unavailable"
            return [rx.call_script(BRIDGE_JS)]
        return await self._finish_load(widget, False)

    async def _finish_load(self, widget: PublicWidget, streaming: bool):
        query = self.router.url.query_parameters or {}
        # A turn this page saw start but not finish (its process died, the page went):
        # it was stored whole or not at all; offered again (until the next turn) if the
        # transcript lacks it.
        cut = interrupted_question(self.pending_turn, widget.id, streaming)
        self.preview = query.get("preview") == "1" and await asyncio.to_thread(
            self._is_owner_preview, widget
        )
        self._apply_look(widget)
        self._tenant_id = widget.tenant_id
        if self.preview:
            self._visitor_id = visitors.issue_visitor_token().split(".")[0]
            self._conversation_id = ""
        else:
            visitor = visitors.visitor_from_token(self.visitor_token)
            if visitor is None:
                self.visitor_token = visitors.issue_visitor_token()
                visitor = visitors.visitor_from_token(self.visitor_token)
            self._visitor_id = visitor or ""
            self._conversation_id = self._conversation_map().get(self._widget_id, "")
            if self._conversation_id:
                await self._restore(widget)
            if cut:
                self._offer_retry(cut, INTERRUPTED)
        await self._load_handoff(widget)
        self.status = "ready"
        config = {
            "type": "chatconnect:config",
            "position": widget.position,
            "color": widget.primary_color,
            "title": widget.title,
        }
        return [rx.call_script(BRIDGE_JS + MARK_SENT_INSTALL_JS), _post(config)]

    async def _restore(self, widget: PublicWidget) -> None:
        def read() -> list[visitors.TranscriptItem]:
            with session_scope() as session:
                return visitors.transcript(session, widget, self._conversation_id, self._visitor_id)

        try:
            items = await asyncio.to_thread(read)
        except NotFoundError:
            self._conversation_id = ""
            self._remember_conversation("")
            return
        self.messages = [
            ChatItem(
                id=item.id,
                role=item.role,
                text=item.text if item.role == "user" else _render(item.text, widget),
                author=item.author,
                chips=chips_for(item.text, item.sources)
                if item.role == "assistant" and widget.citations
                else [],
                feedback=item.feedback or 0,
                notice=item.notice,
                cards=cards_from(item.cards),
            )
            for item in items
        ]
        # Confirmations still open get fresh tokens (the page lost the old ones).
        reopened = await asyncio.to_thread(
            action_confirm.reopen, widget.tenant_id, self._conversation_id
        )
        if reopened:
            self.messages.append(ChatItem(role="assistant", confirms=confirm_cards(reopened)))

    # ---- chatting --------------------------------------------------------------------

    @rx.event
    def set_draft(self, value: str) -> None:
        self.draft = str(value)[:MAX_QUESTION_CHARS]

    @rx.event
    def new_conversation(self) -> None:
        if self.streaming:
            return
        self.messages, self.banner, self.banner_kind = [], "", ""
        self.retry_question = self.pending_turn = ""
        self._conversation_id = ""
        self._remember_conversation("")
        self._reset_handoff()
        self._follow()

    @rx.event
    def dismiss_banner(self) -> None:
        self.banner, self.banner_kind = "", ""

    @rx.event(background=True)
    async def submit(self, form_data: dict[str, Any]):
        async for update in self._turn(str(form_data.get("question") or "") or None):
            yield update

    @rx.event(background=True)
    async def ask(self, question: str):
        async for update in self._turn(str(question)):
            yield update

    @rx.event(background=True)
    async def ask_again(self):
        """The "Ask again" button of an interrupted turn."""
        async with self:
            question, self.retry_question = self.retry_question, ""
        async for update in self._turn(question):
            yield update

    async def _turn(self, raw: str | None):
        """One question (`raw` None: the chat box's draft), answered and shown. Each state
        update is a lock + read + write of the whole state (Redis when scaled out), so the
        turn starts in one: wait for the page's load, check, show the question."""
        opened: tuple[Any, ...] | None = None
        for _ in range(int(LOAD_WAIT_S / 0.1)):  # bounded wait, e.g. after state was lost
            async with self:
                if self.status != "loading":
                    opened = self._open_turn(raw)
                    break
            await asyncio.sleep(0.1)
        if opened is None:
            return
        (
            question, widget_id, tenant_id, visitor_id, conversation_id, host_url, user_agent,
            preview,
        ) = opened  # fmt: skip
        final: ChatItem | None = None
        saved_in, new_conversation = "", False  # the answer's conversation, and if it is new
        try:
            if not tenant_id:  # a page whose state predates the field: read it, as before
                found = await asyncio.to_thread(_find_widget, widget_id)
                if found is None or not found.enabled:
                    raise WidgetUnavailableError("This chat is unavailable.")
                tenant_id = found.tenant_id
            # The widget is read (and checked: enabled, in this workspace) by the turn
            # itself, which hands it back with the conversation: not read twice here.
            widget: WidgetConfig | None = None
            request = ChatRequest(
                tenant_id=tenant_id,
                widget_id=widget_id,
                message=question,
                conversation_id=conversation_id or None,
                visitor_id=visitor_id,
                channel="dashboard" if preview else "web",
                host_url=host_url,
                user_agent=user_agent,
            )
            # The streaming text is painted by its own task (see _Painter).
            async with _Painter(self) as painter:
                async for event in get_chat_service().stream(request):
                    if isinstance(event, ConversationEvent):
                        # A new conversation is stored with its first turn (TurnSaved) or,
                        # when the bot stays quiet, with the visitor's message (HandoffEvent).
                        new_conversation, widget = event.new, event.widget
                        painter.widget = widget
                    elif isinstance(event, HandoffEvent):
                        # No bot answer (a person is asked for or in charge), or the turn
                        # that was just answered escalated the conversation.
                        async with self:
                            self._adopt_conversation(event.conversation_id, new_conversation)
                            self._apply_step(
                                NextStep(
                                    event.status, event.line, event.offer_lead, event.staff_name
                                )
                            )
                    elif isinstance(event, TokenEvent):
                        painter.text += event.delta
                    elif isinstance(event, TurnSaved):
                        assert widget is not None
                        result = event.result
                        # Adopted with the answer below: one state update per turn, not two.
                        saved_in = event.conversation_id
                        source_dicts = [
                            {
                                "n": s.n,
                                "title": s.title,
                                "text": s.text,
                                "page": s.page,
                                "section": s.section,
                                "kind": s.kind,
                                "url": s.url,
                            }
                            # Only what the finished answer cites: none under "I don't know".
                            for s in result.sources
                        ]
                        final = ChatItem(
                            id=event.message_id,
                            role="assistant",
                            text=_render(result.answer, widget),
                            chips=chips_for(result.answer, source_dicts)
                            if widget.citations
                            else [],
                            notice=result.notice or "",
                            cards=[Card(**asdict(c)) for c in event.cards],
                            confirms=confirm_cards(event.confirmations),
                        )
        except RateLimitedError as exc:
            await self._fail("rate_limited", str(exc))
        except (WidgetUnavailableError, BudgetExceededError):
            async with self:
                self.status = "unavailable"
        except ChatInputError as exc:
            await self._fail("error", str(exc))
        except NotFoundError:
            # The remembered conversation is gone (deleted by the owner): start afresh.
            async with self:
                self._conversation_id = ""
                self._remember_conversation("")
            await self._fail("error", "That conversation has ended. Please ask again.")
        except Exception:
            log.exception("embed chat turn failed (widget %s)", widget_id)
            await self._fail("error", "Something went wrong on our side. Please try again.")
        async with self:
            self.streaming = False
            self.stream_text = ""
            if not self.preview:
                self.pending_turn = ""
            if final is not None:
                self._adopt_conversation(saved_in, new_conversation)
                self.messages.append(final)
                if self.banner_kind == "interrupted":
                    # Another process reloaded the page meanwhile but this one lived on.
                    self.banner, self.banner_kind, self.retry_question = "", "", ""
        if final is not None:
            yield _post({"type": "chatconnect:message", "role": "assistant"})

    def _open_turn(self, raw: str | None) -> tuple[Any, ...] | None:
        """Under the state lock: the question shown and marked pending, or None."""
        question = " ".join((self.draft if raw is None else raw).split())
        if self.streaming or self.status != "ready" or not question:
            return None
        if len(question) > MAX_QUESTION_CHARS:
            self.banner_kind = "error"
            self.banner = f"Questions are limited to {MAX_QUESTION_CHARS} characters."
            return None
        self.streaming = True
        if not self.preview:
            self.pending_turn = self.pending_for(question, self._widget_id)
        self.draft = ""
        self.banner, self.banner_kind, self.stream_text = "", "", ""
        self.retry_question = ""
        self.messages.append(ChatItem(role="user", text=question))
        return (
            question, self._widget_id, self._tenant_id, self._visitor_id,
            self._conversation_id, self._host_url, self._user_agent, self.preview,
        )  # fmt: skip

    def _adopt_conversation(self, conversation_id: str, new: bool) -> None:
        """The turn's conversation is stored: keep it, and follow a new one's live events."""
        adopted = new and conversation_id and conversation_id != self._conversation_id
        self._conversation_id = conversation_id
        if adopted:
            self._remember_conversation(conversation_id)
            self._follow()

    async def _fail(self, kind: str, message: str) -> None:
        async with self:
            self.banner_kind, self.banner = kind, message

    @rx.event
    async def rate(self, message_id: str, value: int):
        index = next((i for i, m in enumerate(self.messages) if m.id == message_id), None)
        if index is None or value not in (1, -1) or not self._conversation_id:
            return
        item = self.messages[index]
        new_value = 0 if item.feedback == value else value
        widget_id, conversation_id, visitor_id = (
            self._widget_id,
            self._conversation_id,
            self._visitor_id,
        )

        def write() -> NextStep | None:
            with session_scope() as session:
                widget = visitors.find_widget(session, widget_id)
                if widget is None or not widget.enabled:
                    raise NotFoundError("Widget")
                # A thumbs-down may escalate to a person (the widget's rules).
                return visitor_rate(
                    session, widget, conversation_id, visitor_id, message_id, new_value or None
                )

        try:
            step = await asyncio.to_thread(write)
        except (NotFoundError, ValueError):
            self.banner_kind, self.banner = "error", "That answer can no longer be rated."
            return
        self.messages[index] = replace(item, feedback=new_value)
        if step is not None:
            self._apply_step(step)

    # ---- dashboard live preview --------------------------------------------------------

    @rx.event
    def pull_preview(self):
        if self.preview:
            return rx.call_script(
                "JSON.stringify(window.__ccPreview||{})", callback=EmbedState.apply_preview
            )
        return None

    @rx.event
    def apply_preview(self, raw: str) -> None:
        if not self.preview:
            return
        try:
            data = json.loads(raw or "{}")
        except ValueError:
            return
        look = visitors.preview_settings(data if isinstance(data, dict) else {})
        if "title" in look:
            self.title = look["title"]
        if "avatar_url" in look:
            self.avatar_url = look["avatar_url"]
        if "primary_color" in look:
            self.primary_color = look["primary_color"]
            self.ink_color = _ink_on(look["primary_color"])
        if "theme" in look:
            self.theme_class = look["theme"] if look["theme"] in ("light", "dark") else ""
        if "greeting" in look:
            self.greeting = look["greeting"]
        if "starter_questions" in look:
            self.starters = look["starter_questions"]
        if "placeholder" in look:
            self.placeholder = look["placeholder"] or "Type your question…"
