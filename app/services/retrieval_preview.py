"""The "test retrieval" box of the Knowledge page: which chunks a question retrieves, and the answer
the widget would give to it.

The chunks come from the same workflow steps a real turn uses (Q&A match, else hybrid
retrieval), unfiltered, so the owner also sees what the answer did not cite. The answer is a
real turn through ChatService on channel "dashboard": it is logged and metered like any
other (a provider call costs the same from here), and analytics can leave the channel out.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from llama_index.core.base.base_retriever import BaseRetriever

from app.rag.answer_types import Source
from app.rag.workflow import sources_from_nodes
from app.services.chat import ChatRequest, ChatService, get_chat_service

DASHBOARD_CHANNEL = "dashboard"
MAX_PREVIEW_QUESTION = 1000


class PreviewError(ValueError):
    status_code = 422


@dataclass(frozen=True, slots=True)
class RetrievalPreview:
    query: str
    chunks: list[Source]
    answer: str
    answered: bool
    cited: list[int]  # `n` of the chunks the answer cites (empty for a Q&A pair)
    qa_pair: bool
    model: str
    provider: str
    tokens: int
    cost_usd: float
    latency_ms: int
    cached: bool
    conversation_id: str
    # By chunk `n`: the raw cosine similarity of the chunk to the question (None when only
    # the keyword search found it, and for a Q&A pair), beside its normalized hybrid score.
    relevance: dict[int, float | None] = field(default_factory=dict)
    # By chunk `n`, for cited chunks: the sentence of the chunk the answer quotes.
    quotes: dict[int, str] = field(default_factory=dict)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_CITATION = re.compile(r"\[\d+\]")
_WORD = re.compile(r"\w+")
_MIN_OVERLAP = 0.6  # share of a sentence's words the answer must contain to count as quoted


def _norm(text: str) -> str:
    return " ".join(_CITATION.sub(" ", text).replace("*", " ").replace("`", " ").split()).lower()


def quoted_sentence(answer: str, chunk_text: str) -> str | None:
    """The sentence of `chunk_text` the answer quotes: verbatim if one is in the answer (the
    longest), else the one whose words the answer covers best (a paraphrasing LLM), if it
    covers at least 60% of them. None when the answer does not draw on this chunk."""
    said = _norm(answer)
    words = set(_WORD.findall(said))
    best: tuple[float, int, str] | None = None
    for sentence in (s.strip() for s in _SENTENCE_END.split(chunk_text)):
        own = _WORD.findall(sentence.lower())
        if len(own) < 3:
            continue
        exact = _norm(sentence) in said
        share = 1.0 if exact else sum(w in words for w in own) / len(own)
        key = (share, len(sentence), sentence)
        if share >= _MIN_OVERLAP and (best is None or key > best):
            best = key
    return best[2] if best else None


async def preview(
    tenant_id: str,
    user_id: str,
    question: str,
    widget_id: str | None = None,
    *,
    service: ChatService | None = None,
    retriever_for: Callable[..., BaseRetriever] | None = None,
) -> RetrievalPreview:
    """Run one dashboard turn. Raises PreviewError, WidgetUnavailableError, RateLimitedError,
    BudgetExceededError (the chat path's own refusals)."""
    question = " ".join((question or "").split())
    if not question:
        raise PreviewError("Type a question to test.")
    if len(question) > MAX_PREVIEW_QUESTION:
        raise PreviewError(f"Keep test questions under {MAX_PREVIEW_QUESTION:,} characters.")
    service = service or get_chat_service()
    saved = await service.ask(
        ChatRequest(
            tenant_id=tenant_id,
            widget_id=widget_id or None,
            message=question,
            visitor_id=f"dashboard:{user_id}"[:64],
            channel=DASHBOARD_CHANNEL,
        )
    )
    result = saved.result
    # The retrieval step again, uncut: the turn's own sources are only those it cited.
    # The query embedding is cached, so this costs one vector search.
    relevance: dict[int, float | None] = {}
    if result.qa_pair_id:
        chunks, qa_id = await service.workflow.sources_for(
            tenant_id, widget_id or None, result.query
        )
    else:
        make = retriever_for or service.workflow.retriever_for
        retriever = make(tenant_id)
        nodes = await asyncio.to_thread(retriever.retrieve, result.query)
        chunks, qa_id = sources_from_nodes(nodes), None
        relevance = {
            c.n: node.node.metadata.get("dense_score")
            for c, node in zip(chunks, nodes, strict=True)
        }
    cited_ids = {(s.document_id, s.chunk_index) for s in result.sources}
    cited = [c.n for c in chunks if (c.document_id, c.chunk_index) in cited_ids]
    quotes = {
        c.n: quote
        for c in chunks
        if c.n in cited and (quote := quoted_sentence(result.answer, c.text))
    }
    usage = result.usage
    return RetrievalPreview(
        query=result.query,
        chunks=chunks,
        answer=result.answer,
        answered=result.answered,
        cited=cited,
        qa_pair=qa_id is not None,
        model=result.model,
        provider=result.provider,
        tokens=usage.tokens_in + usage.tokens_out,
        cost_usd=result.cost_usd,
        latency_ms=result.latency_ms,
        cached=result.cached,
        conversation_id=saved.conversation_id,
        relevance=relevance,
        quotes=quotes,
    )
