"""Human handoff: a conversation's state, who owns it, staff messages and internal notes.

States: bot -> waiting_for_human (a reason) -> human (taken over: the bot is quiet) ->
bot (handed back) or resolved. Ownership is taken by compare-and-set in one UPDATE
(`assignee_id IS NULL OR = me`): two staff clicking at once, exactly one row changes and
the other learns who owns it. Notes live in their own table, so no visitor path (widget
history, visitor API, the bot's prompt history) can ever read one. Every change publishes
a live event after its commit (app.services.live).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from app.db import NotFoundError, TenantScope
from app.models import Conversation, ConversationNote, Message, User, Widget, utcnow
from app.services import live, webhooks

MAX_STAFF_MESSAGE = 4000
MAX_NOTE = 4000


class HandoffStatus(StrEnum):
    bot = "bot"
    waiting = "waiting_for_human"
    human = "human"
    resolved = "resolved"


class Reason(StrEnum):
    button = "button"
    phrase = "phrase"
    low_confidence = "low_confidence"
    thumbs_down = "thumbs_down"
    staff = "staff"  # staff took it over without a request
    api = "api"


VIEWS = ("waiting", "mine", "open", "resolved")


class InboxError(ValueError):
    status_code = 422


class OwnedByOtherError(Exception):
    """Someone else owns the conversation; `owner_name` says who (for the loser's UI)."""

    status_code = 409

    def __init__(self, owner_id: str, owner_name: str) -> None:
        super().__init__(f"{owner_name} is already handling this conversation.")
        self.owner_id = owner_id
        self.owner_name = owner_name


def display_name(user: User | None) -> str:
    if user is None:
        return "Staff"
    return user.name or user.email.split("@")[0]


def _notify(session: Session, conversation: Conversation, kind: str, **data: object) -> None:
    live.publish_after_commit(
        session,
        live.conversation_topic(conversation.tenant_id, conversation.id),
        kind,
        conversation_id=conversation.id,
        **data,
    )
    live.publish_after_commit(
        session, live.inbox_topic(conversation.tenant_id), kind, conversation_id=conversation.id
    )


def get(session: Session, tenant_id: str, conversation_id: str) -> Conversation:
    return TenantScope(session, tenant_id).get(Conversation, conversation_id)


def request_handoff(
    session: Session, tenant_id: str, conversation_id: str, reason: Reason | str
) -> Conversation:
    """Ask for a person. Idempotent while one is already asked for or in charge."""
    conversation = get(session, tenant_id, conversation_id)
    if conversation.handoff_status in (HandoffStatus.waiting, HandoffStatus.human):
        return conversation
    conversation.handoff_status = HandoffStatus.waiting
    conversation.handoff_reason = Reason(reason).value
    conversation.handoff_requested_at = utcnow()
    conversation.assignee_id = None
    conversation.resolved_at = None
    conversation.first_human_reply_at = None
    session.add(conversation)
    session.flush()
    _notify(session, conversation, "status", status=conversation.handoff_status)
    webhooks.emit(
        session,
        tenant_id,
        "conversation.handoff_requested",
        {
            "conversation_id": conversation.id,
            "widget_id": conversation.widget_id,
            "reason": conversation.handoff_reason,
            "title": conversation.title,
        },
    )
    return conversation


def _owner_error(session: Session, conversation: Conversation) -> OwnedByOtherError:
    owner = session.get(User, conversation.assignee_id) if conversation.assignee_id else None
    return OwnedByOtherError(conversation.assignee_id or "", display_name(owner))


def _claim(
    session: Session, tenant_id: str, conversation_id: str, user_id: str, *, take_over: bool
) -> Conversation:
    """Compare-and-set ownership: one UPDATE, so concurrent claims cannot both win."""
    values: dict[str, object] = {"assignee_id": user_id, "updated_at": utcnow()}
    if take_over:
        values["handoff_status"] = HandoffStatus.human.value
    result = session.execute(
        update(Conversation)
        .where(
            col(Conversation.id) == conversation_id,
            col(Conversation.tenant_id) == tenant_id,
            or_(col(Conversation.assignee_id).is_(None), col(Conversation.assignee_id) == user_id),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    conversation = get(session, tenant_id, conversation_id)  # 404 for another tenant
    session.refresh(conversation)
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise _owner_error(session, conversation)
    if take_over and conversation.handoff_reason is None:
        conversation.handoff_reason = Reason.staff.value
        conversation.handoff_requested_at = conversation.handoff_requested_at or utcnow()
    conversation.resolved_at = None
    session.add(conversation)
    session.flush()
    _notify(
        session,
        conversation,
        "status",
        status=conversation.handoff_status,
        assignee=conversation.assignee_id,
    )
    webhooks.emit(
        session,
        tenant_id,
        "conversation.assigned",
        {
            "conversation_id": conversation.id,
            "assignee_id": user_id,
            "assignee_name": display_name(session.get(User, user_id)),
            "taken_over": take_over,
        },
    )
    return conversation


def assign_to_me(
    session: Session, tenant_id: str, conversation_id: str, user_id: str
) -> Conversation:
    """Own the conversation; the bot keeps answering until someone takes over."""
    return _claim(session, tenant_id, conversation_id, user_id, take_over=False)


def take_over(session: Session, tenant_id: str, conversation_id: str, user_id: str) -> Conversation:
    """Own the conversation and silence the bot for it."""
    return _claim(session, tenant_id, conversation_id, user_id, take_over=True)


def _require_owner_or_free(session: Session, conversation: Conversation, user_id: str) -> None:
    if conversation.assignee_id not in (None, user_id):
        raise _owner_error(session, conversation)


def hand_back(session: Session, tenant_id: str, conversation_id: str, user_id: str) -> Conversation:
    """The bot answers again; nobody owns the conversation any more."""
    conversation = get(session, tenant_id, conversation_id)
    _require_owner_or_free(session, conversation, user_id)
    conversation.handoff_status = HandoffStatus.bot
    conversation.assignee_id = None
    session.add(conversation)
    session.flush()
    _notify(session, conversation, "status", status=conversation.handoff_status)
    return conversation


def resolve(session: Session, tenant_id: str, conversation_id: str, user_id: str) -> Conversation:
    conversation = get(session, tenant_id, conversation_id)
    _require_owner_or_free(session, conversation, user_id)
    conversation.handoff_status = HandoffStatus.resolved
    conversation.resolved_at = utcnow()
    session.add(conversation)
    session.flush()
    _notify(session, conversation, "status", status=conversation.handoff_status)
    webhooks.emit(session, tenant_id, "conversation.resolved", {"conversation_id": conversation.id})
    return conversation


def post_staff_message(
    session: Session,
    tenant_id: str,
    conversation_id: str,
    user_id: str,
    text: str,
    *,
    author_name: str | None = None,
) -> Message:
    """A person's reply to the visitor. Replying takes the conversation over (same CAS)."""
    body = (text or "").strip()
    if not body:
        raise InboxError("Write a reply first.")
    if len(body) > MAX_STAFF_MESSAGE:
        raise InboxError(f"Replies are limited to {MAX_STAFF_MESSAGE} characters.")
    conversation = take_over(session, tenant_id, conversation_id, user_id)
    author = session.get(User, user_id)
    now = utcnow()
    message = TenantScope(session, tenant_id).add(
        Message(
            conversation_id=conversation.id,
            role="staff",
            text=body,
            author_id=user_id,
            author_name=(" ".join((author_name or "").split())[:120] or display_name(author)),
            created_at=now,
        )
    )
    conversation.message_count += 1
    conversation.last_message_at = now
    conversation.staff_read_at = now
    conversation.first_human_reply_at = conversation.first_human_reply_at or now
    session.add(conversation)
    session.flush()
    _notify(session, conversation, "message", message_id=message.id, role="staff")
    emit_message(session, message)
    return message


def record_visitor_message(
    session: Session, tenant_id: str, conversation: Conversation, text: str
) -> Message:
    """A visitor's message the bot does not answer (a person is in charge, or was asked for)."""
    now = utcnow()
    message = TenantScope(session, tenant_id).add(
        Message(conversation_id=conversation.id, role="user", text=text, created_at=now)
    )
    conversation.message_count += 1
    conversation.last_message_at = now
    if not conversation.title:
        conversation.title = text[:200]
    session.add(conversation)
    session.flush()
    _notify(session, conversation, "message", message_id=message.id, role="user")
    emit_message(session, message)
    return message


def emit_message(session: Session, message: Message) -> None:
    """`message.created` for webhooks (visitor, bot and staff messages alike)."""
    emit_messages(session, [message])


def emit_messages(session: Session, messages: list[Message]) -> None:
    """`message.created` for several messages of one workspace, in order."""
    if not messages:
        return
    webhooks.emit_many(
        session,
        messages[0].tenant_id,
        "message.created",
        [
            {
                "conversation_id": m.conversation_id,
                "message_id": m.id,
                "role": m.role,
                "text": m.text,
                "author_name": m.author_name,
            }
            for m in messages
        ],
    )


def add_note(
    session: Session, tenant_id: str, conversation_id: str, user_id: str, text: str
) -> ConversationNote:
    body = (text or "").strip()
    if not body:
        raise InboxError("Write a note first.")
    if len(body) > MAX_NOTE:
        raise InboxError(f"Notes are limited to {MAX_NOTE} characters.")
    get(session, tenant_id, conversation_id)
    note = TenantScope(session, tenant_id).add(
        ConversationNote(
            conversation_id=conversation_id,
            author_id=user_id,
            author_name=display_name(session.get(User, user_id)),
            text=body,
        )
    )
    session.flush()
    # Only the inbox hears about notes: nothing goes to the visitor's topic.
    live.publish_after_commit(
        session, live.inbox_topic(tenant_id), "note", conversation_id=conversation_id
    )
    return note


def notes(session: Session, tenant_id: str, conversation_id: str) -> list[ConversationNote]:
    scope = TenantScope(session, tenant_id)
    get(session, tenant_id, conversation_id)
    return list(
        session.exec(
            scope.select(ConversationNote)
            .where(ConversationNote.conversation_id == conversation_id)
            .order_by(col(ConversationNote.created_at))
        )
    )


def mark_read(session: Session, tenant_id: str, conversation_id: str) -> None:
    conversation = get(session, tenant_id, conversation_id)
    conversation.staff_read_at = utcnow()
    session.add(conversation)


# ---- lists ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: str
    title: str
    widget_id: str | None
    widget_name: str
    status: str
    reason: str
    assignee_id: str | None
    assignee_name: str
    requested_at: datetime | None
    last_message_at: datetime
    unread: bool


def _view_condition(view: str, user_id: str):  # type: ignore[no-untyped-def]
    if view == "waiting":
        return col(Conversation.handoff_status) == HandoffStatus.waiting.value
    if view == "mine":
        return (col(Conversation.assignee_id) == user_id) & col(Conversation.handoff_status).in_(
            [HandoffStatus.waiting.value, HandoffStatus.human.value]
        )
    if view == "open":
        return col(Conversation.handoff_status).in_(
            [HandoffStatus.waiting.value, HandoffStatus.human.value]
        )
    if view == "resolved":
        return col(Conversation.handoff_status) == HandoffStatus.resolved.value
    raise InboxError(f"Unknown view “{view}”.")


def _unread_condition():  # type: ignore[no-untyped-def]
    return or_(
        col(Conversation.staff_read_at).is_(None),
        col(Conversation.last_message_at) > col(Conversation.staff_read_at),
    )


def list_inbox(
    session: Session,
    tenant_id: str,
    user_id: str,
    *,
    view: str = "waiting",
    widget_id: str | None = None,
    reason: str | None = None,
    limit: int = 100,
) -> list[InboxRow]:
    scope = TenantScope(session, tenant_id)
    query = scope.select(Conversation).where(_view_condition(view, user_id))
    if widget_id:
        query = query.where(Conversation.widget_id == widget_id)
    if reason:
        query = query.where(Conversation.handoff_reason == reason)
    rows = list(
        session.exec(
            query.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id)).limit(
                max(1, min(limit, 500))
            )
        )
    )
    widget_names = {
        w.id: w.name
        for w in session.exec(
            scope.select(Widget).where(
                col(Widget.id).in_({r.widget_id for r in rows if r.widget_id})
            )
        )
    }
    users = {
        u.id: u
        for u in session.exec(
            select(User).where(col(User.id).in_({r.assignee_id for r in rows if r.assignee_id}))
        )
    }
    return [
        InboxRow(
            id=r.id,
            title=r.title or "(no messages yet)",
            widget_id=r.widget_id,
            widget_name=widget_names.get(r.widget_id or "", "—"),
            status=r.handoff_status,
            reason=r.handoff_reason or "",
            assignee_id=r.assignee_id,
            assignee_name=display_name(users.get(r.assignee_id)) if r.assignee_id else "",
            requested_at=r.handoff_requested_at,
            last_message_at=r.last_message_at,
            unread=r.staff_read_at is None or r.last_message_at > r.staff_read_at,
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class InboxCounts:
    waiting: int
    mine: int
    unread: int  # waiting or mine, with visitor activity staff has not opened yet


def counts(session: Session, tenant_id: str, user_id: str) -> InboxCounts:
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)

    def count(*conditions: object) -> int:
        query = (
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.tenant_id == tenant_id, *conditions)
        )
        return int(session.exec(query).one())

    return InboxCounts(
        waiting=count(_view_condition("waiting", user_id)),
        mine=count(_view_condition("mine", user_id)),
        unread=count(
            or_(_view_condition("waiting", user_id), _view_condition("mine", user_id)),
            _unread_condition(),
        ),
    )


def earlier_conversations(
    session: Session, tenant_id: str, conversation: Conversation, limit: int = 10
) -> list[Conversation]:
    """The same visitor's other conversations, newest first."""
    if not conversation.visitor_id:
        return []
    return list(
        session.exec(
            TenantScope(session, tenant_id)
            .select(Conversation)
            .where(
                Conversation.visitor_id == conversation.visitor_id,
                Conversation.id != conversation.id,
            )
            .order_by(col(Conversation.started_at).desc())
            .limit(limit)
        )
    )


def assert_found(session: Session, tenant_id: str, conversation_id: str) -> None:
    if TenantScope(session, tenant_id).find(Conversation, conversation_id) is None:
        raise NotFoundError("Conversation")
