"""Who of the staff is online (dashboard heartbeats) and the workspace's opening hours.

A dashboard tab sends a heartbeat every HEARTBEAT_S; a person whose last one is older
than PRESENCE_AWAY_S counts as away. Hours are per workspace, in its own time zone;
no hours configured means always open.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db import TenantScope
from app.models import StaffPresence, Tenant, User, utcnow
from app.services import audit
from app.services.permissions import Action, require

HEARTBEAT_S = 30
PRESENCE_AWAY_S = 90
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class HoursError(ValueError):
    pass


def heartbeat(session: Session, tenant_id: str, user_id: str) -> None:
    scope = TenantScope(session, tenant_id)
    row = session.exec(scope.select(StaffPresence).where(StaffPresence.user_id == user_id)).first()
    if row is None:
        scope.add(StaffPresence(user_id=user_id, last_seen_at=utcnow()))
    else:
        row.last_seen_at = utcnow()
        session.add(row)
    session.flush()


def go_away(session: Session, tenant_id: str, user_id: str) -> None:
    """The tab closed or signed out: away at once rather than after the timeout."""
    scope = TenantScope(session, tenant_id)
    row = session.exec(scope.select(StaffPresence).where(StaffPresence.user_id == user_id)).first()
    if row is not None:
        row.last_seen_at = utcnow() - timedelta(seconds=PRESENCE_AWAY_S + 1)
        session.add(row)


def online_staff(session: Session, tenant_id: str, now: datetime | None = None) -> list[str]:
    """Names (or emails) of the staff online now in this workspace."""
    TenantScope(session, tenant_id)  # binds the tenant (row-level security, app/rls.py)
    since = (now or utcnow()) - timedelta(seconds=PRESENCE_AWAY_S)
    rows = session.exec(
        select(User.name, User.email)
        .join(StaffPresence, col(StaffPresence.user_id) == col(User.id))
        .where(StaffPresence.tenant_id == tenant_id, StaffPresence.last_seen_at >= since)
        .order_by(func.lower(User.email))
    ).all()
    return [name or email for name, email in rows]


# ---- opening hours ------------------------------------------------------------------------


def clean_hours(raw: dict[str, Any]) -> dict[str, Any]:
    """Validated hours: {"timezone": IANA name, "days": {day: [open, close]}}; {} = always."""
    if not raw or not raw.get("days"):
        return {}
    tz = str(raw.get("timezone") or "UTC")
    if tz not in available_timezones() and tz != "UTC":
        raise HoursError(f"Unknown time zone “{tz}”.")
    days: dict[str, list[str]] = {}
    for day, span in dict(raw.get("days") or {}).items():
        if day not in DAYS:
            raise HoursError(f"Unknown day “{day}”.")
        if not span:
            continue
        start, end = (str(x) for x in span)
        if not (_HHMM.match(start) and _HHMM.match(end)) or start >= end:
            raise HoursError(f"{day.title()}: use HH:MM, opening before closing.")
        days[day] = [start, end]
    return {"timezone": tz, "days": days}


def is_open(hours: dict[str, Any], now: datetime | None = None) -> bool:
    if not hours or not hours.get("days"):
        return True
    try:
        zone = ZoneInfo(hours.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = (now or utcnow()).astimezone(zone)
    span = hours["days"].get(DAYS[local.weekday()])
    if not span:
        return False
    return span[0] <= local.strftime("%H:%M") < span[1]


def set_hours(
    session: Session,
    tenant_id: str,
    raw: dict[str, Any],
    role: str | None = None,
    *,
    actor: audit.Actor | None = None,
) -> dict[str, Any]:
    """Save the hours; with `role` (a person acting), only owners and admins may."""
    if role is not None:
        require(role, Action.manage_hours)
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise HoursError("Workspace not found.")
    before = dict(tenant.opening_hours or {})
    tenant.opening_hours = clean_hours(raw)
    session.add(tenant)
    if tenant.opening_hours != before:
        audit.record(
            session, tenant_id, actor, "workspace.hours_changed", "workspace", tenant_id,
            before={"opening_hours": before}, after={"opening_hours": tenant.opening_hours},
        )  # fmt: skip
    return tenant.opening_hours


@dataclass(frozen=True, slots=True)
class Availability:
    online: int
    open_now: bool

    @property
    def staffed(self) -> bool:
        return self.online > 0 and self.open_now


def availability(session: Session, tenant_id: str, now: datetime | None = None) -> Availability:
    tenant = session.get(Tenant, tenant_id)
    hours = (tenant.opening_hours if tenant else {}) or {}
    return Availability(len(online_staff(session, tenant_id, now)), is_open(hours, now))


def describe_hours(hours: dict[str, Any]) -> str:
    """'Mon 09:00-17:00, Tue 09:00-17:00 (Europe/Paris)' for the widget's next-step line."""
    if not hours or not hours.get("days"):
        return ""
    parts = [
        f"{d.title()} {s}-{e}" for d in DAYS if (span := hours["days"].get(d)) for s, e in [span]
    ]
    return ", ".join(parts) + f" ({hours.get('timezone') or 'UTC'})"
