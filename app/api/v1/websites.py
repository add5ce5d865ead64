"""Websites: add a site (crawled in the background), preview, list, status and pages, sync
now, cancel, delete. Uses keys with the `documents` scope (websites are knowledge too)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, StrictInt

from app.api.v1.deps import JSON_BODY, DocumentsKey, key_actor
from app.api.v1.errors import ApiError, problem_response
from app.api.v1.schemas import Id, Strict
from app.db import session_scope
from app.services import websites
from app.services.vectors import get_store

router = APIRouter(prefix="/websites", tags=["websites"])
# Its own path: under /websites/ a GET would meet the `/{website_id}` route (422, not 405).
preview_router = APIRouter(tags=["websites"])

Scope = Literal["host", "subdomains", "prefix"]
Schedule = Literal["off", "daily", "weekly"]
PageStatus = Literal["queued", "fetched", "indexed", "skipped", "failed"]
Pattern = Annotated[str, Field(max_length=200)]


class WebsiteIn(Strict):
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="Start URL, or a sitemap URL (http or https).",
        examples=["https://docs.example.com/"],
    )
    sitemap_url: str | None = Field(default=None, max_length=2000)
    scope: Scope = "host"
    include: list[Pattern] = Field(default_factory=list, max_length=20)
    exclude: list[Pattern] = Field(default_factory=list, max_length=20)
    max_pages: StrictInt | None = Field(default=None, ge=1, le=100_000)
    max_depth: StrictInt = Field(default=5, ge=0, le=20)
    schedule: Schedule = "off"

    def to_input(self) -> websites.WebsiteInput:
        return websites.WebsiteInput(**self.model_dump())


class ScheduleIn(Strict):
    schedule: Schedule


class PreviewOut(BaseModel):
    urls: list[str]


class PageCounts(BaseModel):
    queued: int = 0
    fetched: int = 0
    indexed: int = 0
    skipped: int = 0
    failed: int = 0


class WebsiteOut(BaseModel):
    id: str
    url: str
    sitemap_url: str | None
    scope: str
    include: list[str]
    exclude: list[str]
    max_pages: int
    max_depth: int
    schedule: str
    status: str = Field(description="idle, queued, running, cancelling, done, failed, cancelled")
    last_sync_at: str | None
    next_sync_at: str | None
    last_added: int
    last_changed: int
    last_removed: int
    pages: PageCounts
    created_at: str


class WebsiteListOut(BaseModel):
    items: list[WebsiteOut]


class PageOut(BaseModel):
    id: str
    url: str
    status: str
    reason: str
    depth: int


class PageListOut(BaseModel):
    items: list[PageOut]


def _run(fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        with session_scope() as s:
            return fn(s, *args, **kw)
    except websites.WebsiteError as exc:
        raise ApiError(exc.status_code, str(exc)) from exc


def _view(s: Any, tenant_id: str, website_id: str) -> WebsiteOut:
    site = websites.get_website(s, tenant_id, website_id)
    return WebsiteOut(**websites.website_view(s, tenant_id, site))


NOT_FOUND = {404: problem_response("No such website in this workspace")}


@router.post(
    "",
    status_code=202,
    response_model=WebsiteOut,
    summary="Add a website; its first crawl starts in the background",
    dependencies=[JSON_BODY],
)
async def create_website(body: WebsiteIn, key: DocumentsKey) -> WebsiteOut:
    def create(s: Any) -> WebsiteOut:
        site = websites.create_website(s, key.tenant_id, body.to_input())
        s.flush()
        return WebsiteOut(**websites.website_view(s, key.tenant_id, site))

    out = await run_in_threadpool(_run, create)
    websites.wake_crawl_workers()
    return out


@preview_router.post(
    "/website-preview",
    response_model=PreviewOut,
    summary="The first 20 URLs a crawl of this website would fetch (nothing is saved)",
    dependencies=[JSON_BODY],
)
async def preview(body: WebsiteIn, key: DocumentsKey) -> PreviewOut:
    urls = await run_in_threadpool(_run, websites.preview, key.tenant_id, body.to_input())
    return PreviewOut(urls=urls)


@router.get("", response_model=WebsiteListOut, summary="List websites, newest first")
async def list_websites(key: DocumentsKey) -> WebsiteListOut:
    def items(s: Any) -> WebsiteListOut:
        sites = websites.list_websites(s, key.tenant_id)
        return WebsiteListOut(
            items=[WebsiteOut(**websites.website_view(s, key.tenant_id, w)) for w in sites]
        )

    return await run_in_threadpool(_run, items)


@router.get(
    "/{website_id}",
    response_model=WebsiteOut,
    summary="A website's crawl status, page counts and last sync",
    responses=NOT_FOUND,
)
async def get_website(website_id: Id, key: DocumentsKey) -> WebsiteOut:
    return await run_in_threadpool(_run, _view, key.tenant_id, website_id)


@router.get(
    "/{website_id}/pages",
    response_model=PageListOut,
    summary="The website's pages with their status and, when skipped or failed, the reason",
    responses=NOT_FOUND,
)
async def list_pages(
    website_id: Id,
    key: DocumentsKey,
    status: PageStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> PageListOut:
    rows = await run_in_threadpool(
        _run, websites.page_rows, key.tenant_id, website_id, status=status or "", limit=limit
    )
    return PageListOut(items=[PageOut(**r) for r in rows])


@router.post(
    "/{website_id}/sync",
    status_code=202,
    response_model=WebsiteOut,
    summary="Sync now: re-crawl (unchanged pages cost one request and no embedding)",
    responses=NOT_FOUND,
)
async def sync_now(website_id: Id, key: DocumentsKey) -> WebsiteOut:
    def sync(s: Any) -> WebsiteOut:
        websites.sync_now(s, key.tenant_id, website_id)
        s.flush()
        return _view(s, key.tenant_id, website_id)

    out = await run_in_threadpool(_run, sync)
    websites.wake_crawl_workers()
    return out


@router.put(
    "/{website_id}/schedule",
    response_model=WebsiteOut,
    summary="Re-sync automatically: off, daily or weekly",
    responses=NOT_FOUND,
    dependencies=[JSON_BODY],
)
async def set_schedule(website_id: Id, body: ScheduleIn, key: DocumentsKey) -> WebsiteOut:
    def update(s: Any) -> WebsiteOut:
        websites.update_schedule(s, key.tenant_id, website_id, body.schedule)
        s.flush()
        return _view(s, key.tenant_id, website_id)

    return await run_in_threadpool(_run, update)


@router.post(
    "/{website_id}/cancel",
    response_model=WebsiteOut,
    summary="Cancel the running or queued crawl (pages already indexed stay)",
    responses=NOT_FOUND,
)
async def cancel(website_id: Id, key: DocumentsKey) -> WebsiteOut:
    def stop(s: Any) -> WebsiteOut:
        websites.cancel(s, key.tenant_id, website_id)
        s.flush()
        return _view(s, key.tenant_id, website_id)

    return await run_in_threadpool(_run, stop)


@router.delete(
    "/{website_id}",
    status_code=204,
    summary="Delete a website with its pages, their indexed passages and stored files",
    responses=NOT_FOUND,
)
async def delete_website(website_id: Id, key: DocumentsKey, request: Request) -> Response:
    await run_in_threadpool(
        _run,
        websites.delete_website,
        key.tenant_id,
        website_id,
        store=get_store(),
        actor=key_actor(request, key),
    )
    return Response(status_code=204)
