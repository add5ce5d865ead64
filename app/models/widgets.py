"""Chat widgets and the API keys that call them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field

from app.models.base import TenantOwned, json_column, new_id


class Widget(TenantOwned, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(max_length=120)
    enabled: bool = True
    # Look: primary_color, theme (light/dark/auto), position (right/left), avatar_url, title.
    appearance: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    greeting: str = Field(default="Hi! Ask me anything about our docs.", max_length=1000)
    starter_questions: list[str] = Field(default_factory=list, sa_column=json_column())
    placeholder: str = Field(default="Type your question…", max_length=200)
    system_prompt: str = Field(default="", max_length=8000)
    model: str | None = Field(default=None, max_length=120)
    temperature: float = Field(default=0.2, ge=0, le=2)
    citations_enabled: bool = True
    unknown_answer: str = Field(
        default="Sorry, I couldn't find that in our documentation.", max_length=1000
    )
    allowed_domains: list[str] = Field(default_factory=list, sa_column=json_column())
    # Human handoff rules (see app.services.escalation.EscalationRules for the keys).
    escalation: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    # llm | intent (intents only, no LLM, no retrieval) | hybrid (app.services.intent_router)
    mode: str = Field(default="llm", max_length=16)


class ApiKey(TenantOwned, table=True):
    __tablename__ = "api_key"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    widget_id: str | None = Field(
        default=None, foreign_key="widget.id", max_length=32, ondelete="CASCADE"
    )
    name: str = Field(max_length=120)
    prefix: str = Field(unique=True, index=True, max_length=32)
    key_hash: str = Field(max_length=64)
    scopes: list[str] = Field(default_factory=list, sa_column=json_column())
    created_by: str | None = Field(default=None, max_length=32)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
