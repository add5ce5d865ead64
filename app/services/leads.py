"""Leads: contact details a visitor leaves when nobody can answer in person."""

from __future__ import annotations

import csv
import io
import re

from sqlmodel import Session, col, or_

from app.db import TenantScope
from app.models import Conversation, Lead, LeadStatus
from app.services import live, webhooks
from app.services.conversation_log import safe_cell

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_SEARCH = 200
CSV_COLUMNS = ("created_at", "name", "email", "message", "consent", "status", "conversation_id")


class LeadError(ValueError):
    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def create_lead(
    session: Session,
    tenant_id: str,
    conversation: Conversation | None,
    *,
    name: str = "",
    email: str = "",
    message: str = "",
    consent: bool = False,
    consent_required: bool = True,
) -> Lead:
    email = (email or "").strip()
    if not _EMAIL.match(email) or len(email) > 254:
        raise LeadError("Enter an email address we can reply to.", "email")
    if consent_required and not consent:
        raise LeadError("Please tick the consent box so we may contact you.", "consent")
    lead = TenantScope(session, tenant_id).add(
        Lead(
            conversation_id=conversation.id if conversation else None,
            widget_id=conversation.widget_id if conversation else None,
            name=" ".join((name or "").split())[:120],
            email=email,
            message=(message or "").strip()[:2000],
            consent=bool(consent),
        )
    )
    session.flush()
    live.publish_after_commit(session, live.inbox_topic(tenant_id), "lead", lead_id=lead.id)
    webhooks.emit(
        session,
        tenant_id,
        "lead.created",
        {
            "lead_id": lead.id,
            "conversation_id": lead.conversation_id,
            "name": lead.name,
            "email": lead.email,
            "message": lead.message,
            "consent": lead.consent,
        },
    )
    return lead


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_leads(
    session: Session,
    tenant_id: str,
    *,
    search: str = "",
    status: str = "",
    limit: int = 200,
) -> list[Lead]:
    scope = TenantScope(session, tenant_id)
    query = scope.select(Lead)
    if status:
        query = query.where(Lead.status == LeadStatus(status))
    term = (search or "").strip()[:MAX_SEARCH]
    if term:
        pattern = _like(term.lower())
        query = query.where(
            or_(
                col(Lead.name).ilike(pattern, escape="\\"),
                col(Lead.email).ilike(pattern, escape="\\"),
                col(Lead.message).ilike(pattern, escape="\\"),
            )
        )
    return list(session.exec(query.order_by(col(Lead.created_at).desc()).limit(limit)))


def set_status(session: Session, tenant_id: str, lead_id: str, status: str) -> Lead:
    try:
        value = LeadStatus(status)
    except ValueError as exc:
        raise LeadError("Status is new, contacted or closed.", "status") from exc
    lead = TenantScope(session, tenant_id).get(Lead, lead_id)
    lead.status = value
    session.add(lead)
    return lead


def export_csv(session: Session, tenant_id: str, *, search: str = "", status: str = "") -> str:
    """CSV lines; cells that a spreadsheet would run as a formula get a leading quote."""
    rows = list_leads(session, tenant_id, search=search, status=status, limit=50_000)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for lead in rows:
        writer.writerow(
            [
                safe_cell(value)
                for value in (
                    lead.created_at.isoformat(timespec="seconds"),
                    lead.name,
                    lead.email,
                    lead.message,
                    "yes" if lead.consent else "no",
                    lead.status.value if hasattr(lead.status, "value") else lead.status,
                    lead.conversation_id or "",
                )
            ]
        )
    return buffer.getvalue()
