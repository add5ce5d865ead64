"""One chat turn as a LlamaIndex Workflow (llama-index-workflows).

    ChatStart -> condense -> QueryReady -> match_qa -> SourcesFound ----------+
                                                  \\-> NeedsRetrieval -> retrieve -+
    SourcesFound -> respond -> AnswerDrafted -> sanitize -> TurnDone (stop)

- condense: the standalone retrieval query (a follow-up borrows the previous question);
- match_qa: an owner-written Q&A pair that matches wins: no retrieval, no model call;
- retrieve: the tenant's `BaseRetriever` (from the `retriever_for(tenant_id)` factory it
  was given; the workflow never touches the store) -> `NodeWithScore`s -> `Source`s;
- respond: the responder (an LLM integration wrapped in failover and the leak guard, or the
  extractive answerer for a Q&A pair) streams; each delta is written to the workflow's
  event stream as a `TokenEvent`;
- sanitize: markdown and link rules, citations renumbered, "answered" decided; only then
  are the cited sources written to the stream (`SourcesEvent`, none for "I don't know");
- done: `TurnDone` carries the `TurnResult` (answer, sources, model, usage, cost, timings).

`ChatWorkflow.run_turn(turn, responder_for)` runs it and yields the stream events followed
by the `TurnResult`; persisting, metering and limits are the caller's (app.services.chat).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore
from workflows import Context, Workflow, step
from workflows.decorators import StepFunction
from workflows.events import Event, StartEvent, StopEvent

from app.rag.answer import Responder
from app.rag.answer_types import AnswerDone, AnswerRequest, Source, Usage
from app.rag.chat import (
    MAX_QUESTION_CHARS,
    ChatEvent,
    QAMatcher,
    SourcesEvent,
    TokenEvent,
    TurnInput,
    TurnResult,
    condense_question,
)
from app.rag.chunking import count_tokens
from app.rag.pricing import cost_usd
from app.rag.sanitize import clean_citations, sanitize_markdown

RetrieverFactory = Callable[[str], BaseRetriever]
ResponderFor = Callable[[bool], Responder]  # is_qa_pair -> responder


def sources_from_nodes(nodes: Sequence[NodeWithScore]) -> list[Source]:
    """Retrieved nodes (best first) as the numbered sources an answer cites."""
    sources: list[Source] = []
    for n, hit in enumerate(nodes, start=1):
        meta = hit.node.metadata
        page, section = meta.get("page"), meta.get("section")
        sources.append(
            Source(
                n=n,
                document_id=str(meta.get("document_id") or ""),
                title=str(meta.get("title") or ""),
                text=hit.node.get_content(),
                score=float(hit.score or 0.0),
                page=int(page) if page is not None else None,
                section=str(section) if section else None,
                chunk_index=int(meta.get("chunk_index") or 0),
                url=str(meta["url"]) if meta.get("url") else None,
            )
        )
    return sources


@dataclass(slots=True, repr=False)
class _Turn:
    """What every step of one run may need; the events carry it along."""

    input: TurnInput
    responder_for: ResponderFor
    started: float
    question: str = ""
    query: str = ""

    def __repr__(self) -> str:
        # Workflows put a summary of every event into its instrumentation spans: keep the
        # owner's system prompt and the history out of them (and the summary cheap).
        return f"_Turn(tenant={self.input.tenant_id!r}, widget={self.input.widget.id!r})"


# ---- events ------------------------------------------------------------------------------


class ChatStart(StartEvent):
    turn: _Turn


class QueryReady(Event):
    turn: _Turn


class NeedsRetrieval(Event):
    turn: _Turn


class SourcesFound(Event):
    turn: _Turn
    sources: list[Source]
    qa_pair_id: str | None = None


class AnswerDrafted(Event):
    turn: _Turn
    sources: list[Source]
    qa_pair_id: str | None
    raw: str
    done: AnswerDone
    ttft_ms: int | None


class TurnDone(StopEvent):
    turn_result: TurnResult


# ---- the workflow ------------------------------------------------------------------------


class ChatWorkflow(Workflow):
    """Runs turns for any tenant; holds no tenant state."""

    def __init__(
        self,
        retriever_for: RetrieverFactory,
        qa_matcher: QAMatcher | None = None,
    ) -> None:
        # No workflow timeout: each provider attempt has its deadlines (app.rag.answer
        # Timeouts) and app.services.turn_runner bounds the whole turn.
        self._cached_steps: tuple[int, dict[str, StepFunction]] | None = None
        super().__init__(timeout=None)
        self.retriever_for = retriever_for
        self.qa_matcher = qa_matcher

    def _get_steps(self) -> dict[str, StepFunction]:
        # The stock lookup runs inspect.getmembers over the instance on each call, eight
        # times a run: that was a third of the workflow's own cost per turn. An instance's
        # steps change only if a free-function step is added to the class (a new version).
        version = type(self)._step_functions_version
        if self._cached_steps is None or self._cached_steps[0] != version:
            self._cached_steps = (version, super()._get_steps())
        return dict(self._cached_steps[1])

    @step
    async def condense(self, ev: ChatStart) -> QueryReady:
        turn = ev.turn
        turn.question = turn.input.question.strip()[:MAX_QUESTION_CHARS]
        turn.query = condense_question(turn.input.history, turn.question)
        return QueryReady(turn=turn)

    async def _pair(self, tenant_id: str, widget_id: str | None, query: str) -> Source | None:
        if self.qa_matcher is None:
            return None
        return await self.qa_matcher(tenant_id, widget_id, query)

    async def _retrieved(self, tenant_id: str, query: str) -> list[Source]:
        retriever = self.retriever_for(tenant_id)
        # Embedding and search block: a worker thread keeps the event loop free.
        nodes = await asyncio.to_thread(retriever.retrieve, query)
        return sources_from_nodes(nodes)

    async def sources_for(
        self, tenant_id: str, widget_id: str | None, query: str
    ) -> tuple[list[Source], str | None]:
        """What match_qa + retrieve find for `query` (all of it, cited or not), and the
        matched Q&A pair's id if one won; for the dashboard's "test retrieval"."""
        pair = await self._pair(tenant_id, widget_id, query)
        if pair is not None:
            return [pair], pair.document_id
        return await self._retrieved(tenant_id, query), None

    @step
    async def match_qa(self, ev: QueryReady) -> SourcesFound | NeedsRetrieval:
        turn = ev.turn
        pair = await self._pair(turn.input.tenant_id, turn.input.widget.id, turn.query)
        if pair is not None:
            return SourcesFound(turn=turn, sources=[pair], qa_pair_id=pair.document_id)
        return NeedsRetrieval(turn=turn)

    @step
    async def retrieve(self, ev: NeedsRetrieval) -> SourcesFound:
        turn = ev.turn
        sources = await self._retrieved(turn.input.tenant_id, turn.query)
        return SourcesFound(turn=turn, sources=sources)

    @step
    async def respond(self, ctx: Context, ev: SourcesFound) -> AnswerDrafted:
        turn, widget = ev.turn, ev.turn.input.widget
        request = AnswerRequest(
            question=turn.question,
            sources=ev.sources,
            history=turn.input.history,
            system_prompt=widget.system_prompt,
            unknown_answer=widget.unknown_answer,
            model=widget.model or "",
            temperature=widget.temperature,
            citations=widget.citations,
            retrieval_query=turn.query,
        )
        # A Q&A pair is the owner's own answer: no model call needed.
        responder = turn.responder_for(ev.qa_pair_id is not None)
        parts: list[str] = []
        ttft_ms: int | None = None
        done: AnswerDone | None = None
        async for event in responder.stream(request):
            if isinstance(event, AnswerDone):
                done = event
                continue
            if ttft_ms is None:
                ttft_ms = round((time.perf_counter() - turn.started) * 1000)
            parts.append(event)
            ctx.write_event_to_stream(TokenEvent(event))
        if done is None:  # a responder must end with AnswerDone; be defensive anyway
            done = AnswerDone(model="unknown", provider="unknown", usage=Usage(), answered=False)
        return AnswerDrafted(
            turn=turn,
            sources=ev.sources,
            qa_pair_id=ev.qa_pair_id,
            raw="".join(parts),
            done=done,
            ttft_ms=ttft_ms,
        )

    @step
    async def sanitize(self, ctx: Context, ev: AnswerDrafted) -> TurnDone:
        turn, widget, done = ev.turn, ev.turn.input.widget, ev.done
        text = sanitize_markdown(
            ev.raw, allowed_domains=widget.allowed_domains, own_base_url=turn.input.own_base_url
        )
        text, used = clean_citations(text, len(ev.sources)) if widget.citations else (text, [])
        answered = done.answered and text.strip() != widget.unknown_answer.strip()
        # With citations on, only cited sources are shown; uncited retrievals mislead. An
        # "I don't know" shows none: the passages did not answer the question.
        cited = [s for s in ev.sources if s.n in used] if widget.citations else ev.sources
        sources = cited if answered else []
        if sources:
            ctx.write_event_to_stream(SourcesEvent(sources))
        usage = done.usage
        if usage.tokens_in == 0 and usage.tokens_out == 0 and ev.raw:
            usage = Usage(tokens_in=count_tokens(turn.question), tokens_out=count_tokens(ev.raw))
        result = TurnResult(
            answer=text,
            sources=sources,
            model=done.model,
            provider=done.provider,
            usage=usage,
            cost_usd=cost_usd(done.model, usage, done.provider),
            ttft_ms=ev.ttft_ms,
            latency_ms=round((time.perf_counter() - turn.started) * 1000),
            answered=answered,
            query=turn.query,
            notice=done.notice,
            qa_pair_id=ev.qa_pair_id,
            confidence=done.confidence if answered else None,
        )
        return TurnDone(turn_result=result)

    async def run_turn(
        self, turn: TurnInput, responder_for: ResponderFor
    ) -> AsyncIterator[ChatEvent]:
        """The turn's `TokenEvent`s and `SourcesEvent`, then its `TurnResult`.

        `responder_for(is_qa_pair)` picks the responder once the sources are known. A step's
        exception propagates unchanged; a reader that stops early cancels the run.
        """
        start = ChatStart(turn=_Turn(turn, responder_for, time.perf_counter()))
        handler = self.run(start_event=start)
        result: TurnResult | None = None
        try:
            async for event in handler.stream_events():
                if isinstance(event, TokenEvent | SourcesEvent):
                    yield event
                elif isinstance(event, TurnDone):
                    result = event.turn_result
            if result is None:
                result = (await handler).turn_result  # raises the failed step's exception
            yield result
        finally:
            if not handler.is_done():
                await handler.cancel_run()
