"""A workspace with a widget, keys of each scope, a second workspace, and an ASGI client
for the whole mounted API (the same middleware stack as the app)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy import Engine

from app.api.main import create_api
from app.api.request_context import RequestContextMiddleware
from app.db import session_scope
from app.middleware import SecurityHeadersMiddleware
from app.rag.embedding import get_embedder
from app.rag.ingest import IngestConfig, JobRunner
from app.services import accounts, documents, widgets
from app.services.api_keys import create_key
from app.services.vectors import get_store
from app.settings import get_settings

BASE = "http://127.0.0.1:3000"
MANUAL = (
    "# Aurora 3000 manual\n\n"
    "The Aurora 3000 espresso machine heats water to 93 degrees Celsius in forty seconds.\n\n"
    "Descale the machine every two months with the supplied citric acid tablets.\n\n"
    "The drip tray holds 900 millilitres and must be emptied when the red float appears.\n"
)


@dataclass
class World:
    tenant: str
    widget: str
    widget2: str
    other_tenant: str
    other_widget: str
    chat_key: str
    docs_key: str
    admin_key: str
    bound_key: str  # chat scope, bound to `widget`
    other_key: str  # chat + documents in the other workspace


def make_world(engine: Engine, ingest: bool = True) -> World:
    with session_scope(engine) as s:
        _, a = accounts.sign_up(s, "api-a@x.io", "a-long-password", "A")
        _, b = accounts.sign_up(s, "api-b@x.io", "a-long-password", "B")
        wa = widgets.create_widget(s, a.id, "Support")
        wa2 = widgets.create_widget(s, a.id, "Sales")
        wb = widgets.create_widget(s, b.id, "Other")
        if ingest:
            documents.create_document(s, a.id, filename="aurora.md", data=MANUAL.encode())
        ids = a.id, wa.id, wa2.id, b.id, wb.id
    with session_scope(engine) as s:
        keys = [
            create_key(s, ids[0], "chat", ["chat"]).secret,
            create_key(s, ids[0], "docs", ["documents"]).secret,
            create_key(s, ids[0], "admin", ["admin"]).secret,
            create_key(s, ids[0], "bound", ["chat"], widget_id=ids[1]).secret,
            create_key(s, ids[3], "other", ["chat", "documents"]).secret,
        ]
    if ingest:
        drain(engine)
    return World(*ids, *keys)


def drain(engine: Engine) -> int:
    settings = get_settings()
    runner = JobRunner(
        engine,
        get_store(),
        get_embedder(settings),
        IngestConfig(files_dir=settings.files_dir, max_upload_bytes=settings.max_upload_bytes),
    )
    return runner.drain()


def asgi_app():  # type: ignore[no-untyped-def]
    return SecurityHeadersMiddleware(RequestContextMiddleware(create_api()))


def client_for(app=None, **kw) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app or asgi_app(), **kw)
    return httpx.AsyncClient(transport=transport, base_url=BASE, timeout=60)


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
