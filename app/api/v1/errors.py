"""RFC 9457 problem details for every v1 error, with the request id in the body too."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.db import NotFoundError, database_unavailable
from app.logging_setup import request_context
from app.services.chat import ChatInputError, WidgetUnavailableError
from app.services.conversations import BudgetExceededError
from app.services.documents import DocumentError, DuplicateDocumentError
from app.services.limits import RateLimitedError

log = logging.getLogger("chatconnect.api")

PROBLEM_JSON = "application/problem+json"
# A URN rather than a URL on a domain we do not control: stable, and never dereferenced.
PROBLEM_BASE = "urn:chatconnect:problem:"
DATABASE_RETRY_AFTER_S = 5
DATABASE_UNAVAILABLE = "The service is briefly unavailable (database unreachable); retry shortly."


class ApiError(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.headers = headers or {}
        self.extra = extra or {}


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI `responses` entry whose body is a problem document."""
    from app.api.v1.schemas import Problem

    return {
        "description": description,
        "model": Problem,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _slug(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")


def problem_body(
    status: int, detail: str, slug: str | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    context = request_context.get() or {}
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + (slug or _slug(status)),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if context.get("request_id"):
        body["request_id"] = context["request_id"]
    body.update(extra or {})
    return body


def problem(
    status: int,
    detail: str,
    *,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    request: Request | None = None,
) -> JSONResponse:
    body = problem_body(status, detail, slug, extra)
    if request is not None and request.url.path.startswith("/api/v1/openai/"):
        # OpenAI SDKs read `error.message`; the problem fields stay alongside.
        body["error"] = {"message": detail, "type": body["type"], "code": status}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the submitted input back: it may be a secret pasted in the wrong field.
    return [
        {
            "loc": [str(p) for p in err.get("loc", ())],
            "msg": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()[:20]
    ]


def _allowed_methods(request: Request) -> list[str]:
    """Every method of every route at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, APIRoute) and route.matches(request.scope)[0] != Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problem(
            exc.status,
            exc.detail,
            slug=exc.slug,
            headers=exc.headers,
            extra=exc.extra,
            request=request,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 413:
            detail = "The request body is larger than this endpoint accepts."
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return problem(exc.status_code, detail, headers=headers, request=request)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "The request is not valid; see `errors`.",
            slug="validation-error",
            extra={"errors": _validation_errors(exc)},
            request=request,
        )

    @app.exception_handler(RateLimitedError)
    async def _rate(request: Request, exc: RateLimitedError) -> JSONResponse:
        return problem(
            429,
            str(exc),
            slug="rate-limited",
            headers={"Retry-After": str(exc.retry_after)},
            request=request,
        )

    @app.exception_handler(BudgetExceededError)
    async def _budget(request: Request, exc: BudgetExceededError) -> JSONResponse:
        return problem(
            429,
            str(exc),
            slug="budget-exceeded",
            headers={"Retry-After": str(max(1, exc.retry_after))},
            request=request,
        )

    @app.exception_handler(WidgetUnavailableError)
    async def _widget(request: Request, exc: WidgetUnavailableError) -> JSONResponse:
        return problem(404, str(exc), slug="widget-unavailable", request=request)

    @app.exception_handler(NotFoundError)
    async def _not_found(request: Request, exc: NotFoundError) -> JSONResponse:
        name = str(exc) or "Resource"
        return problem(404, f"{name} not found.", request=request)

    @app.exception_handler(ChatInputError)
    async def _chat_input(request: Request, exc: ChatInputError) -> JSONResponse:
        return problem(422, str(exc), slug="invalid-message", request=request)

    @app.exception_handler(DocumentError)
    async def _document(request: Request, exc: DocumentError) -> JSONResponse:
        extra = (
            {"existing_id": exc.existing_id} if isinstance(exc, DuplicateDocumentError) else None
        )
        return problem(exc.status_code, str(exc), extra=extra, request=request)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        return database_problem(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in %s %s", request.method, request.url.path)
        return problem(500, "Something went wrong on our side; the request id helps us find it.")


def database_problem(request: Request, exc: SQLAlchemyError) -> JSONResponse:
    """503 + Retry-After while the database is unreachable; any other database error is a 500."""
    if database_unavailable(exc):
        log.warning(
            "database unavailable in %s %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
        )
        return problem(
            503,
            DATABASE_UNAVAILABLE,
            slug="database-unavailable",
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
            request=request,
        )
    log.error("database error in %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "Something went wrong on our side; the request id helps us find it.")
