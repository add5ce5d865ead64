"""Human handoff over HTTP (scope `inbox`), so an external helpdesk can drive the flow:
list conversations waiting for a person, take over, post a staff message, hand back,
resolve. Actions are taken as the person who created the key; a conversation of another
workspace (or outside a widget-bound key's widget) is 404 like a missing one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlmodel import Session

from app.api.v1.deps import JSON_BODY, InboxKey
from app.api.v1.errors import ApiError, problem_response
from app.api.v1.schemas import Id, MessageOut
from app.db import NotFoundError, TenantScope, session_scope
from app.models import Membership
from app.services import inbox
from app.services.api_keys import KeyIdentity
from app.services.inbox import InboxError, OwnedByOtherError

router = APIRouter(tags=["inbox"])

ERRORS = {
    404: problem_response("No such conversation in this workspace"),
    409: problem_response("Another person is handling the conversation (see `owner_name`)"),
}


class HandoffOut(BaseModel):
    id: str
    widget_id: str | None
    title: str
    status: Literal["bot", "waiting_for_human", "human", "resolved"]
    reason: str | None
    assignee_id: str | None
    handoff_requested_at: datetime | None
    last_message_at: datetime


class InboxPage(BaseModel):
    items: list[HandoffOut]


class StaffMessageIn(BaseModel):
    text: str = Field(min_length=1, max_length=inbox.MAX_STAFF_MESSAGE)
    author_name: str | None = Field(
        default=None,
        max_length=120,
        description="Name the visitor sees; default: the key's creator",
    )


def _actor(session: Session, key: KeyIdentity) -> str:
    if key.created_by:
        member = session.exec(
            TenantScope(session, key.tenant_id)
            .select(Membership)
            .where(Membership.user_id == key.created_by)
        ).first()
        if member is not None:
            return key.created_by
    raise ApiError(
        403, "This key's creator is no longer a member; create a new key.", slug="no-actor"
    )


def _out(conversation: inbox.Conversation) -> HandoffOut:  # type: ignore[name-defined]
    return HandoffOut(
        id=conversation.id,
        widget_id=conversation.widget_id,
        title=conversation.title,
        status=conversation.handoff_status,  # type: ignore[arg-type]
        reason=conversation.handoff_reason,
        assignee_id=conversation.assignee_id,
        handoff_requested_at=conversation.handoff_requested_at,
        last_message_at=conversation.last_message_at,
    )


def _visible(session: Session, key: KeyIdentity, conversation_id: str) -> None:
    conversation = inbox.get(session, key.tenant_id, conversation_id)
    if key.widget_id is not None and conversation.widget_id != key.widget_id:
        raise NotFoundError("Conversation")


def _run(key: KeyIdentity, conversation_id: str, action) -> HandoffOut:  # type: ignore[no-untyped-def]
    try:
        with session_scope() as session:
            _visible(session, key, conversation_id)
            conversation = action(session, _actor(session, key))
            return _out(conversation)
    except OwnedByOtherError as exc:
        raise ApiError(
            409, str(exc), slug="owned-by-other", extra={"owner_name": exc.owner_name}
        ) from exc


@router.get("/inbox", response_model=InboxPage, summary="Conversations in the handoff inbox")
async def list_inbox(
    key: InboxKey,
    view: Annotated[Literal["waiting", "open", "resolved"], Query()] = "waiting",
    widget_id: Id | None = None,
) -> InboxPage:
    def read() -> InboxPage:
        with session_scope() as session:
            widget = key.widget_id or widget_id
            if key.widget_id and widget_id not in (None, key.widget_id):
                return InboxPage(items=[])
            rows = inbox.list_inbox(session, key.tenant_id, "", view=view, widget_id=widget)
            return InboxPage(items=[_out(inbox.get(session, key.tenant_id, r.id)) for r in rows])

    return await run_in_threadpool(read)


@router.post(
    "/conversations/{conversation_id}/take-over",
    response_model=HandoffOut,
    summary="Take the conversation over: the bot stops answering it",
    responses=ERRORS,
)
async def take_over(conversation_id: Id, key: InboxKey) -> HandoffOut:
    return await run_in_threadpool(
        _run,
        key,
        conversation_id,
        lambda s, u: inbox.take_over(s, key.tenant_id, conversation_id, u),
    )


@router.post(
    "/conversations/{conversation_id}/staff-messages",
    response_model=MessageOut,
    status_code=201,
    summary="Reply to the visitor as a person (takes the conversation over)",
    dependencies=[JSON_BODY],
    responses={**ERRORS, 422: problem_response("Empty or too long")},
)
async def post_staff_message(
    conversation_id: Id, body: StaffMessageIn, key: InboxKey
) -> MessageOut:
    def write() -> MessageOut:
        try:
            with session_scope() as session:
                _visible(session, key, conversation_id)
                message = inbox.post_staff_message(
                    session,
                    key.tenant_id,
                    conversation_id,
                    _actor(session, key),
                    body.text,
                    author_name=body.author_name,
                )
                return MessageOut.model_validate(message, from_attributes=True)
        except OwnedByOtherError as exc:
            raise ApiError(
                409, str(exc), slug="owned-by-other", extra={"owner_name": exc.owner_name}
            ) from exc
        except InboxError as exc:
            raise ApiError(422, str(exc)) from exc

    return await run_in_threadpool(write)


@router.post(
    "/conversations/{conversation_id}/hand-back",
    response_model=HandoffOut,
    summary="Hand the conversation back to the bot",
    responses=ERRORS,
)
async def hand_back(conversation_id: Id, key: InboxKey) -> HandoffOut:
    return await run_in_threadpool(
        _run,
        key,
        conversation_id,
        lambda s, u: inbox.hand_back(s, key.tenant_id, conversation_id, u),
    )


@router.post(
    "/conversations/{conversation_id}/resolve",
    response_model=HandoffOut,
    summary="Mark the conversation resolved",
    responses=ERRORS,
)
async def resolve(conversation_id: Id, key: InboxKey) -> HandoffOut:
    return await run_in_threadpool(
        _run, key, conversation_id, lambda s, u: inbox.resolve(s, key.tenant_id, conversation_id, u)
    )
