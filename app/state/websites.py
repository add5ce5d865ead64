"""Knowledge > Websites: preview and add a site, watch its crawl live, per-page statuses,
Sync now, schedule, cancel, delete. Thin: every handler resolves the identity on the
server and calls `app.services.websites`."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import reflex as rx

from app import routes
from app.db import NotFoundError, session_scope
from app.services import websites
from app.services.vectors import get_store
from app.services.websites import WebsiteError, WebsiteInput
from app.state.auth import AuthState
from app.state.insights_views import when
from app.state.polling import poll_while_active

ACTIVE = {"queued", "running", "cancelling"}
PAGE_FILTERS = {"all", "queued", "fetched", "indexed", "skipped", "failed"}


@dataclass
class SiteRow:
    id: str = ""
    url: str = ""
    status: str = ""
    scope: str = ""
    schedule: str = "off"
    last_sync: str = ""
    added: int = 0
    changed: int = 0
    removed: int = 0
    indexed: int = 0
    skipped: int = 0
    failed: int = 0
    pending: int = 0  # queued + fetched (not indexed yet)
    active: bool = False


@dataclass
class PageRow:
    url: str = ""
    status: str = ""
    reason: str = ""


def _site_row(view: dict[str, Any]) -> SiteRow:
    pages = view["pages"]
    return SiteRow(
        id=view["id"],
        url=view["url"],
        status=view["status"],
        scope=view["scope"],
        schedule=view["schedule"],
        last_sync=when(datetime.fromisoformat(view["last_sync_at"]))
        if view["last_sync_at"]
        else "never",
        added=view["last_added"],
        changed=view["last_changed"],
        removed=view["last_removed"],
        indexed=pages.get("indexed", 0),
        skipped=pages.get("skipped", 0),
        failed=pages.get("failed", 0),
        pending=pages.get("queued", 0) + pages.get("fetched", 0),
        active=view["status"] in ACTIVE or pages.get("fetched", 0) > 0,
    )


def _snapshot(tenant_id: str, selected: str, status: str) -> tuple[list[SiteRow], list[PageRow]]:
    with session_scope() as s:
        sites = [
            _site_row(websites.website_view(s, tenant_id, w))
            for w in websites.list_websites(s, tenant_id)
        ]
        pages: list[PageRow] = []
        if selected and any(r.id == selected for r in sites):
            rows = websites.page_rows(
                s, tenant_id, selected, status="" if status == "all" else status, limit=200
            )
            pages = [PageRow(url=r["url"], status=r["status"], reason=r["reason"]) for r in rows]
    return sites, pages


def _input(form: dict[str, Any]) -> WebsiteInput:
    def lines(key: str) -> list[str]:
        return [x.strip() for x in str(form.get(key, "")).splitlines() if x.strip()]

    def number(key: str, default: int | None) -> int | None:
        raw = str(form.get(key, "") or "").strip()
        try:
            return int(raw) if raw else default
        except ValueError:
            raise WebsiteError(f"{key.replace('_', ' ').capitalize()} must be a number.") from None

    return WebsiteInput(
        url=str(form.get("url", ""))[:2000],
        sitemap_url=str(form.get("sitemap_url", "") or "")[:2000] or None,
        scope=str(form.get("scope", "host")),
        include=lines("include"),
        exclude=lines("exclude"),
        max_pages=number("max_pages", None),
        max_depth=number("max_depth", 5) or 0,
        schedule=str(form.get("schedule", "off")),
    )


class WebsitesState(AuthState):
    sites: list[SiteRow] = []
    form: dict[str, str] = {}
    scope: str = "host"
    schedule: str = "off"
    preview_urls: list[str] = []
    previewing: bool = False
    form_error: str = ""
    selected: str = ""
    page_filter: str = "all"
    pages: list[PageRow] = []
    watching: bool = False
    delete_id: str = ""
    delete_url: str = ""

    def _reload(self, tenant_id: str) -> None:
        self.sites, self.pages = _snapshot(tenant_id, self.selected, self.page_filter)

    @rx.event
    def load(self):
        ident = self._require()
        self._reload(ident.tenant_id)
        return WebsitesState.watch if any(s.active for s in self.sites) else None

    @rx.event
    def set_scope(self, value: str) -> None:
        self.scope = value if value in websites.SCOPES else "host"

    @rx.event
    def set_schedule_choice(self, value: str) -> None:
        self.schedule = value if value in ("off", "daily", "weekly") else "off"

    @rx.event(background=True)
    async def preview(self, form: dict):
        """Step 1: show the first 20 URLs a crawl would fetch (fetches robots, sitemap, page)."""
        async with self:
            ident = self._require()
            self.form = {k: str(v) for k, v in form.items()} | {
                "scope": self.scope,
                "schedule": self.schedule,
            }
            self.previewing, self.form_error, self.preview_urls = True, "", []
            data = dict(self.form)

        def run() -> list[str]:
            with session_scope() as s:
                return websites.preview(s, ident.tenant_id, _input(data))

        try:
            urls = await asyncio.to_thread(run)
            error = "" if urls else "No page of this website can be crawled (see robots.txt)."
        except WebsiteError as exc:
            urls, error = [], str(exc)
        async with self:
            self.preview_urls, self.form_error, self.previewing = urls, error, False

    @rx.event
    def start_crawl(self):
        """Step 2: save the previewed website and queue its crawl."""
        ident = self._require()
        try:
            with session_scope() as s:
                site = websites.create_website(s, ident.tenant_id, _input(self.form))
                s.flush()
                self.selected = site.id
        except WebsiteError as exc:
            self.form_error = str(exc)
            return None
        websites.wake_crawl_workers()
        self.preview_urls, self.form = [], {}
        self._reload(ident.tenant_id)
        return [
            rx.toast.success("Crawl started."),
            rx.set_value("site-url", ""),
            WebsitesState.watch,
        ]

    @rx.event
    def clear_preview(self) -> None:
        self._require()
        self.preview_urls, self.form_error = [], ""

    @rx.event
    def select(self, website_id: str) -> None:
        ident = self._require()
        self.selected = "" if self.selected == website_id else website_id
        self._reload(ident.tenant_id)

    @rx.event
    def set_page_filter(self, value: str) -> None:
        ident = self._require()
        self.page_filter = value if value in PAGE_FILTERS else "all"
        self._reload(ident.tenant_id)

    def _act(self, fn, website_id: str, *args: Any) -> bool:  # type: ignore[no-untyped-def]
        ident = self._require()
        try:
            with session_scope() as s:
                fn(s, ident.tenant_id, website_id, *args)
        except NotFoundError:
            return False
        self._reload(ident.tenant_id)
        return True

    @rx.event
    def sync(self, website_id: str):
        if not self._act(websites.sync_now, website_id):
            return rx.toast.error("That website no longer exists.")
        websites.wake_crawl_workers()
        return [rx.toast.success("Sync queued."), WebsitesState.watch]

    @rx.event
    def cancel(self, website_id: str):
        if not self._act(websites.cancel, website_id):
            return rx.toast.error("That website no longer exists.")
        return rx.toast.success("Cancelling the crawl.")

    @rx.event
    def change_schedule(self, website_id: str, value: str):
        if not self._act(websites.update_schedule, website_id, value):
            return rx.toast.error("That website no longer exists.")
        return rx.toast.success(f"Sync schedule: {value}.")

    @rx.event
    def ask_delete(self, website_id: str, url: str) -> None:
        self._require()
        self.delete_id, self.delete_url = website_id, url

    @rx.event
    def cancel_delete(self) -> None:
        self.delete_id = ""

    @rx.event
    def confirm_delete(self):
        ident = self._require()
        website_id, self.delete_id = self.delete_id, ""
        try:
            with session_scope() as s:
                websites.delete_website(
                    s, ident.tenant_id, website_id, store=get_store(), actor=self._actor(ident)
                )
        except NotFoundError:
            return rx.toast.error("That website no longer exists.")
        if self.selected == website_id:
            self.selected = ""
        self._reload(ident.tenant_id)
        return rx.toast.success("Website and its pages deleted.")

    @rx.event(background=True)
    async def watch(self):
        """Poll while a crawl or its indexing runs: live counts and page statuses."""
        await poll_while_active(
            self,
            routes.KNOWLEDGE,
            lambda: (self.selected, self.page_filter),
            lambda tenant_id, args: _snapshot(tenant_id, *args),
            self._apply_snapshot,
        )

    def _apply_snapshot(self, snap: tuple[list[SiteRow], list[PageRow]]) -> bool:
        self.sites, self.pages = snap
        return any(s.active for s in self.sites)
