"""GET /api/health (readiness): 200 while the process can serve (status "ok", or
"degraded" with Redis down), 503 when the database or the vector store is down.
GET /api/health/live (liveness): 200 whenever the process answers at all."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.services.health import check_health

router = APIRouter(prefix="/api", tags=["operations"])


@router.get("/health/live", summary="Liveness: the process answers")
async def live() -> JSONResponse:
    return JSONResponse({"status": "alive"}, headers={"Cache-Control": "no-store"})


@router.get("/health", summary="Health of the database, vector store and Redis")
async def health() -> JSONResponse:
    ok, body = await run_in_threadpool(check_health)
    return JSONResponse(body, status_code=200 if ok else 503, headers={"Cache-Control": "no-store"})
