"""GET /embed/widget.js and /embed/demo.html: the loader and the demo host page.

Both are small files read once and kept with their gzip form and a strong ETag. The loader
is cached briefly (max-age 5 minutes) so a fix reaches websites quickly, and revalidates
with If-None-Match at the cost of an empty 304.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request, Response

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
