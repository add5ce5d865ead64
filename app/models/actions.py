"""Actions (tool calling): a widget's HTTP or built-in actions and the change-actions
waiting for a visitor's confirmation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from app.models.base import TenantOwned, json_column, new_id


class WidgetAction(TenantOwned, table=True):
    """An owner-defined HTTP action a widget's model may call (app.services.actions), or
    the switch of a built-in one (`builtin` true: only name/enabled/changes_something count)."""

    __tablename__ = "widget_action"
    __table_args__ = (UniqueConstraint("widget_id", "name", name="uq_widget_action_name"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    widget_id: str = Field(foreign_key="widget.id", index=True, max_length=32, ondelete="CASCADE")
    name: str = Field(max_length=64)  # [a-z_][a-z0-9_]{0,63}
    builtin: bool = False
    description: str = Field(default="", max_length=1000)
    parameters: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    method: str = Field(default="GET", max_length=8)
    url_template: str = Field(default="", max_length=2000)
    # Header names in the clear; the whole {name: value} map is one Fernet token.
    header_names: list[str] = Field(default_factory=list, sa_column=json_column())
    headers_encrypted: str | None = None
    changes_something: bool = False  # the visitor confirms in the widget before it runs
    enabled: bool = True
    timeout_s: float = 10.0


class ActionConfirmation(TenantOwned, table=True):
    """A change-action the model (or the visitor's "Add to cart") asked for, waiting for
    the visitor's confirm. Bound to its conversation, action and exact arguments; the
    visitor holds an opaque token whose keyed hash is the lookup key; used once."""

    __tablename__ = "action_confirmation"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    token_hash: str = Field(max_length=64, unique=True)
    conversation_id: str = Field(
        foreign_key="conversation.id", index=True, max_length=32, ondelete="CASCADE"
    )
    widget_id: str = Field(foreign_key="widget.id", max_length=32, ondelete="CASCADE")
    action_name: str = Field(max_length=64)
    arguments: dict[str, Any] = Field(default_factory=dict, sa_column=json_column())
    arguments_digest: str = Field(max_length=64)
    summary: str = Field(default="", max_length=500)
    status: str = Field(default="pending", max_length=16)  # pending|running|done|failed|cancelled
    expires_at: datetime
    result: str | None = Field(default=None, max_length=2000)
