"""Builds the Reflex app: pages, the mounted API, security middleware, startup tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import reflex as rx

from app import page_registry, pages, process_tuning  # noqa: F401  (importing pages registers them)
from app.api.main import create_api
from app.api.request_context import RequestContextMiddleware
from app.backend_errors import backend_exception_handler
from app.logging_setup import configure_logging
from app.middleware import SecurityHeadersMiddleware
from app.services import catalogue_sync, live, webhooks
from app.services.audit_retention import start_purge_job, stop_purge_job
from app.services.chat import warm_up
from app.services.ingestion import start_workers, stop_workers
from app.services.mail.worker import start_mail_worker, stop_mail_worker
from app.services.turn_runner import finish_running_turns
from app.services.vectors import close_store
from app.services.websites import start_crawl_workers, stop_crawl_workers
from app.settings import get_settings
from app.startup import banner, prepare
from app.upload_limit import UploadLimitMiddleware

configure_logging(get_settings().log_level)
log = logging.getLogger("chatconnect")
# Below the usual 30 s a process manager waits between SIGTERM and SIGKILL.
SHUTDOWN_GRACE_S = 20.0

app = rx.App(
    # The theme is configured by RadixThemesPlugin in rxconfig.py.
    # Later entries wrap earlier ones: request ids outermost, so every response carries one.
    api_transformer=[
        create_api(),
        UploadLimitMiddleware,
        SecurityHeadersMiddleware,
        RequestContextMiddleware,
    ],
    stylesheets=[],
    # Top centre: never over the widget editor's preview input or a table's last row.
    toaster=rx.toast.provider(position="top-center", close_button=True),
    backend_exception_handler=backend_exception_handler,
)
page_registry.add_pages(app)


@app.register_lifespan_task
@contextlib.asynccontextmanager
async def _lifespan():
    # A mounted FastAPI's own lifespan never runs, so startup work is registered here.
    prepare()
    process_tuning.size_thread_pool(asyncio.get_running_loop(), get_settings().backend_threads)
    start_workers()
    start_crawl_workers()
    if get_settings().ingest_workers > 0:  # same switch: app processes without job threads
        catalogue_sync.start_workers()
    start_mail_worker()
    webhooks.start_webhook_worker()
    if get_settings().redis_url:  # handoff events reach the websockets of every process
        live.start_relay(get_settings().redis_url)
    start_purge_job()
    process_tuning.install()
    process_tuning.freeze_after(warm_up)
    log.info("ChatConnect ready at %s", get_settings().public_url)
    # Plain text on stdout (not a JSON log line): the first thing a newcomer reads.
    print(banner(get_settings()), flush=True)
    try:
        yield
    finally:
        # API turns whose clients hung up still run; let them save their answer and usage.
        await finish_running_turns(SHUTDOWN_GRACE_S)
        stop_crawl_workers()
        stop_workers()
        catalogue_sync.stop_workers()
        stop_mail_worker()
        live.stop_relay()
        webhooks.stop_webhook_worker()
        stop_purge_job()
        close_store()
