"""The FastAPI app mounted into Reflex through `api_transformer`."""

from __future__ import annotations

from fastapi import FastAPI

from app.api import auth, health, metrics
from app.api.v1 import PREFIX as V1_PREFIX
from app.api.v1 import create_v1


def create_api() -> FastAPI:
    # Docs of the public API come with the v1 router; these internal routes need none.
    api = FastAPI(title="ChatConnect", docs_url=None, redoc_url=None, openapi_url=None)
    api.include_router(health.router)
    api.include_router(auth.router)
    api.include_router(metrics.router)
    api.mount(V1_PREFIX, create_v1())
    return api
