"""POST /chat (JSON) and POST /chat/stream (Server-Sent Events): the one ChatService turn."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from app.api.v1.deps import JSON_BODY, ChatKey, require_widget
from app.api.v1.errors import DATABASE_UNAVAILABLE, problem_body, problem_response
from app.api.v1.schemas import ChatIn, ChatOut, SourceOut, UsageOut
from app.db import database_unavailable, session_scope
from app.rag.answer_types import Source
from app.rag.chat import SourcesEvent, TokenEvent, TurnResult
from app.services.api_keys import KeyIdentity
from app.services.chat import ChatRequest, ChatService, TurnSaved, get_chat_service
from app.services.limits import RateLimitedError
from app.services.turn_runner import DetachedTurn, ask_detached

log = logging.getLogger("chatconnect.api")

router = APIRouter(tags=["chat"])

Chat = Annotated[ChatService, Depends(get_chat_service)]

SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx and friends: do not buffer the stream
}


def check_widget(key: KeyIdentity, widget_id: str) -> None:
    with session_scope() as session:
        require_widget(session, key, widget_id)


def chat_request(key: KeyIdentity, request: Request, **fields: Any) -> ChatRequest:
    return ChatRequest(
        tenant_id=key.tenant_id,
        channel="api",
        user_agent=(request.headers.get("user-agent") or "")[:300],
        **fields,
    )


def source_out(source: Source) -> SourceOut:
    return SourceOut(
        n=source.n,
        document_id=source.document_id,
        title=source.title,
        text=source.text[:1200],
        score=round(float(source.score), 4),
        page=source.page,
        section=source.section,
    )


def usage_out(result: TurnResult) -> UsageOut:
    u = result.usage
    prompt = u.tokens_in + u.cache_read_tokens + u.cache_write_tokens
    return UsageOut(
        prompt_tokens=prompt,
        completion_tokens=u.tokens_out,
        total_tokens=prompt + u.tokens_out,
        cost_usd=round(result.cost_usd, 6),
    )


def chat_out(saved: TurnSaved) -> ChatOut:
    r = saved.result
    return ChatOut(
        answer=r.answer,
        sources=[source_out(s) for s in r.sources],
        conversation_id=saved.conversation_id,
        message_id=saved.message_id,
        usage=usage_out(r),
        model=r.model,
        provider=r.provider,
        cached=r.cached,
        notice=r.notice,
    )


ERRORS: dict[int | str, dict[str, Any]] = {
    404: problem_response("The widget is disabled, or the conversation does not exist"),
    429: problem_response("Rate limit or monthly budget reached (see Retry-After)"),
}


@router.post(
    "/chat",
    response_model=ChatOut,
    summary="Ask a question and get the whole answer",
    dependencies=[JSON_BODY],
    responses=ERRORS,
)
async def chat(body: ChatIn, key: ChatKey, request: Request, service: Chat) -> ChatOut:
    await run_in_threadpool(check_widget, key, body.widget_id)
    saved = await ask_detached(
        service,
        chat_request(
            key,
            request,
            widget_id=body.widget_id,
            message=body.message,
            conversation_id=body.conversation_id,
        ),
    )
    return chat_out(saved)


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def _sse_events(turn: DetachedTurn) -> AsyncIterator[bytes]:
    try:
        async for event in turn.events():
            if isinstance(event, TokenEvent):
                yield sse("token", {"text": event.delta})
            elif isinstance(event, SourcesEvent):
                yield sse(
                    "sources", {"sources": [source_out(s).model_dump() for s in event.sources]}
                )
            elif isinstance(event, TurnSaved):
                out = chat_out(event)
                yield sse(
                    "done",
                    {
                        "conversation_id": out.conversation_id,
                        "message_id": out.message_id,
                        "usage": out.usage.model_dump(),
                        "model": out.model,
                        "provider": out.provider,
                        "cached": out.cached,
                        "notice": out.notice,
                    },
                )
            else:
                yield sse("conversation", {"conversation_id": event.conversation_id})
    except RateLimitedError as exc:
        yield sse("error", problem_body(429, str(exc), "rate-limited"))
    except Exception as exc:
        if database_unavailable(exc):  # the answer was not saved: the client may ask again
            log.warning("chat stream: database unavailable (%s)", type(exc).__name__)
            yield sse("error", problem_body(503, DATABASE_UNAVAILABLE, "database-unavailable"))
            return
        log.exception("chat stream failed")
        yield sse("error", problem_body(500, "The answer could not be completed."))


@router.post(
    "/chat/stream",
    summary="Ask a question and stream the answer (Server-Sent Events)",
    response_class=StreamingResponse,
    dependencies=[JSON_BODY],
    responses={
        200: {
            "description": "`event: conversation`, one `token` per generated piece, then "
            "`sources` (the passages the answer cites; absent when it cites none or does not "
            "know the answer), then `done` with usage (or `error`). Each `data:` line is JSON.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **ERRORS,
    },
)
async def chat_stream(
    body: ChatIn, key: ChatKey, request: Request, service: Chat
) -> StreamingResponse:
    await run_in_threadpool(check_widget, key, body.widget_id)
    # The turn runs in its own task: a client that disconnects mid-answer stops reading,
    # not the turn, which is still saved and metered.
    turn = await DetachedTurn.start(
        service.stream(
            chat_request(
                key,
                request,
                widget_id=body.widget_id,
                message=body.message,
                conversation_id=body.conversation_id,
            )
        )
    )
    return StreamingResponse(_sse_events(turn), media_type="text/event-stream", headers=SSE_HEADERS)
