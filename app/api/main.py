"""The FastAPI app mounted into Reflex through `api_transformer`."""

from __future__ import annotations

from fastapi import FastAPI

from app.api import auth, embed_assets, health


def create_api() -> FastAPI:
    # Docs of the public API come with the v1 router; these internal routes need none.
    api = FastAPI(title="ChatConnect", docs_url=None, redoc_url=None, openapi_url=None)
    api.include_router(health.router)
    api.include_router(auth.router)
    api.include_router(embed_assets.router)
    return api
