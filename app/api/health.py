"""GET /api/health: 200 when every configured dependency answers, 503 otherwise."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.services.health import check_health

router = APIRouter(prefix="/api", tags=["operations"])


@router.get("/health", summary="Health of the database, vector store and Redis")
async def health() -> JSONResponse:
    ok, body = await run_in_threadpool(check_health)
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})
