"""The visitor's side of a handoff: escalate, say what happens next, restore, leave a lead.

Every function that takes a visitor id checks the conversation is that visitor's own on
that widget (app.services.visitors), so a guessed id behaves like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col

from app.db import NotFoundError, TenantScope
from app.models import Conversation, Lead, Message, Tenant, User, Widget
from app.services import inbox, leads, presence
from app.services.analytics import LOW_CONFIDENCE_SCORE
from app.services.conversations import get_or_start_conversation
from app.services.escalation import EscalationRules, low_confidence_streak, rules_of
from app.services.inbox import HandoffStatus, Reason
from app.services.visitors import PublicWidget, own_conversation


@dataclass(frozen=True, slots=True)
class NextStep:
    status: str  # the conversation's handoff status
    line: str  # "what happens next", shown under the thread ("" when the bot is in charge)
    offer_lead: bool  # nobody online or outside hours: show the lead form
    staff_name: str = ""


def widget_rules(session: Session, tenant_id: str, widget_id: str | None) -> EscalationRules:
    widget = TenantScope(session, tenant_id).find(Widget, widget_id) if widget_id else None
    return rules_of(widget.escalation if widget else None)


def next_step(session: Session, conversation: Conversation, rules: EscalationRules) -> NextStep:
    status = conversation.handoff_status
    if status == HandoffStatus.human:
        user = session.get(User, conversation.assignee_id) if conversation.assignee_id else None
        owner = inbox.display_name(user)
        return NextStep(status, f"You're chatting with {owner}.", False, owner)
    if status != HandoffStatus.waiting:
        return NextStep(status, "", False)
    if _has_lead(session, conversation):
        return NextStep(
            status, "Thanks! We have your details and will get back to you by email.", False
        )
    available = presence.availability(session, conversation.tenant_id)
    if available.staffed:
        minutes = rules.reply_minutes
        unit = "minute" if minutes == 1 else "minutes"
        return NextStep(
            status, f"A person will reply here, usually within {minutes} {unit}.", False
        )
    if not available.open_now:
        tenant = session.get(Tenant, conversation.tenant_id)
        hours = presence.describe_hours(tenant.opening_hours if tenant else {})
        return NextStep(
            status,
            f"We're closed right now (hours: {hours}). Leave your email and we'll get back to you.",
            True,
        )
    return NextStep(
        status, "Nobody is available right now. Leave your email and we'll get back to you.", True
    )


def _has_lead(session: Session, conversation: Conversation) -> bool:
    return (
        session.exec(
            TenantScope(session, conversation.tenant_id)
            .select(Lead)
            .where(Lead.conversation_id == conversation.id)
        ).first()
        is not None
    )


def escalate(session: Session, conversation: Conversation, reason: Reason | str) -> NextStep:
    inbox.request_handoff(session, conversation.tenant_id, conversation.id, reason)
    session.refresh(conversation)
    return next_step(
        session, conversation, widget_rules(session, conversation.tenant_id, conversation.widget_id)
    )


def low_confidence_due(
    session: Session, conversation: Conversation, rules: EscalationRules
) -> bool:
    """N bot answers in a row were "I don't know" or low confidence (since the last handoff)."""
    if rules.low_confidence_n <= 0 or conversation.handoff_status == HandoffStatus.waiting:
        return False
    query = (
        TenantScope(session, conversation.tenant_id)
        .select(Message)
        .where(Message.conversation_id == conversation.id, Message.role == "assistant")
    )
    since = conversation.resolved_at or conversation.handoff_requested_at
    if since is not None:
        query = query.where(col(Message.created_at) > since)
    rows = list(
        session.exec(query.order_by(col(Message.created_at).desc()).limit(rules.low_confidence_n))
    )
    answers = [(m.answered, m.confidence) for m in reversed(rows)]
    return low_confidence_streak(answers, rules.low_confidence_n, LOW_CONFIDENCE_SCORE)


# ---- the visitor's actions ------------------------------------------------------------------


def visitor_request(
    session: Session,
    widget: PublicWidget,
    conversation_id: str,
    visitor_id: str,
    reason: Reason,
    *,
    host_url: str = "",
    user_agent: str = "",
) -> tuple[str, NextStep]:
    """The visitor asks for a person (the button): in their conversation, or a new one."""
    if conversation_id:
        conversation = own_conversation(session, widget, conversation_id, visitor_id)
    else:
        if not visitor_id:
            raise NotFoundError("Conversation")
        conversation, _ = get_or_start_conversation(
            session,
            widget.tenant_id,
            conversation_id=None,
            widget_id=widget.id,
            visitor_id=visitor_id,
            host_url=host_url,
            user_agent=user_agent,
        )
    return conversation.id, escalate(session, conversation, reason)


def visitor_next_step(
    session: Session, widget: PublicWidget, conversation_id: str, visitor_id: str
) -> NextStep:
    conversation = own_conversation(session, widget, conversation_id, visitor_id)
    return next_step(session, conversation, widget_rules(session, widget.tenant_id, widget.id))


def visitor_lead(
    session: Session,
    widget: PublicWidget,
    conversation_id: str,
    visitor_id: str,
    *,
    name: str,
    email: str,
    message: str,
    consent: bool,
) -> Lead:
    conversation = own_conversation(session, widget, conversation_id, visitor_id)
    lead = leads.create_lead(
        session,
        widget.tenant_id,
        conversation,
        name=name,
        email=email,
        message=message,
        consent=consent,
    )
    if conversation.handoff_status not in (HandoffStatus.waiting, HandoffStatus.human):
        inbox.request_handoff(session, widget.tenant_id, conversation.id, Reason.button)
    return lead


def visitor_rate(
    session: Session,
    widget: PublicWidget,
    conversation_id: str,
    visitor_id: str,
    message_id: str,
    value: int | None,
) -> NextStep | None:
    """Rate an answer; a thumbs-down escalates when the widget's rules say so."""
    from app.services.visitors import rate_answer

    rate_answer(session, widget, conversation_id, visitor_id, message_id, value)
    rules = widget_rules(session, widget.tenant_id, widget.id)
    if value != -1 or not rules.thumbs_down:
        return None
    conversation = own_conversation(session, widget, conversation_id, visitor_id)
    if conversation.handoff_status in (HandoffStatus.waiting, HandoffStatus.human):
        return None
    return escalate(session, conversation, Reason.thumbs_down)
