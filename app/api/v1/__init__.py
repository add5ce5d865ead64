"""The public REST API v1, a FastAPI app mounted at /api/v1 (its own OpenAPI document,
docs page and problem-details errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.api.v1 import audit, chat, conversations, documents, inbox, openai_compat, websites
from app.api.v1.body_limit import DeclaredLengthGuard
from app.api.v1.errors import install_problem_handlers, problem_response
from app.middleware import ASGIApp
from app.settings import get_settings

PREFIX = "/api/v1"
# Swagger UI 5 from a pip package (fastapi-offline vendors it): no CDN, works offline.
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"

COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: problem_response("The body could not be parsed (e.g. not UTF-8)"),
    401: problem_response("Missing, malformed, unknown or revoked key"),
    403: problem_response("The key lacks the scope, or may not use that widget"),
    413: problem_response("The request body is too large"),
    415: problem_response("Unsupported Content-Type"),
    422: problem_response("The request is not valid"),
    429: problem_response("Too many requests (Retry-After says when to retry)"),
}


def create_v1() -> ASGIApp:
    """The v1 app behind a guard that refuses over-long declared bodies up front."""
    settings = get_settings()
    json_limit = settings.api_max_json_kb * 1024
    upload_limit = settings.max_upload_bytes + documents.MULTIPART_OVERHEAD

    def limit_for(method: str, path: str) -> int:
        if method == "POST" and path.endswith("/documents"):
            return upload_limit
        if path.endswith("/openai/chat/completions"):
            return max(json_limit, openai_compat.OPENAI_BODY_LIMIT)
        return json_limit

    return DeclaredLengthGuard(_create_app(json_limit, upload_limit), limit_for)


def _create_app(json_limit: int, upload_limit: int) -> FastAPI:
    api = FastAPI(
        title="ChatConnect API",
        version="1.0.0",
        summary="Chat with a workspace's documents over HTTP.",
        description=(
            "Authenticate with a secret key from the dashboard: "
            "`Authorization: Bearer sk_...`. Errors are RFC 9457 problem details; every "
            "response has an `X-Request-ID`."
        ),
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        max_body_size=json_limit,
        responses=COMMON_ERRORS,
    )
    install_problem_handlers(api)
    api.include_router(chat.router)
    api.include_router(conversations.router)
    api.include_router(inbox.router)
    api.include_router(audit.router)
    api.include_router(documents.router, max_body_size=upload_limit)
    api.include_router(websites.router)
    api.include_router(websites.preview_router)
    api.include_router(
        openai_compat.router, max_body_size=max(json_limit, openai_compat.OPENAI_BODY_LIMIT)
    )
    api.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=f"{PREFIX}/openapi.json",
            title="ChatConnect API",
            swagger_js_url=f"{PREFIX}/docs/assets/swagger-ui-bundle.js",
            swagger_css_url=f"{PREFIX}/docs/assets/swagger-ui.css",
            swagger_favicon_url=f"{PREFIX}/docs/assets/favicon.png",
            swagger_ui_parameters={"persistAuthorization": False, "tryItOutEnabled": True},
        )

    return api
