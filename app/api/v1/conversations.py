"""Conversations with their messages, and feedback on answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from app.api.v1.deps import JSON_BODY, ChatKey
from app.api.v1.errors import problem_response
from app.api.v1.schemas import (
    ConversationDetail,
    ConversationOut,
    ConversationPage,
    FeedbackIn,
    FeedbackOut,
    Id,
    MessageOut,
)
from app.db import NotFoundError, TenantScope, session_scope
from app.models import Conversation, Message
from app.services import conversations
from app.services.api_keys import KeyIdentity

router = APIRouter(tags=["conversations"])

NOT_FOUND = {404: problem_response("No such conversation or message in this workspace")}


def _visible(key: KeyIdentity, conversation: Conversation) -> bool:
    """A widget-bound key sees only its widget's conversations."""
    return key.widget_id is None or conversation.widget_id == key.widget_id


def _list(key: KeyIdentity, widget_id: str | None, offset: int, limit: int) -> ConversationPage:
    if key.widget_id is not None:
        if widget_id not in (None, key.widget_id):
            return ConversationPage(items=[], total=0, offset=offset, limit=limit)
        widget_id = key.widget_id
    with session_scope() as session:
        rows, total = conversations.list_conversations(
            session, key.tenant_id, widget_id=widget_id, offset=offset, limit=limit
        )
        return ConversationPage(
            items=[ConversationOut.model_validate(c, from_attributes=True) for c in rows],
            total=total,
            offset=offset,
            limit=limit,
        )


@router.get("/conversations", response_model=ConversationPage, summary="List conversations")
async def list_conversations(
    key: ChatKey,
    widget_id: Id | None = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
) -> ConversationPage:
    return await run_in_threadpool(_list, key, widget_id, offset, limit)


def _detail(key: KeyIdentity, conversation_id: str) -> ConversationDetail:
    with session_scope() as session:
        conversation = TenantScope(session, key.tenant_id).get(Conversation, conversation_id)
        if not _visible(key, conversation):
            raise NotFoundError("Conversation")
        rows = conversations.messages(session, key.tenant_id, conversation_id)
        base = ConversationOut.model_validate(conversation, from_attributes=True)
        return ConversationDetail(
            **base.model_dump(),
            messages=[MessageOut.model_validate(m, from_attributes=True) for m in rows],
        )


@router.get(
    "/conversations/{conversation_id}",
    response_model=ConversationDetail,
    summary="A conversation with its messages",
    responses=NOT_FOUND,
)
async def get_conversation(conversation_id: Id, key: ChatKey) -> ConversationDetail:
    return await run_in_threadpool(_detail, key, conversation_id)


def _feedback(key: KeyIdentity, message_id: str, value: int | None) -> FeedbackOut:
    with session_scope() as session:
        message = TenantScope(session, key.tenant_id).get(Message, message_id)
        conversation = TenantScope(session, key.tenant_id).get(
            Conversation, message.conversation_id
        )
        if not _visible(key, conversation):
            raise NotFoundError("Message")
        updated = conversations.set_feedback(session, key.tenant_id, message_id, value)
        return FeedbackOut(message_id=updated.id, feedback=updated.feedback)  # type: ignore[arg-type]


@router.post(
    "/messages/{message_id}/feedback",
    response_model=FeedbackOut,
    summary="Rate an answer: 1 helpful, -1 not helpful, null clears",
    dependencies=[JSON_BODY],
    responses=NOT_FOUND,
)
async def message_feedback(message_id: Id, body: FeedbackIn, key: ChatKey) -> FeedbackOut:
    return await run_in_threadpool(_feedback, key, message_id, body.value)
