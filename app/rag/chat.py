"""One chat turn: history -> condensed query -> (Q&A match | retrieve) -> answer stream.

Async end to end: retrieval and embedding run in worker threads (`asyncio.to_thread`),
the responders use the async SDKs. The turn yields `TokenEvent`s as the answer is
generated and ends with one `TurnResult` holding the sanitized answer, its sources, the
model, usage, cost and timings; persisting it is the caller's job (app.services.chat).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from app.rag.answer import Responder
from app.rag.answer_types import AnswerDone, AnswerRequest, Source, Turn, Usage
from app.rag.chunking import count_tokens
from app.rag.pricing import cost_usd
from app.rag.retrieval import Retriever
from app.rag.sanitize import clean_citations, sanitize_markdown
from app.rag.types import SearchHit

# No retrieval gate by default: hybrid's gate is on the dense score, which would drop exact
# keyword hits ("descale" scores 0.09 with MiniLM). Relevance is judged by the answerers:
# the extractive one by term coverage, the LLMs by their instruction to say "don't know".
DEFAULT_SCORE_THRESHOLD: float | None = None
DEFAULT_TOP_K = 6
MAX_QUESTION_CHARS = 2000
_FOLLOW_UP = re.compile(
    r"\b(it|its|it's|that|this|those|these|they|them|their|he|she|his|her|there|"
    r"the same|what about|and|also|more|else)\b",
    re.IGNORECASE,
)


@dataclass(slots=True)
class WidgetConfig:
    id: str | None
    system_prompt: str = ""
    model: str | None = None
    temperature: float = 0.2
    citations: bool = True
    unknown_answer: str = "Sorry, I couldn't find that in our documentation."
    allowed_domains: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TurnInput:
    tenant_id: str
    widget: WidgetConfig
    question: str
    history: list[Turn] = field(default_factory=list)
    own_base_url: str = ""


@dataclass(slots=True)
class TokenEvent:
    delta: str


@dataclass(slots=True)
class SourcesEvent:
    sources: list[Source]


@dataclass(slots=True)
class TurnResult:
    answer: str
    sources: list[Source]
    model: str
    provider: str
    usage: Usage
    cost_usd: float
    ttft_ms: int | None
    latency_ms: int
    answered: bool
    query: str
    notice: str | None = None
    cached: bool = False
    qa_pair_id: str | None = None
    confidence: float | None = None  # from AnswerDone; None: the best source's score is used


ChatEvent = TokenEvent | SourcesEvent | TurnResult
QAMatcher = Callable[[str, str | None, str], Awaitable[Source | None]]


def condense_question(history: list[Turn], question: str) -> str:
    """The retrieval query for a turn: a follow-up borrows the previous user question.

    Lexical on purpose: it costs nothing, works offline, and cannot be talked into
    anything. A question is a follow-up when it is short or leans on a pronoun.
    """
    question = question.strip()
    previous = next((t.text for t in reversed(history) if t.role == "user"), None)
    if not previous:
        return question
    words = question.split()
    if len(words) <= 4 or _FOLLOW_UP.search(question):
        return f"{previous.strip()} {question}"[:MAX_QUESTION_CHARS]
    return question


def hits_to_sources(hits: list[SearchHit]) -> list[Source]:
    return [
        Source(
            n=i,
            document_id=h.document_id,
            title=h.title,
            text=h.text,
            score=h.score,
            page=h.page,
            section=h.section,
            chunk_index=h.chunk_index,
        )
        for i, h in enumerate(hits, start=1)
    ]


class ChatEngine:
    """Runs turns for any tenant; holds no tenant state."""

    def __init__(
        self,
        retriever: Retriever,
        qa_matcher: QAMatcher | None = None,
        *,
        top_k: int = DEFAULT_TOP_K,
        score_threshold: float | None = DEFAULT_SCORE_THRESHOLD,
    ) -> None:
        self.retriever = retriever
        self.qa_matcher = qa_matcher
        self.top_k = top_k
        self.score_threshold = score_threshold

    async def sources_for(
        self, tenant_id: str, widget_id: str | None, query: str
    ) -> tuple[list[Source], str | None]:
        """A matching owner-written Q&A pair wins; otherwise the retrieved chunks."""
        if self.qa_matcher is not None:
            pair = await self.qa_matcher(tenant_id, widget_id, query)
            if pair is not None:
                return [pair], pair.document_id
        hits = await asyncio.to_thread(
            self.retriever.retrieve,
            tenant_id,
            query,
            mode="hybrid",
            top_k=self.top_k,
            score_threshold=self.score_threshold,
        )
        return hits_to_sources(hits), None

    async def run(
        self, turn: TurnInput, responder_for: Callable[[bool], Responder]
    ) -> AsyncIterator[ChatEvent]:
        """`responder_for(is_qa_pair)` picks the responder once the sources are known."""
        started = time.perf_counter()
        question = turn.question.strip()[:MAX_QUESTION_CHARS]
        query = condense_question(turn.history, question)
        sources, qa_pair_id = await self.sources_for(turn.tenant_id, turn.widget.id, query)
        yield SourcesEvent(sources)
        widget = turn.widget
        request = AnswerRequest(
            question=question,
            sources=sources,
            history=turn.history,
            system_prompt=widget.system_prompt,
            unknown_answer=widget.unknown_answer,
            model=widget.model or "",
            temperature=widget.temperature,
            citations=widget.citations,
            retrieval_query=query,
        )
        # A Q&A pair is the owner's own answer: no model call needed.
        responder = responder_for(qa_pair_id is not None)
        parts: list[str] = []
        ttft_ms: int | None = None
        done: AnswerDone | None = None
        async for event in responder.stream(request):
            if isinstance(event, AnswerDone):
                done = event
                continue
            if ttft_ms is None:
                ttft_ms = round((time.perf_counter() - started) * 1000)
            parts.append(event)
            yield TokenEvent(event)
        if done is None:  # a responder must end with AnswerDone; be defensive anyway
            done = AnswerDone(model="unknown", provider="unknown", usage=Usage(), answered=False)
        raw = "".join(parts)
        text = sanitize_markdown(
            raw, allowed_domains=widget.allowed_domains, own_base_url=turn.own_base_url
        )
        text, used = clean_citations(text, len(sources)) if widget.citations else (text, [])
        answered = done.answered and text.strip() != widget.unknown_answer.strip()
        # With citations on, only cited sources are shown; uncited retrievals mislead.
        cited = [s for s in sources if s.n in used] if widget.citations else sources
        usage = done.usage
        if usage.tokens_in == 0 and usage.tokens_out == 0 and raw:
            usage = Usage(tokens_in=count_tokens(question), tokens_out=count_tokens(raw))
        yield TurnResult(
            answer=text,
            sources=cited if answered else [],
            model=done.model,
            provider=done.provider,
            usage=usage,
            cost_usd=cost_usd(done.model, usage, done.provider),
            ttft_ms=ttft_ms,
            latency_ms=round((time.perf_counter() - started) * 1000),
            answered=answered,
            query=query,
            notice=done.notice,
            qa_pair_id=qa_pair_id,
            confidence=done.confidence if answered else None,
        )
