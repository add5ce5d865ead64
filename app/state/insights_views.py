"""Service results turned into the plain, preformatted views the insight pages render."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.services.analytics import KpiReport
from app.services.conversation_log import ConversationRow


@dataclass
class KpiView:
    """One KPI card as the page shows it; `trend` is "up", "down" or "" (no comparison)."""

    key: str = ""
    label: str = ""
    value: str = "0"
    delta: str = ""
    trend: str = ""
    good: bool = True  # whether the trend is good news (cost going up is not)
    hint: str = ""


@dataclass
class ConversationView:
    id: str = ""
    title: str = ""
    widget: str = ""
    channel: str = ""
    started: str = ""
    last: str = ""
    messages: int = 0
    up: int = 0
    down: int = 0
    flagged: int = 0
    cost: str = ""


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def money(value: float) -> str:
    if value == 0:
        return "$0.00"
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def compact(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1_000:.1f}k"
    return f"{value:,}"


def conversation_view(row: ConversationRow) -> ConversationView:
    return ConversationView(
        id=row.id,
        title=row.title,
        widget=row.widget_name,
        channel=row.channel,
        started=when(row.started_at),
        last=when(row.last_message_at),
        messages=row.message_count,
        up=row.thumbs_up,
        down=row.thumbs_down,
        flagged=row.flagged,
        cost=money(row.cost_usd),
    )


def kpi_views(report: KpiReport, days: int) -> list[KpiView]:
    """Five cards: this period's figure and its change against the previous period."""
    now, before = report.current, report.previous
    rate = now.answered_rate
    cards = [
        ("conversations", "Conversations", compact(now.conversations), True),
        ("messages", "Messages", compact(now.messages), True),
        ("answered", "Answered rate", "—" if rate is None else f"{rate:.0%}", True),
        ("tokens", "Tokens", compact(now.tokens), False),
        ("cost", "Cost", money(now.cost_usd), False),
    ]
    views = []
    for key, label, value, up_is_good in cards:
        if key == "answered":
            delta = _rate_delta(rate, before.answered_rate)
        else:
            field = {"tokens": "tokens", "cost": "cost_usd"}.get(key, key)
            pct = report.delta_pct(field)
            delta = None if pct is None else (pct, f"{pct:+.0f}%")
        if delta is None or abs(delta[0]) < 0.5:
            hint = "no change" if delta is not None else "no earlier data"
            views.append(KpiView(key=key, label=label, value=value, hint=hint))
            continue
        trend = "up" if delta[0] > 0 else "down"
        views.append(
            KpiView(
                key=key,
                label=label,
                value=value,
                delta=delta[1],
                trend=trend,
                good=(trend == "up") == up_is_good,
            )
        )
    return views


def _rate_delta(now: float | None, before: float | None) -> tuple[float, str] | None:
    """Answered rate changes in percentage points, which is how people read rates."""
    if now is None or before is None:
        return None
    points = (now - before) * 100
    return points, f"{points:+.0f} pts"
