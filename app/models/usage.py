"""Daily usage counters per workspace and widget (quotas, billing, analytics)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from app.models.base import TenantOwned, new_id


class UsageDaily(TenantOwned, table=True):
    __tablename__ = "usage_daily"
    __table_args__ = (
        UniqueConstraint("tenant_id", "widget_id", "day", name="uq_usage_tenant_widget_day"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    # "" stands for traffic without a widget (API calls), so the unique key works everywhere.
    widget_id: str = Field(default="", max_length=32)
    day: date = Field(index=True)
    conversations: int = 0
    messages: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    # Tokens and cost beyond the tier's monthly budget (paid tiers keep answering).
    overage_tokens: int = 0
    overage_cost_usd: float = 0.0
