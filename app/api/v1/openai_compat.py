"""OpenAI-compatible surface: `model` is a widget id, so any OpenAI client library can talk
to a tenant's bot (base_url `<app>/api/v1/openai`, api_key a secret key).

Only the last user message is asked; earlier user/assistant turns are passed as history
(for follow-up questions). System messages and sampling parameters are ignored: the
widget's own prompt and settings apply.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.api.v1.chat import (
    SSE_HEADERS,
    Chat,
    chat_request,
    check_widget,
    source_out,
    usage_out,
)
from app.api.v1.deps import JSON_BODY, ChatKey
from app.api.v1.errors import problem_body, problem_response
from app.api.v1.schemas import NOT_BLANK, SourceOut, Text, storable
from app.db import session_scope
from app.rag.answer_types import Turn
from app.rag.chat import TokenEvent
from app.services import widgets
from app.services.api_keys import KeyIdentity
from app.services.chat import TurnSaved
from app.services.turn_runner import DetachedTurn, ask_detached

log = logging.getLogger("chatconnect.api")

router = APIRouter(prefix="/openai", tags=["openai-compatible"])

# Bounded so that every schema-valid body fits the route's body limit (OPENAI_BODY_LIMIT),
# even with every character JSON-escaped.
MAX_MESSAGES = 32
MAX_CONTENT_CHARS = 2000
MAX_USER_PARTS = 4
OPENAI_BODY_LIMIT = 1024 * 1024
NonBlank = Annotated[str, Field(min_length=1, pattern=NOT_BLANK), AfterValidator(storable)]


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: Annotated[NonBlank, Field(max_length=MAX_CONTENT_CHARS // MAX_USER_PARTS)]


class AnyPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Annotated[str, Field(max_length=32)]
    text: Text | None = Field(default=None, max_length=MAX_CONTENT_CHARS)


class UserMessage(BaseModel):
    """The question: text, or text parts (other part types are not supported)."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["user"]
    content: (
        Annotated[NonBlank, Field(max_length=MAX_CONTENT_CHARS)]
        | Annotated[list[TextPart], Field(min_length=1, max_length=MAX_USER_PARTS)]
    )

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class OtherMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "assistant", "tool", "function"]
    content: Text | Annotated[list[AnyPart], Field(max_length=16)] | None = Field(
        default=None, max_length=MAX_CONTENT_CHARS
    )

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return "".join(p.text or "" for p in self.content if p.type == "text")
        return ""


InMessage = Annotated[UserMessage | OtherMessage, Field(discriminator="role")]


def _has_user_message(
    messages: list[UserMessage | OtherMessage],
) -> list[UserMessage | OtherMessage]:
    if not any(m.role == "user" for m in messages):
        raise ValueError("include at least one user message (the question)")
    return messages


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class CompletionIn(BaseModel):
    """Other OpenAI parameters (temperature, max_tokens, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")
    model: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$", description="A widget id.")]
    messages: Annotated[
        list[InMessage],
        Field(
            min_length=1,
            max_length=MAX_MESSAGES,
            json_schema_extra={
                "contains": {
                    "type": "object",
                    "properties": {"role": {"const": "user"}},
                    "required": ["role"],
                }
            },
        ),
        AfterValidator(_has_user_message),
    ]
    stream: bool = False
    stream_options: StreamOptions | None = None


class OutMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int
    message: OutMessage
    finish_reason: Literal["stop"]
    logprobs: None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatConnectExtras(BaseModel):
    conversation_id: str
    message_id: str
    sources: list[SourceOut]


class Completion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    chatconnect: ChatConnectExtras


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    name: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


def _models(key: KeyIdentity) -> ModelList:
    with session_scope() as session:
        rows = widgets.list_widgets(session, key.tenant_id)
    return ModelList(
        data=[
            Model(
                id=w.id,
                created=int(w.created_at.timestamp()),
                owned_by="chatconnect",
                name=w.name,
            )
            for w in rows
            if w.enabled and key.allows_widget(w.id)
        ]
    )


@router.get("/models", response_model=ModelList, summary="The widgets this key can talk to")
async def list_models(key: ChatKey) -> ModelList:
    return await run_in_threadpool(_models, key)


def _question_and_history(messages: list[UserMessage | OtherMessage]) -> tuple[str, list[Turn]]:
    """The last user message is the question; earlier user/assistant turns are history.
    (Anything after it, such as an assistant prefill, is ignored.)"""
    last = max(i for i, m in enumerate(messages) if m.role == "user")
    history = [
        Turn(role=m.role, text=m.text()[:MAX_CONTENT_CHARS])  # type: ignore[arg-type]
        for m in messages[:last]
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    return messages[last].text(), history


def _usage(saved: TurnSaved) -> CompletionUsage:
    u = usage_out(saved.result)
    return CompletionUsage(
        prompt_tokens=u.prompt_tokens,
        completion_tokens=u.completion_tokens,
        total_tokens=u.total_tokens,
    )


def _chunk(cid: str, created: int, model: str, delta: dict[str, Any], finish: str | None) -> bytes:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def _stream(
    events: AsyncIterator[Any], cid: str, created: int, model: str, include_usage: bool
) -> AsyncIterator[bytes]:
    yield _chunk(cid, created, model, {"role": "assistant", "content": ""}, None)
    try:
        async for event in events:
            if isinstance(event, TokenEvent) and event.delta:
                yield _chunk(cid, created, model, {"content": event.delta}, None)
            elif isinstance(event, TurnSaved):
                yield _chunk(cid, created, model, {}, "stop")
                if include_usage:
                    usage = {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": _usage(event).model_dump(),
                    }
                    yield f"data: {json.dumps(usage)}\n\n".encode()
    except Exception:
        log.exception("openai-compatible stream failed")
        body = problem_body(500, "The answer could not be completed.")
        body["error"] = {"message": body["detail"], "type": "server_error", "code": 500}
        yield f"data: {json.dumps(body)}\n\n".encode()
    yield b"data: [DONE]\n\n"


@router.post(
    "/chat/completions",
    response_model=Completion,
    summary="OpenAI chat.completions: `model` is a widget id; `stream` supported",
    dependencies=[JSON_BODY],
    responses={
        200: {
            "description": "A chat.completion, or with `stream: true` chat.completion.chunk "
            "events ending with `data: [DONE]`.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        404: problem_response("The widget is disabled"),
        429: problem_response("Rate limit or monthly budget reached (see Retry-After)"),
    },
)
async def chat_completions(
    body: CompletionIn, key: ChatKey, request: Request, service: Chat
) -> Any:
    question, history = _question_and_history(body.messages)
    await run_in_threadpool(check_widget, key, body.model)
    req = chat_request(key, request, widget_id=body.model, message=question, history=history)
    cid = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if body.stream:
        turn = await DetachedTurn.start(service.stream(req))  # survives a disconnect
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _stream(turn.events(), cid, created, body.model, include_usage),
            media_type="text/event-stream",
            headers=SSE_HEADERS,
        )
    saved = await ask_detached(service, req)
    result = saved.result
    return Completion(
        id=cid,
        created=created,
        model=body.model,
        choices=[Choice(index=0, message=OutMessage(content=result.answer), finish_reason="stop")],
        usage=_usage(saved),
        chatconnect=ChatConnectExtras(
            conversation_id=saved.conversation_id,
            message_id=saved.message_id,
            sources=[source_out(s) for s in result.sources],
        ),
    )
