"""The one chat path used by the embed page, the dashboard and the REST API.

limits -> conversation + history -> (cached answer | ChatWorkflow turn) -> persist + meter.
Blocking work (database, Redis, embeddings) runs in threads; the stream never blocks the
event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from app.db import NotFoundError, TenantScope, session_scope
from app.models import Catalogue, Document, QAPair, Tenant, Widget
from app.rag.answer import ProviderCredentials, Responder, compose_responder
from app.rag.answer_types import Source, Turn, Usage
from app.rag.chat import (
    MAX_QUESTION_CHARS,
    SourcesEvent,
    TokenEvent,
    TurnInput,
    TurnResult,
    WidgetConfig,
    condense_question,
)
from app.rag.llm_extractive import ExtractiveLLMResponder
from app.rag.llms import select_responder
from app.rag.tools import ToolCallingResponder
from app.rag.workflow import ChatWorkflow
from app.services import (
    action_builtins,
    action_confirm,
    action_runtime,
    conversations,
    handoff_flow,
    inbox,
    intent_router,
    metrics,
    product_search,
)
from app.services.cache import ANSWER_TTL_S, digest, get_cache
from app.services.cache import normalize_question as _normalize
from app.services.credentials import credentials_for, secrets_of
from app.services.escalation import EscalationRules, HumanRequestDetector, rules_of
from app.services.limits import RateLimitedError, get_rate_limiter
from app.services.qa import QAMatcher
from app.services.vectors import query_embedder, retriever_for
from app.settings import get_settings

log = logging.getLogger("chatconnect.chat")


class ChatInputError(ValueError):
    status_code = 422


class HandledByStaffError(ChatInputError):
    """`ask()` on a conversation a person handles: the message is stored, no bot answer."""

    status_code = 409


class WidgetUnavailableError(LookupError):
    """Missing, disabled or another tenant's widget: all look the same."""

    status_code = 404


@dataclass(slots=True)
class ChatRequest:
    tenant_id: str
    widget_id: str | None  # None only for a dashboard test of the workspace defaults
    message: str
    conversation_id: str | None = None
    visitor_id: str = ""
    channel: str = "web"
    host_url: str = ""
    user_agent: str = ""
    enforce_limits: bool = True
    # Earlier turns sent by a stateless client (the OpenAI-compatible API); used only
    # when the turn starts a new conversation.
    history: list[Turn] = field(default_factory=list)


@dataclass(slots=True)
class ConversationEvent:
    conversation_id: str
    new: bool
    # The widget as this turn loaded it (citations, link domains): a widget page renders
    # the answer with it instead of reading the widget again.
    widget: WidgetConfig


@dataclass(slots=True)
class TurnSaved:
    result: TurnResult
    conversation_id: str
    message_id: str
    # Product cards for a product question, from stored catalogue rows (never model text).
    cards: list[product_search.ProductCard] = field(default_factory=list)
    # Change-actions waiting for the visitor's Confirm (app.services.action_confirm).
    confirmations: list[action_confirm.PendingAction] = field(default_factory=list)
    tool_calls: list[dict] = field(default_factory=list)  # as stored on the message


@dataclass(slots=True)
class HandoffEvent:
    """The bot does not answer this message (a person is asked for or in charge); or,
    after an answer, the conversation was just escalated (N low-confidence answers)."""

    conversation_id: str
    status: str
    line: str
    offer_lead: bool
    message_id: str = ""  # the stored visitor message when the bot stayed quiet
    staff_name: str = ""


ServiceEvent = ConversationEvent | SourcesEvent | TokenEvent | TurnSaved | HandoffEvent


@dataclass(slots=True)
class _Loaded:
    widget: WidgetConfig
    tenant: Tenant
    credentials: ProviderCredentials  # decrypted once per turn
    kb_version: str
    rules: EscalationRules = field(default_factory=EscalationRules)
    mode: str = "llm"  # llm | intent | hybrid (app.services.intent_router)


@dataclass(slots=True)
class _Opened:
    draft: conversations.Conversation  # stored, or a draft stored with the first turn
    new: bool
    history: list[Turn]
    overage: bool
    status: str  # handoff status
    toolbox: action_runtime.Toolbox | None = None


def widget_config(widget: Widget) -> WidgetConfig:
    return WidgetConfig(
        id=widget.id,
        system_prompt=widget.system_prompt,
        model=widget.model,
        temperature=widget.temperature,
        citations=widget.citations_enabled,
        unknown_answer=widget.unknown_answer,
        allowed_domains=list(widget.allowed_domains),
    )


def kb_version(session: Session, tenant_id: str, widget: Widget | None) -> str:
    """Changes whenever the tenant's documents, Q&A pairs, catalogues or the widget change.
    One statement (three scalar subqueries): it runs on every turn."""
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)

    def summary(model: Any) -> tuple[Any, Any]:
        where = model.tenant_id == tenant_id
        return (
            select(func.count(model.id)).where(where).scalar_subquery(),
            select(func.max(model.updated_at)).where(where).scalar_subquery(),
        )

    # A catalogue row changes with every sync: answers quoting products follow the shop.
    row = session.exec(select(*summary(Document), *summary(QAPair), *summary(Catalogue))).one()
    return digest(*(str(part) for part in row), widget.updated_at.isoformat() if widget else "")


def load_widget(session: Session, tenant_id: str, widget_id: str) -> Widget:
    try:
        widget = TenantScope(session, tenant_id).get(Widget, widget_id)
    except NotFoundError as exc:
        raise WidgetUnavailableError("This chat is unavailable.") from exc
    if not widget.enabled:
        raise WidgetUnavailableError("This chat is unavailable.")
    return widget


class ChatService:
    def __init__(
        self,
        workflow: ChatWorkflow,
        make_primary: Callable[[_Loaded], Responder | None] | None = None,
        fallback: Responder | None = None,
        detector: HumanRequestDetector | None = None,
    ) -> None:
        self.workflow = workflow
        # Without an embedder the detector still knows the phrase list.
        self.detector = detector or HumanRequestDetector(None)
        self.fallback = fallback or ExtractiveLLMResponder(
            get_settings().extractive_pause_ms / 1000
        )
        self._make_primary = make_primary or self._primary_from_credentials

    def _primary_from_credentials(self, loaded: _Loaded) -> Responder | None:
        return select_responder(
            loaded.credentials,
            widget_model=loaded.widget.model,
            tenant_model=loaded.tenant.default_model,
            tier=loaded.tenant.tier,
        )

    def _responder_for(
        self, loaded: _Loaded, toolbox: action_runtime.Toolbox | None = None
    ) -> Callable[[bool], Responder]:
        def pick(is_qa_pair: bool) -> Responder:
            if is_qa_pair:
                return self.fallback  # the extractive answerer passes the pair's answer through
            primary = self._make_primary(loaded)
            if toolbox is not None and ToolCallingResponder.supports(primary):
                primary = ToolCallingResponder(primary, toolbox.llm_tools())
            secrets = secrets_of(loaded.credentials) if primary else None
            return compose_responder(primary, self.fallback, secrets=secrets)

        return pick

    def _load(self, session: Session, req: ChatRequest) -> _Loaded:
        if req.widget_id is None and req.channel != "dashboard":
            raise WidgetUnavailableError("This chat is unavailable.")
        widget = load_widget(session, req.tenant_id, req.widget_id) if req.widget_id else None
        tenant = session.get(Tenant, req.tenant_id)
        if tenant is None:
            raise WidgetUnavailableError("This chat is unavailable.")
        return _Loaded(
            widget_config(widget) if widget else WidgetConfig(id=None),
            tenant,
            credentials_for(tenant),
            kb_version(session, req.tenant_id, widget),
            rules_of(widget.escalation if widget else None),
            widget.mode if widget else "llm",
        )

    def _open(self, req: ChatRequest) -> tuple[_Loaded, _Opened]:
        """Everything a turn reads before answering, in one thread hop and one transaction:
        the widget and workspace, the rate limits, the budget, the conversation and its
        history, the widget's actions. Limits are checked before the conversation is read."""
        with session_scope() as session:
            loaded = self._load(session, req)
            if req.enforce_limits:
                get_rate_limiter().check(
                    req.tenant_id,
                    loaded.tenant.tier,
                    req.visitor_id or None,
                    req.widget_id or None,
                )
            opened = self._begin(session, req, loaded)
            opened.toolbox = action_runtime.toolbox_for(
                req.tenant_id, req.widget_id, opened.draft.id, req.channel, session=session
            )
            return loaded, opened

    def _begin(self, session: Session, req: ChatRequest, loaded: _Loaded) -> _Opened:
        overage = conversations.check_budget(session, loaded.tenant)
        if not req.conversation_id:
            # Stored by `_save` together with the first turn, never on its own.
            draft = conversations.draft_conversation(
                req.tenant_id,
                widget_id=req.widget_id,
                visitor_id=req.visitor_id,
                channel=req.channel,
                host_url=req.host_url,
                user_agent=req.user_agent,
            )
            history = req.history[-conversations.HISTORY_TURNS * 2 :]
            return _Opened(draft, True, history, overage, draft.handoff_status)
        conversation, _ = conversations.get_or_start_conversation(
            session,
            req.tenant_id,
            conversation_id=req.conversation_id,
            widget_id=req.widget_id,
            visitor_id=req.visitor_id,
        )
        history = conversations.history(session, req.tenant_id, conversation.id)
        return _Opened(conversation, False, history, overage, conversation.handoff_status)

    def _stored(
        self, session: Session, req: ChatRequest, draft: conversations.Conversation, new: bool
    ) -> conversations.Conversation:
        """The conversation row: a new one is added now, in the caller's transaction."""
        scope = TenantScope(session, req.tenant_id)
        if new:
            conversation = scope.add(draft)
            session.flush()
            return conversation
        return scope.get(conversations.Conversation, draft.id)

    def _quiet(  # type: ignore[no-untyped-def]
        self,
        req: ChatRequest,
        draft: conversations.Conversation,
        new: bool,
        question: str,
        reason: str | None,
    ):
        """Store the visitor's message without a bot answer; escalate first if asked to."""
        with session_scope() as session:
            conversation = self._stored(session, req, draft, new)
            message = inbox.record_visitor_message(session, req.tenant_id, conversation, question)
            if reason is not None:
                step = handoff_flow.escalate(session, conversation, reason)
            else:
                rules = handoff_flow.widget_rules(session, req.tenant_id, req.widget_id)
                step = handoff_flow.next_step(session, conversation, rules)
            return HandoffEvent(
                conversation.id,
                step.status,
                step.line,
                step.offer_lead,
                message.id,
                step.staff_name,
            )

    def _after_answer(self, req: ChatRequest, conversation_id: str, rules: EscalationRules):  # type: ignore[no-untyped-def]
        with session_scope() as session:
            conversation = TenantScope(session, req.tenant_id).get(
                conversations.Conversation, conversation_id
            )
            if not handoff_flow.low_confidence_due(session, conversation, rules):
                return None
            step = handoff_flow.escalate(session, conversation, inbox.Reason.low_confidence)
            return HandoffEvent(conversation_id, step.status, step.line, step.offer_lead)

    def _save(
        self,
        req: ChatRequest,
        draft: conversations.Conversation,
        question: str,
        result: TurnResult,
        new: bool,
        overage: bool,
        cards: list[product_search.ProductCard] | None = None,
        toolbox: action_runtime.Toolbox | None = None,
        persist: intent_router.Persist | None = None,
    ) -> str:
        with session_scope() as session:
            conversation = self._stored(session, req, draft, new)
            if persist is not None:  # an intent dialogue's next step, with the turn
                persist(session, conversation)
            user, answer = conversations.record_turn(
                session,
                req.tenant_id,
                conversation,
                question,
                result,
                new_conversation=new,
                overage=overage,
            )
            answer.cards = [asdict(c) for c in cards or []]
            if toolbox is not None:
                answer.tool_calls = list(toolbox.log)
                action_confirm.store(session, req.tenant_id, [r for _, r in toolbox.pending])
            inbox.emit_messages(session, [user, answer])
            return answer.id

    async def stream(self, req: ChatRequest) -> AsyncIterator[ServiceEvent]:
        question = " ".join((req.message or "").split())
        if not question:
            raise ChatInputError("Type a question first.")
        if len(question) > MAX_QUESTION_CHARS:
            raise ChatInputError(f"Questions are limited to {MAX_QUESTION_CHARS} characters.")
        try:
            loaded, opened = await asyncio.to_thread(self._open, req)
        except RateLimitedError as exc:
            metrics.record_rate_limited(exc.scope)
            raise
        except conversations.BudgetExceededError:
            metrics.record_rate_limited("budget")
            raise
        draft, new, history, overage, status = (
            opened.draft, opened.new, opened.history, opened.overage, opened.status
        )  # fmt: skip
        conversation_id = draft.id
        yield ConversationEvent(conversation_id, new, loaded.widget)
        visitor_side = req.channel == "web" and req.widget_id is not None
        reason: str | None = None
        if (
            visitor_side
            and loaded.rules.phrases
            and status not in (inbox.HandoffStatus.waiting, inbox.HandoffStatus.human)
            and await asyncio.to_thread(self.detector.asks_for_human, question)
        ):
            reason = inbox.Reason.phrase
        if status == inbox.HandoffStatus.human or reason is not None:
            # A person is in charge (or was just asked for): the bot stays quiet.
            yield await asyncio.to_thread(self._quiet, req, draft, new, question, reason)
            return
        if loaded.mode != "llm":
            outcome = await asyncio.to_thread(self._intent, req, loaded, draft.id, question)
            if outcome is not None and outcome.handoff:
                yield await asyncio.to_thread(
                    self._quiet, req, draft, new, question, inbox.Reason.phrase
                )
                return
            if outcome is not None:
                result = outcome.result
                message_id = await asyncio.to_thread(
                    self._save, req, draft, question, result, new, overage,
                    cards=outcome.cards, persist=outcome.persist,
                )  # fmt: skip
                yield TokenEvent(result.answer)
                metrics.record_turn(
                    req.channel, "intent", answered=result.answered, cached=False,
                    tokens_in=0, tokens_out=0, cost_usd=0.0,
                )  # fmt: skip
                yield TurnSaved(result, conversation_id, message_id, outcome.cards)
                return
        # Only standalone questions are cached: a follow-up's answer depends on history.
        # A widget with actions answers from live calls: no answer cache for it.
        toolbox = opened.toolbox
        standalone = condense_question(history, question) == question and toolbox is None
        cache_key = "ans:" + digest(req.widget_id or "", loaded.kb_version, _normalize(question))
        result: TurnResult | None = None
        cached = await asyncio.to_thread(get_cache().get, cache_key) if standalone else None
        if cached is not None:
            result = _from_cache(cached)
            yield TokenEvent(result.answer)
            if result.sources:  # as the workflow sends them: after the answer
                yield SourcesEvent(result.sources)
        else:
            turn = TurnInput(
                tenant_id=req.tenant_id,
                widget=loaded.widget,
                question=question,
                history=history,
                own_base_url=get_settings().public_url,
            )
            responder_for = self._responder_for(loaded, toolbox)
            async for event in self.workflow.run_turn(turn, responder_for):
                if isinstance(event, TurnResult):
                    result = event
                else:
                    yield event
        assert result is not None
        cards = await asyncio.to_thread(_product_cards, req, question, toolbox)
        if cards and not result.answered:
            # The documents had no answer but the catalogue has products: say so briefly
            # (stored like this too, so the transcript shows what the visitor saw).
            result = replace(result, answer=PRODUCTS_LINE)
        message_id = await asyncio.to_thread(
            self._save, req, draft, question, result, new, overage, cards, toolbox
        )
        if standalone and not result.cached and result.answered and not result.notice:
            await asyncio.to_thread(get_cache().set, cache_key, _to_cache(result), ANSWER_TTL_S)
        metrics.record_turn(
            req.channel,
            result.provider,
            answered=result.answered,
            cached=result.cached,
            tokens_in=result.usage.tokens_in,
            tokens_out=result.usage.tokens_out,
            cost_usd=result.cost_usd,
        )
        yield TurnSaved(
            result,
            conversation_id,
            message_id,
            cards,
            [p for p, _ in toolbox.pending] if toolbox else [],
            list(toolbox.log) if toolbox else [],
        )
        if visitor_side and loaded.rules.low_confidence_n > 0:
            escalated = await asyncio.to_thread(
                self._after_answer, req, conversation_id, loaded.rules
            )
            if escalated is not None:
                yield escalated

    def _intent(
        self, req: ChatRequest, loaded: _Loaded, conversation_id: str, question: str
    ) -> intent_router.IntentOutcome | None:
        return intent_router.decide(
            req.tenant_id, req.widget_id, loaded.mode, conversation_id, question,
            unknown_answer=loaded.widget.unknown_answer, channel=req.channel,
            requester=req.visitor_id or conversation_id,
            embedder=self.detector.embedder,  # None: the process's query embedder
        )  # fmt: skip

    async def ask(self, req: ChatRequest) -> TurnSaved:
        """Non-streaming convenience: run the turn and return the saved result."""
        saved: TurnSaved | None = None
        async for event in self.stream(req):
            if isinstance(event, TurnSaved):
                saved = event
        if saved is None:
            raise HandledByStaffError("A person is handling this conversation; message stored.")
        return saved


PRODUCTS_LINE = "Here are the products that match what you asked for:"


def _product_cards(
    req: ChatRequest, question: str, toolbox: action_runtime.Toolbox | None = None
) -> list[product_search.ProductCard]:
    """Cards for a product question asked in a widget (the API has no cards to show, so
    its answers stay unchanged); the model's search_products results when it searched;
    a failed lookup never costs the answer."""
    if req.widget_id is None or req.channel not in ("web", "dashboard"):
        return []
    try:
        cards = toolbox.cards if toolbox and toolbox.cards else None
        if cards is None:
            cards = product_search.cards_for(req.tenant_id, question)
        return action_builtins.with_cart_buttons(req.tenant_id, req.widget_id, cards)
    except Exception:
        log.exception("product cards failed")
        return []


def _to_cache(result: TurnResult) -> dict:
    return {
        "answer": result.answer,
        "sources": [asdict(s) for s in result.sources],
        "model": result.model,
        "provider": result.provider,
        "query": result.query,
        "qa_pair_id": result.qa_pair_id,
        "confidence": result.confidence,
    }


def _from_cache(data: dict) -> TurnResult:
    return TurnResult(
        answer=data["answer"],
        sources=[Source(**s) for s in data["sources"]],
        model=data["model"],
        provider=data["provider"],
        usage=Usage(),
        cost_usd=0.0,
        ttft_ms=0,
        latency_ms=0,
        answered=True,
        query=data["query"],
        cached=True,
        qa_pair_id=data.get("qa_pair_id"),
        confidence=data.get("confidence"),
    )


_service: ChatService | None = None
_lock = threading.Lock()


def build_workflow() -> ChatWorkflow:
    """The process's chat workflow: tenant-bound hybrid retrievers, Q&A pairs first."""
    return ChatWorkflow(retriever_for, QAMatcher(query_embedder()))


def get_chat_service() -> ChatService:
    global _service
    if _service is None:
        with _lock:
            if _service is None:
                _service = ChatService(
                    build_workflow(), detector=HumanRequestDetector(query_embedder())
                )
    return _service


def reset_chat_service() -> None:
    global _service
    _service = None


def warm_up() -> None:
    """Load what a first turn would (the chat service and, when it is local, the embedding
    model with one forward pass), so the first visitor does not wait for it and the start-up
    freeze (app/process_tuning.py) covers it. A hosted embedding API is not called."""
    get_chat_service()
    if get_settings().embedding_provider != "openai":
        query_embedder().embed_texts(["warm-up"])
