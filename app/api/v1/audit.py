"""The workspace's audit log over HTTP (keys with the `admin` scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from app.api.v1.deps import AdminKey
from app.api.v1.errors import ApiError, problem_response
from app.db import session_scope
from app.models import Role
from app.services import audit_log
from app.services.api_keys import KeyIdentity

router = APIRouter(tags=["audit"])

_FILTERS = {403: problem_response("The key lacks the `admin` scope, or is bound to a widget")}


class AuditEventOut(BaseModel):
    id: str
    created_at: datetime
    actor_type: str = Field(description="user, api_key, system or anonymous")
    actor_id: str
    actor_label: str = Field(description="The actor's email or key prefix at the time")
    action: str
    target_type: str
    target_id: str
    ip: str
    user_agent: str
    diff: dict[str, Any] = Field(description="{field: {before, after}}; secrets are masked")


class AuditEventPage(BaseModel):
    items: list[AuditEventOut]
    total: int
    offset: int
    limit: int


Actor = Annotated[str, Query(max_length=254, description="Part of the actor's email or prefix")]
# A strict YYYY-MM-DD: pydantic's lax `date` would also take numbers ("0" = 1970-01-01).
Day = Annotated[
    str | None,
    Query(
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="A UTC day, YYYY-MM-DD (inclusive)",
        json_schema_extra={"format": "date"},
    ),
]
Action = Annotated[str, Query(max_length=64, description="An action, or a prefix ending in '.'")]


def _filter(actor: str, action: str, since: str | None, until: str | None) -> Any:
    try:
        first = audit_log.parse_day(since, "since")
        last = audit_log.parse_day(until, "until")
    except audit_log.AuditQueryError as exc:
        raise ApiError(422, str(exc), slug="invalid-date") from exc
    return audit_log.AuditFilter(actor=actor, action=action, since=first, until=last)


def _check(key: KeyIdentity) -> None:
    # A widget-bound key acts for one widget; the workspace's trail is not its business.
    if key.widget_id is not None:
        raise ApiError(403, "A widget-bound key cannot read the audit log.", slug="widget-bound")


def _list(key: KeyIdentity, flt: Any, offset: int, limit: int) -> AuditEventPage:
    with session_scope() as session:
        page = audit_log.list_events(session, key.tenant_id, Role.admin, flt, offset, limit)
        return AuditEventPage(
            items=[AuditEventOut.model_validate(e, from_attributes=True) for e in page.events],
            total=page.total,
            offset=page.offset,
            limit=page.limit,
        )


@router.get(
    "/audit-events",
    response_model=AuditEventPage,
    summary="The workspace's audit log, newest first",
    responses=_FILTERS,
)
async def list_audit_events(
    key: AdminKey,
    actor: Actor = "",
    action: Action = "",
    since: Day = None,
    until: Day = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=audit_log.MAX_PAGE_SIZE)] = audit_log.PAGE_SIZE,
) -> AuditEventPage:
    _check(key)
    return await run_in_threadpool(_list, key, _filter(actor, action, since, until), offset, limit)


def _export(key: KeyIdentity, flt: Any) -> str:
    with session_scope() as session:
        return audit_log.export_csv(session, key.tenant_id, Role.admin, flt)


@router.get(
    "/audit-events/export",
    summary="The audit log as CSV (cells that would run as formulas are escaped)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **_FILTERS},
)
async def export_audit_events(
    key: AdminKey,
    actor: Actor = "",
    action: Action = "",
    since: Day = None,
    until: Day = None,
) -> Response:
    _check(key)
    body = await run_in_threadpool(_export, key, _filter(actor, action, since, until))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
