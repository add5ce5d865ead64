"""The chat turn as a LlamaIndex Workflow, with an in-test BaseRetriever and responders:
steps and events, streaming order, sources only for answered turns, Q&A pairs, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from workflows import Workflow

from app.rag.answer_types import AnswerDone, AnswerEvent, AnswerRequest, Source, Turn, Usage
from app.rag.chat import SourcesEvent, TokenEvent, TurnInput, TurnResult, WidgetConfig
from app.rag.workflow import ChatWorkflow, sources_from_nodes

UNKNOWN = "Sorry, I couldn't find that in our documentation."


def _node(n: int, text: str, score: float, **meta: object) -> NodeWithScore:
    metadata = {
        "tenant_id": "t1",
        "document_id": f"doc-{n}",
        "title": f"Doc {n}",
        "page": None,
        "section": None,
        "chunk_index": n,
        "token_count": len(text.split()),
        **meta,
    }
    return NodeWithScore(node=TextNode(id_=f"p{n}", text=text, metadata=metadata), score=score)


class ListRetriever(BaseRetriever):
    """Returns fixed nodes for one tenant and records the queries it got."""

    def __init__(self, tenant_id: str, nodes: list[NodeWithScore], log: list[tuple]) -> None:
        super().__init__()
        self.tenant_id, self.nodes, self.log = tenant_id, nodes, log

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.log.append((self.tenant_id, query_bundle.query_str))
        return self.nodes


class Scripted:
    """A responder that streams fixed pieces and records the request it answered."""

    def __init__(self, pieces: list[str], answered: bool = True, provider: str = "openai") -> None:
        self.pieces, self.answered, self.provider = pieces, answered, provider
        self.requests: list[AnswerRequest] = []

    async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        self.requests.append(req)
        for piece in self.pieces:
            yield piece
            await asyncio.sleep(0)
        usage = Usage(tokens_in=100, tokens_out=len(self.pieces))
        yield AnswerDone(
            model="gpt-4o-mini", provider=self.provider, usage=usage, answered=self.answered
        )


NODES = [
    _node(1, "Orders ship within 3 to 5 business days.", 0.91, page=2, section="Shipping"),
    _node(2, "Returns are accepted for 30 days.", 0.42),
    _node(3, "Gift cards never expire.", 0.17),
]


def _workflow(nodes: list[NodeWithScore], log: list[tuple], qa=None) -> ChatWorkflow:  # type: ignore[no-untyped-def]
    return ChatWorkflow(lambda tenant_id: ListRetriever(tenant_id, nodes, log), qa)


def _turn(question: str, history: list[Turn] | None = None, **widget: object) -> TurnInput:
    return TurnInput(
        tenant_id="t1",
        widget=WidgetConfig(id="w1", unknown_answer=UNKNOWN, **widget),  # type: ignore[arg-type]
        question=question,
        history=history or [],
    )


async def _run(workflow: ChatWorkflow, turn: TurnInput, responder) -> list[object]:  # type: ignore[no-untyped-def]
    return [e async for e in workflow.run_turn(turn, lambda is_qa: responder)]


def test_it_is_a_workflow_with_the_documented_steps() -> None:
    workflow = _workflow([], [])
    assert isinstance(workflow, Workflow)
    assert set(workflow._get_steps()) == {
        "condense",
        "match_qa",
        "retrieve",
        "respond",
        "sanitize",
    }
    workflow.validate()  # the event graph is complete: every event is produced and consumed


async def test_tokens_stream_then_only_cited_sources_then_the_result() -> None:
    log: list[tuple] = []
    responder = Scripted(["Orders ship ", "in 3 to 5 ", "business days [1]."])
    events = await _run(_workflow(NODES, log), _turn("How long does shipping take?"), responder)

    kinds = [type(e).__name__ for e in events]
    assert kinds == ["TokenEvent"] * 3 + ["SourcesEvent", "TurnResult"]
    assert "".join(e.delta for e in events if isinstance(e, TokenEvent)) == (
        "Orders ship in 3 to 5 business days [1]."
    )
    (sources_event,) = [e for e in events if isinstance(e, SourcesEvent)]
    assert [s.document_id for s in sources_event.sources] == ["doc-1"]  # [2], [3] not cited
    result = events[-1]
    assert isinstance(result, TurnResult) and result.answered
    assert result.sources == sources_event.sources
    assert (result.model, result.provider) == ("gpt-4o-mini", "openai")
    assert result.usage.tokens_in == 100 and result.cost_usd > 0
    assert result.ttft_ms is not None and result.latency_ms >= result.ttft_ms
    assert log == [("t1", "How long does shipping take?")]
    (request,) = responder.requests
    assert [s.n for s in request.sources] == [1, 2, 3]  # the responder saw all retrieved


async def test_i_dont_know_streams_no_sources() -> None:
    responder = Scripted([UNKNOWN], answered=True)  # an LLM saying the sentence verbatim
    events = await _run(_workflow(NODES, []), _turn("Do you sell bicycles?"), responder)
    assert not any(isinstance(e, SourcesEvent) for e in events)
    result = events[-1]
    assert isinstance(result, TurnResult)
    assert not result.answered and result.sources == [] and result.answer == UNKNOWN

    refusal = Scripted(["Nothing on that."], answered=False)  # the extractive's "no"
    events = await _run(_workflow(NODES, []), _turn("Do you sell bicycles?"), refusal)
    assert not any(isinstance(e, SourcesEvent) for e in events)
    assert isinstance(events[-1], TurnResult) and events[-1].sources == []


async def test_without_citations_an_answer_lists_what_it_was_given() -> None:
    responder = Scripted(["Orders ship in 3 to 5 business days."])
    events = await _run(_workflow(NODES, []), _turn("Shipping?", citations=False), responder)
    (sources_event,) = [e for e in events if isinstance(e, SourcesEvent)]
    assert len(sources_event.sources) == 3


async def test_follow_up_retrieves_with_the_condensed_query() -> None:
    log: list[tuple] = []
    history = [Turn("user", "What is the return policy?"), Turn("assistant", "30 days [1].")]
    responder = Scripted(["30 days [2]."])
    events = await _run(_workflow(NODES, log), _turn("And for gift cards?", history), responder)
    assert log == [("t1", "What is the return policy? And for gift cards?")]
    result = events[-1]
    assert isinstance(result, TurnResult) and result.query == log[0][1]
    assert responder.requests[0].question == "And for gift cards?"
    assert responder.requests[0].history == history


async def test_a_matching_qa_pair_skips_retrieval_and_the_model() -> None:
    log: list[tuple] = []
    pair = Source(1, "pair-9", "Do you ship to Canada?", "Yes, within 5 days.", 1.0, kind="qa")
    seen: list[tuple] = []

    async def matcher(tenant_id: str, widget_id: str | None, query: str) -> Source | None:
        seen.append((tenant_id, widget_id, query))
        return pair

    llm, extractive = (
        Scripted(["LLM"]),
        Scripted(["Yes, within 5 days. [1]"], provider="extractive"),
    )
    workflow = _workflow(NODES, log, matcher)
    events = [
        e
        async for e in workflow.run_turn(
            _turn("Do you ship to Canada?"), lambda is_qa: extractive if is_qa else llm
        )
    ]
    result = events[-1]
    assert isinstance(result, TurnResult) and result.qa_pair_id == "pair-9"
    assert result.sources == [pair] and result.provider == "extractive"
    assert log == [] and llm.requests == [] and seen == [("t1", "w1", "Do you ship to Canada?")]
    assert await workflow.sources_for("t1", "w1", "Do you ship to Canada?") == ([pair], "pair-9")


async def test_a_failing_retriever_raises_its_own_error() -> None:
    class Broken(BaseRetriever):
        def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
            raise LookupError("store is down")

    workflow = ChatWorkflow(lambda tenant_id: Broken())
    with pytest.raises(LookupError, match="store is down"):
        await _run(workflow, _turn("Shipping?"), Scripted(["x"]))


async def test_a_reader_that_stops_early_cancels_the_run() -> None:
    class Endless:
        provider = "openai"
        produced = 0

        async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
            while True:
                Endless.produced += 1
                yield "more "
                await asyncio.sleep(0.001)

    stream = _workflow(NODES, []).run_turn(_turn("Shipping?"), lambda is_qa: Endless())
    first = await anext(stream)
    assert isinstance(first, TokenEvent)
    await stream.aclose()  # cancels the workflow run instead of leaving it streaming
    stopped_at = Endless.produced
    await asyncio.sleep(0.1)
    assert Endless.produced == stopped_at


def test_sources_from_nodes_follows_the_contract() -> None:
    sources = sources_from_nodes(NODES)
    assert [s.n for s in sources] == [1, 2, 3]
    first = sources[0]
    assert (first.document_id, first.title, first.page, first.section) == (
        "doc-1",
        "Doc 1",
        2,
        "Shipping",
    )
    assert first.text == "Orders ship within 3 to 5 business days."
    assert first.score == pytest.approx(0.91) and first.chunk_index == 1
    assert first.kind == "chunk"
