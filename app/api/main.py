"""The FastAPI app mounted into Reflex through `api_transformer`."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api import auth, embed_assets, health, metrics, oauth
from app.api.v1 import PREFIX as V1_PREFIX
from app.api.v1 import create_v1
from app.api.v1.errors import database_problem, problem


def create_api() -> FastAPI:
    # Docs of the public API come with the v1 router; these internal routes need none.
    api = FastAPI(title="ChatConnect", docs_url=None, redoc_url=None, openapi_url=None)
    api.include_router(health.router)
    api.include_router(auth.router)
    api.include_router(oauth.router)
    api.include_router(embed_assets.router)
    api.include_router(metrics.router)
    api.mount(V1_PREFIX, create_v1())

    # Paths the v1 mount cannot match (e.g. a newline in a path segment) still get problem
    # details under /api/v1; everything else keeps FastAPI's default.
    @api.exception_handler(StarletteHTTPException)
    async def _outer_http(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(V1_PREFIX):
            return problem(exc.status_code, HTTPStatus(exc.status_code).phrase, headers=exc.headers)
        return await http_exception_handler(request, exc)

    # Health, auth and embed routes too: a database restart is a 503 to retry, not a 500.
    @api.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> Response:
        return database_problem(request, exc)

    return api
