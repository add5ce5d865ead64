"""Conversations: the filtered list with CSV export, and one transcript with
"improve this answer" (an owner-written Q&A pair drafted from the turn)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import conversation_log, qa, widgets
from app.services.answer_html import markdown_to_html
from app.services.conversation_log import ConversationFilter, ConversationFilterError
from app.state.auth import AuthState
from app.state.insights_views import ConversationView, conversation_view, money, when
from app.state.tool_call_views import ToolCallView, tool_call_views

FEEDBACK_CHOICES = {"all": "", "up": "up", "down": "down", "any": "any"}
CHANNEL_CHOICES = {"all": "", **{c: c for c in conversation_log.CHANNELS}}


def parse_day(value: str, label: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ConversationFilterError(f"{label} is not a date (YYYY-MM-DD).") from exc


class ConversationsState(AuthState):
    loaded: bool = False
    rows: list[ConversationView] = []
    total: int = 0
    page: int = 1
    pages: int = 1
    widget_options: list[dict[str, str]] = []
    widget_id: str = "all"
    date_from: str = ""
    date_to: str = ""
    feedback: str = "all"
    channel: str = "all"
    flagged: bool = False
    search: str = ""
    filter_error: str = ""

    def _filter(self) -> ConversationFilter:
        return ConversationFilter(
            widget_id="" if self.widget_id == "all" else self.widget_id,
            date_from=parse_day(self.date_from, "From"),
            date_to=parse_day(self.date_to, "To"),
            feedback=FEEDBACK_CHOICES.get(self.feedback, ""),
            channel=CHANNEL_CHOICES.get(self.channel, ""),
            flagged=self.flagged,
            search=self.search[: conversation_log.MAX_SEARCH],
        )

    def _reload(self) -> None:
        ident = self._require()
        try:
            flt = self._filter()
        except ConversationFilterError as exc:
            self.filter_error = str(exc)
            return
        self.filter_error = ""
        with session_scope() as session:
            result = conversation_log.list_conversations(session, ident.tenant_id, flt, self.page)
            options = widgets.list_widgets(session, ident.tenant_id)
        self.rows = [conversation_view(r) for r in result.rows]
        self.total, self.page, self.pages = result.total, result.page, result.pages
        self.widget_options = [{"id": w.id, "name": w.name} for w in options]
        self.loaded = True

    @rx.event
    def load(self):
        self._reload()

    @rx.event
    def choose_widget(self, value: str):
        self.widget_id, self.page = value, 1
        self._reload()

    @rx.event
    def choose_feedback(self, value: str):
        self.feedback, self.page = value, 1
        self._reload()

    @rx.event
    def choose_channel(self, value: str):
        self.channel, self.page = (value if value in CHANNEL_CHOICES else "all"), 1
        self._reload()

    @rx.event
    def choose_flagged(self, value: bool):
        self.flagged, self.page = bool(value), 1
        self._reload()

    @rx.event
    def choose_date_from(self, value: str):
        self.date_from, self.page = value, 1
        self._reload()

    @rx.event
    def choose_date_to(self, value: str):
        self.date_to, self.page = value, 1
        self._reload()

    @rx.event
    def apply_search(self, form: dict):
        self.search, self.page = str(form.get("search", ""))[:200], 1
        self._reload()

    @rx.event
    def clear_filters(self):
        self.widget_id, self.feedback, self.channel, self.flagged = "all", "all", "all", False
        self.date_from = self.date_to = self.search = ""
        self.page = 1
        self._reload()

    @rx.event
    def next_page(self):
        self.page = min(self.page + 1, self.pages)
        self._reload()

    @rx.event
    def prev_page(self):
        self.page = max(self.page - 1, 1)
        self._reload()

    @rx.event
    def export_csv(self):
        ident = self._require()
        try:
            flt = self._filter()
        except ConversationFilterError as exc:
            return rx.toast.error(str(exc))
        with session_scope() as session:
            data = conversation_log.export_csv(session, ident.tenant_id, flt)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        return [
            rx.download(data=data, filename=f"conversations-{stamp}.csv", mime_type="text/csv"),
            rx.toast.success("CSV exported"),
        ]


@dataclass
class SourceView:
    n: int = 0
    title: str = ""
    where: str = ""  # "page 3 · Care"
    score: str = ""
    text: str = ""
    kind: str = "chunk"


@dataclass
class MessageView:
    id: str = ""
    role: str = ""
    text: str = ""
    html: str = ""  # answers: the same server-side rendering the widget shows
    time: str = ""
    model: str = ""
    tokens: str = ""
    cost: str = ""
    latency: str = ""
    feedback: int = 0
    answered: bool = True
    low_confidence: bool = False
    cached: bool = False
    notice: str = ""
    sources: list[SourceView] = field(default_factory=list)
    tool_calls: list[ToolCallView] = field(default_factory=list)


def _source_view(data: dict) -> SourceView:
    where = []
    if data.get("page") is not None:
        where.append(f"page {data['page']}")
    if data.get("section"):
        where.append(str(data["section"]))
    score = data.get("score")
    return SourceView(
        n=int(data.get("n") or 0),
        title=str(data.get("title") or "Untitled"),
        where=" · ".join(where),
        score=f"{float(score):.2f}" if isinstance(score, int | float) else "",
        text=str(data.get("text") or "")[:1200],
        kind=str(data.get("kind") or "chunk"),
    )


class TranscriptState(AuthState):
    found: bool = True
    loaded: bool = False
    current_id: str = ""
    title: str = ""
    widget: str = ""
    channel: str = ""
    host: str = ""
    started: str = ""
    total_cost: str = ""
    total_tokens: int = 0
    messages: list[MessageView] = []
    # "Improve this answer" editor.
    improve_open: bool = False
    improve_question: str = ""
    improve_answer: str = ""
    improve_error: str = ""

    @rx.event
    def load(self):
        """Page loader (`on_load`, never `on_mount`): on a client-side navigation a
        component's on_mount is sent before the router has the new URL, so it would read
        the previous page's (empty) route arguments and show "not found"."""
        ident = self._require()
        # /conversations/<id>, from the URL being opened (router.page is deprecated).
        conversation_id = str(self.router.url.path).rstrip("/").rsplit("/", 1)[-1][:64]
        if conversation_id != self.current_id:
            # Another transcript (a click, back/forward): never show the previous one meanwhile.
            self.loaded, self.messages, self.improve_open = False, [], False
            yield
        try:
            with session_scope() as session:
                tr = conversation_log.transcript(session, ident.tenant_id, conversation_id)
        except NotFoundError:
            self.found, self.loaded = False, True
            self.current_id, self.messages = "", []
            return
        c = tr.conversation
        self.found = True
        self.current_id = c.id
        self.title = c.title or "Conversation"
        self.widget, self.channel, self.host = tr.widget_name, c.channel, c.host_url
        self.started = when(c.started_at)
        self.total_cost, self.total_tokens = money(tr.cost_usd), tr.tokens
        self.messages = [
            MessageView(
                id=m.id,
                role=m.role,
                text=m.text,
                html=markdown_to_html(m.text) if m.role != "user" else "",
                time=when(m.created_at),
                model=m.model or "",
                tokens=(
                    f"{m.tokens_in + m.cache_read_tokens + m.cache_write_tokens} in · "
                    f"{m.tokens_out} out"
                ),
                cost=money(m.cost_usd),
                latency=f"{m.latency_ms / 1000:.1f}s" if m.latency_ms is not None else "",
                feedback=m.feedback or 0,
                answered=m.answered,
                low_confidence=m.id in tr.low_confidence_ids,
                cached=m.cached,
                notice=m.notice or "",
                sources=[_source_view(s) for s in m.sources if isinstance(s, dict)],
                tool_calls=tool_call_views(m.tool_calls or []),
            )
            for m in tr.messages
        ]
        self.loaded = True

    @rx.event
    def start_improve(self, message_id: str):
        ident = self._require()
        try:
            with session_scope() as session:
                question, answer = conversation_log.question_for_answer(
                    session, ident.tenant_id, str(message_id)[:64]
                )
        except (NotFoundError, ConversationFilterError):
            return rx.toast.error("That answer no longer exists.")
        self.improve_question = question[: qa.MAX_QUESTION]
        self.improve_answer = answer[: qa.MAX_ANSWER]
        self.improve_error = ""
        self.improve_open = True
        return None

    @rx.event
    def toggle_improve(self, value: bool):
        self.improve_open = bool(value)

    @rx.event
    def save_improved(self, form: dict):
        ident = self._require()
        question = str(form.get("question", ""))
        answer = str(form.get("answer", ""))
        self.improve_question, self.improve_answer = question, answer
        try:
            with session_scope() as session:
                qa.create_pair(session, ident.tenant_id, question, answer)
        except qa.QAError as exc:
            self.improve_error = str(exc)
            return None
        self.improve_open = False
        return rx.toast.success("Q&A pair saved: the widget now answers this question with it.")
