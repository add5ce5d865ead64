"""Dependencies of the v1 routes, as aliases (`ChatKey`, `DocumentsKey`, `Db`) in the
style of full-stack-fastapi-template's api/deps.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from app.api.request_context import CONTEXT_KEY
from app.api.v1.errors import ApiError
from app.db import TenantScope, session_scope
from app.models import Widget
from app.services import audit
from app.services.api_keys import KeyIdentity, authenticate_key

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="SecretKey",
    description="A secret key from the dashboard (API keys page): `Authorization: Bearer sk_...`.",
)

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="chatconnect"'}


def get_db() -> Iterator[Session]:
    with session_scope() as session:
        yield session


Db = Annotated[Session, Depends(get_db)]


def _authenticate(secret: str) -> KeyIdentity | None:
    with session_scope() as session:
        return authenticate_key(session, secret)


async def get_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> KeyIdentity:
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401,
            "Send a secret key: `Authorization: Bearer sk_...`.",
            slug="unauthorized",
            headers=_CHALLENGE,
        )
    secret = credentials.credentials.strip()
    identity = await run_in_threadpool(_authenticate, secret) if len(secret) <= 200 else None
    if identity is None:
        raise ApiError(
            401,
            "This key is not valid (malformed, unknown or revoked).",
            slug="unauthorized",
            headers=_CHALLENGE,
        )
    context = request.scope.get(CONTEXT_KEY)
    if context is not None:
        context["tenant_id"] = identity.tenant_id
    return identity


CurrentKey = Annotated[KeyIdentity, Depends(get_key)]


def key_actor(request: Request, key: KeyIdentity) -> audit.Actor:
    """The audit log's actor for a change made through the API with this key."""
    client = request.client.host if request.client else ""
    return audit.Actor.api_key(
        key.key_id, key.prefix, client, request.headers.get("user-agent", "")[:300]
    )


def _scoped(scope: str):  # type: ignore[no-untyped-def]
    async def dependency(key: CurrentKey) -> KeyIdentity:
        if not key.allows(scope):
            raise ApiError(403, f"This key lacks the `{scope}` scope.", slug="insufficient-scope")
        return key

    return dependency


ChatKey = Annotated[KeyIdentity, Depends(_scoped("chat"))]
DocumentsKey = Annotated[KeyIdentity, Depends(_scoped("documents"))]
InboxKey = Annotated[KeyIdentity, Depends(_scoped("inbox"))]
AdminKey = Annotated[KeyIdentity, Depends(_scoped("admin"))]


def require_widget(session: Session, key: KeyIdentity, widget_id: str) -> Widget:
    """The key's tenant's widget. Another tenant's (or no) widget, or one outside the key's
    binding, is 403: the key may not use it, and existence elsewhere is not revealed."""
    widget = TenantScope(session, key.tenant_id).find(Widget, widget_id)
    if widget is None or not key.allows_widget(widget_id):
        raise ApiError(403, "This key cannot use that widget.", slug="widget-forbidden")
    return widget


def require_media_type(*allowed: str):  # type: ignore[no-untyped-def]
    """415 unless the request body's Content-Type is one of `allowed` (checked before the
    body is validated, so a wrong type is not reported as a validation error)."""

    async def dependency(request: Request) -> None:
        value = request.headers.get("content-type", "")
        media = value.split(";", 1)[0].strip().lower()
        if media not in allowed:
            raise ApiError(
                415,
                f"Send the body as {' or '.join(allowed)}.",
                slug="unsupported-media-type",
            )

    return Depends(dependency)


JSON_BODY = require_media_type("application/json")
MULTIPART_BODY = require_media_type("multipart/form-data")
