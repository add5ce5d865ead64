"""Handoff analytics: how often visitors are passed to a person, how fast a person
answers and resolves, and how many leads arrive per day. Straight from Conversation and
Lead rows (UTC days), for a Period and an optional widget, like app.services.analytics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db import TenantScope
from app.models import Conversation, Lead
from app.services.analytics import Period

MAX_ROWS = 100_000


@dataclass(frozen=True, slots=True)
class HandoffStats:
    conversations: int
    handoffs: int
    handoff_rate: float | None  # handoffs / conversations started in the range
    first_response_median_s: float | None
    first_response_p90_s: float | None
    resolution_median_s: float | None
    leads: int
    leads_per_day: list[tuple[str, int]]  # (ISO day, count), every day of the range


def _bounds(period: Period) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time.min, tzinfo=UTC)
    return start, datetime.combine(period.end, time.min, tzinfo=UTC) + timedelta(days=1)


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def handoff_stats(
    session: Session, tenant_id: str, period: Period, widget_id: str | None = None
) -> HandoffStats:
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    start, end = _bounds(period)
    conv_filter = [Conversation.tenant_id == tenant_id]
    if widget_id:
        conv_filter.append(Conversation.widget_id == widget_id)
    started = session.exec(
        select(func.count())
        .select_from(Conversation)
        .where(*conv_filter, Conversation.started_at >= start, Conversation.started_at < end)
    ).one()
    rows = session.exec(
        select(
            Conversation.handoff_requested_at,
            Conversation.first_human_reply_at,
            Conversation.resolved_at,
        )
        .where(
            *conv_filter,
            col(Conversation.handoff_requested_at).is_not(None),
            Conversation.handoff_requested_at >= start,
            Conversation.handoff_requested_at < end,
        )
        .limit(MAX_ROWS)
    ).all()
    first = [(_aware(reply) - _aware(asked)).total_seconds() for asked, reply, _ in rows if reply]
    resolved = [(_aware(done) - _aware(asked)).total_seconds() for asked, _, done in rows if done]
    lead_filter = [Lead.tenant_id == tenant_id, Lead.created_at >= start, Lead.created_at < end]
    if widget_id:
        lead_filter.append(Lead.widget_id == widget_id)
    lead_times = session.exec(select(Lead.created_at).where(*lead_filter).limit(MAX_ROWS)).all()
    per_day = {period.start + timedelta(days=i): 0 for i in range(period.days)}
    for created in lead_times:
        day = _aware(created).date()
        if day in per_day:
            per_day[day] += 1
    return HandoffStats(
        conversations=int(started),
        handoffs=len(rows),
        handoff_rate=round(len(rows) / started, 4) if started else None,
        first_response_median_s=_pct(first, 50),
        first_response_p90_s=_pct(first, 90),
        resolution_median_s=_pct(resolved, 50),
        leads=len(lead_times),
        leads_per_day=[(d.isoformat(), n) for d, n in per_day.items()],
    )


def duration(seconds: float | None) -> str:
    """'45 s', '3.5 min', '2.0 h' for the KPI cards; '—' without data."""
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
