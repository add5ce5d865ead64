"""GET /embed/widget.js and /embed/demo.html: the loader and the demo host page; and
GET /embed/<widget_id>/config.json: what the loader needs before it draws anything.

Both files are small, read once and kept with their gzip form and a strong ETag. The
loader is cached briefly (max-age 5 minutes) so a fix reaches websites quickly, and
revalidates with If-None-Match at the cost of an empty 304.

config.json is public (CORS `*`, no credentials) and holds nothing secret: the bubble's
look (already visible on the chat page) and whether the asking origin may frame the chat
(already public in the chat page's frame-ancestors header). Cached for a minute, so a
change of colour or allowed domains reaches websites within about a minute.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.db import session_scope
from app.services.framing import WIDGET_ID_RE, origin_may_frame, origin_of
from app.services.visitors import PublicWidget, find_widget
from app.settings import get_settings

EMBED_DIR = Path(__file__).resolve().parents[2] / "embed"

router = APIRouter(prefix="/embed", include_in_schema=False)


@dataclass(frozen=True, slots=True)
class StaticAsset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str
    max_age: int


@lru_cache(maxsize=4)
def load_asset(name: str, media_type: str, max_age: int) -> StaticAsset:
    body = (EMBED_DIR / name).read_bytes()
    return StaticAsset(
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag='"' + hashlib.sha256(body).hexdigest()[:32] + '"',
        media_type=media_type,
        max_age=max_age,
    )


def _accepts_gzip(request: Request) -> bool:
    return any(
        part.split(";")[0].strip() in ("gzip", "*")
        for part in request.headers.get("accept-encoding", "").lower().split(",")
    )


def serve(request: Request, asset: StaticAsset, extra: dict[str, str] | None = None) -> Response:
    headers = {
        "ETag": asset.etag,
        "Cache-Control": f"public, max-age={asset.max_age}",
        "Vary": "Accept-Encoding",
        **(extra or {}),
    }
    match = request.headers.get("if-none-match", "")
    if asset.etag in [tag.strip().removeprefix("W/") for tag in match.split(",")]:
        return Response(status_code=304, headers=headers)
    if _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get("/widget.js")
def widget_js(request: Request) -> Response:
    asset = load_asset("widget.js", "text/javascript; charset=utf-8", 300)
    # Websites with Cross-Origin-Embedder-Policy may still load it.
    return serve(request, asset, {"Cross-Origin-Resource-Policy": "cross-origin"})


@router.get("/demo.html")
def demo_html(request: Request) -> Response:
    return serve(request, load_asset("demo.html", "text/html; charset=utf-8", 60))


CONFIG_MAX_AGE_S = 60


def _lookup(widget_id: str) -> PublicWidget | None:
    with session_scope() as session:
        return find_widget(session, widget_id)


def loader_config(widget: PublicWidget | None, origin: str, public_origin: str) -> dict[str, Any]:
    """The loader's view of a widget for a page of `origin` (status 404 = show nothing)."""
    if widget is None or not widget.enabled:
        return {"status": 404, "error": "not_found"}
    if not origin_may_frame(origin, widget.allowed_domains, public_origin):
        return {"status": 200, "allowed": False}
    return {
        "status": 200,
        "allowed": True,
        "title": widget.title,
        "color": widget.primary_color,
        "position": widget.position if widget.position in ("left", "right") else "right",
        "avatar_url": widget.avatar_url if widget.avatar_url.startswith("https://") else "",
    }


@router.get("/{widget_id}/config.json")
async def widget_config(widget_id: str, request: Request) -> Response:
    public_origin = get_settings().public_origin
    # Browsers send Origin on a cross-origin fetch; the loader also names it in the query
    # (a same-origin GET carries no Origin header). Neither is trusted for anything but
    # this answer: the frame-ancestors header is what actually refuses a foreign origin.
    origin = origin_of(request.headers.get("origin") or request.query_params.get("origin") or "")
    widget = await run_in_threadpool(_lookup, widget_id) if WIDGET_ID_RE.match(widget_id) else None
    config = loader_config(widget, origin or public_origin, public_origin)
    status = config.pop("status")
    body = json.dumps(config, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={CONFIG_MAX_AGE_S}",
        "Vary": "Origin",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    match = request.headers.get("if-none-match", "")
    if status == 200 and etag in [tag.strip().removeprefix("W/") for tag in match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status, media_type="application/json", headers=headers)
