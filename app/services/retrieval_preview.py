"""The "test retrieval" box of the Knowledge page: which chunks a question retrieves, and the answer
the widget would give to it.

The chunks come from the same workflow steps a real turn uses (Q&A match, else hybrid
retrieval), unfiltered, so the owner also sees what the answer did not cite. The answer is a
real turn through ChatService on channel "dashboard": it is logged and metered like any
other (a provider call costs the same from here), and analytics can leave the channel out.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.rag.answer_types import Source
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


async def preview(
    tenant_id: str,
    user_id: str,
    question: str,
    widget_id: str | None = None,
    *,
    service: ChatService | None = None,
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
    chunks, qa_id = await service.workflow.sources_for(tenant_id, widget_id or None, result.query)
    cited_ids = {(s.document_id, s.chunk_index) for s in result.sources}
    cited = [c.n for c in chunks if (c.document_id, c.chunk_index) in cited_ids]
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
    )
