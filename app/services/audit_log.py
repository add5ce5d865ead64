"""Reading the audit trail: one workspace's events, filtered and paged, and a CSV export.

Only owners and admins read it (Action.view_audit); API keys need the `admin` scope.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from app.db import TenantScope
from app.models import AuditEvent
from app.services.permissions import Action, require

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EXPORT_LIMIT = 50_000
CSV_COLUMNS = (
    "time",
    "actor_type",
    "actor",
    "actor_id",
    "action",
    "target_type",
    "target_id",
    "ip",
    "user_agent",
    "changes",
)
# Spreadsheet apps run cells that start with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class AuditQueryError(ValueError):
    status_code = 422

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str = ""  # part of the actor's email / key prefix, or their exact id
    action: str = ""  # exact action, or a prefix ending in "." (e.g. "member.")
    since: date | None = None  # inclusive, UTC day
    until: date | None = None  # inclusive, UTC day


@dataclass(frozen=True, slots=True)
class AuditPage:
    events: list[AuditEvent]
    total: int
    offset: int
    limit: int


def parse_day(value: str | None, field: str) -> date | None:
    text = (value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise AuditQueryError("Use a date like 2026-12-31.", field) from exc


def _where(tenant_id: str, flt: AuditFilter) -> list:  # type: ignore[type-arg]
    if not tenant_id:
        raise AuditQueryError("a workspace is required")
    conditions = [col(AuditEvent.tenant_id) == tenant_id]
    actor = flt.actor.strip().lower()
    if actor:
        like = "%" + actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conditions.append(
            or_(
                func.lower(col(AuditEvent.actor_label)).like(like, escape="\\"),
                col(AuditEvent.actor_id) == actor,
            )
        )
    action = flt.action.strip()
    if action.endswith("."):
        conditions.append(col(AuditEvent.action).startswith(action, autoescape=True))
    elif action:
        conditions.append(col(AuditEvent.action) == action)
    if flt.since:
        conditions.append(
            col(AuditEvent.created_at) >= datetime.combine(flt.since, time.min, tzinfo=UTC)
        )
    if flt.until:
        end = datetime.combine(flt.until + timedelta(days=1), time.min, tzinfo=UTC)
        conditions.append(col(AuditEvent.created_at) < end)
    return conditions


def list_events(
    session: Session,
    tenant_id: str,
    actor_role: str,
    flt: AuditFilter | None = None,
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> AuditPage:
    """Newest first. Another workspace's events never appear (the tenant is the filter)."""
    require(actor_role, Action.view_audit)
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    conditions = _where(tenant_id, flt or AuditFilter())
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    offset = max(0, int(offset))
    total = int(session.exec(select(func.count()).select_from(AuditEvent).where(*conditions)).one())
    rows = session.exec(
        select(AuditEvent)
        .where(*conditions)
        .order_by(col(AuditEvent.created_at).desc(), col(AuditEvent.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return AuditPage(list(rows), total, offset, limit)


def action_names(session: Session, tenant_id: str) -> list[str]:
    """The actions this workspace's trail holds (for the filter's choices)."""
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    rows = session.exec(
        select(AuditEvent.action).where(col(AuditEvent.tenant_id) == tenant_id).distinct()
    ).all()
    return sorted(rows)


def describe_changes(event: AuditEvent) -> str:
    """'role: member → admin; name: A → B' (already masked when recorded)."""
    parts = []
    for key, change in (event.diff or {}).items():
        before, after = change.get("before"), change.get("after")
        if before is None:
            parts.append(f"{key}: {_short(after)}")
        elif after is None:
            parts.append(f"{key}: {_short(before)} → (none)")
        else:
            parts.append(f"{key}: {_short(before)} → {_short(after)}")
    return "; ".join(parts)


def _short(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def event_row(event: AuditEvent) -> list[str]:
    return [
        safe_cell(v)
        for v in (
            event.created_at.astimezone(UTC).isoformat(timespec="seconds"),
            event.actor_type,
            event.actor_label,
            event.actor_id,
            event.action,
            event.target_type,
            event.target_id,
            event.ip,
            event.user_agent,
            json.dumps(event.diff or {}, ensure_ascii=False, sort_keys=True),
        )
    ]


def to_csv(events: Iterable[AuditEvent]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for event in events:
        writer.writerow(event_row(event))
    return buffer.getvalue()


def export_csv(
    session: Session, tenant_id: str, actor_role: str, flt: AuditFilter | None = None
) -> str:
    page = list_events(session, tenant_id, actor_role, flt, 0, MAX_PAGE_SIZE)
    events = list(page.events)
    offset = len(events)
    while offset < min(page.total, EXPORT_LIMIT):
        more = list_events(session, tenant_id, actor_role, flt, offset, MAX_PAGE_SIZE).events
        if not more:
            break
        events.extend(more)
        offset += len(more)
    return to_csv(events)
