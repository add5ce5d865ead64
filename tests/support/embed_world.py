"""Seed a workspace, a widget and a document into a running server's embedded database.

The server (tests/e2e `app_server`, or `make run`) owns the vector store, so documents are
only written as rows + files here; the server's ingestion worker picks the job up, and
`wait_ready` polls until the document is searchable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from app.db import make_engine, session_scope
from app.models import Document, DocumentStatus
from app.services import accounts, documents, widgets
from app.settings import Settings

GUIDE = """# Acme Coffee brewing guide

## Grind size

For pour-over, grind the beans medium-fine, like table salt. Espresso needs a fine grind,
finer than table salt, and a French press needs a coarse grind.

## Water temperature

Brew with water between 92 and 96 degrees Celsius. Boiling water scorches the coffee and
makes it bitter.

## Shipping

We roast on Mondays and ship on Tuesdays. Orders placed after Monday noon leave the
following week. Shipping is free for orders over 35 dollars.
"""


@dataclass(frozen=True, slots=True)
class EmbedWorld:
    engine: Engine
    tenant_id: str
    widget_id: str
    document_id: str


def seed(
    data_dir: Path,
    allowed_domains: list[str],
    *,
    email: str = "owner@acme-coffee.io",
    starters: tuple[str, ...] = ("How do you ship?",),
) -> EmbedWorld:
    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, email, "a-long-password-1", "Acme Coffee")
        widget = widgets.create_widget(
            s,
            tenant.id,
            "Website",
            appearance={"title": "Barista Bot", "primary_color": "#c2410c"},
            greeting="Hi! Ask me about brewing or shipping.",
            starter_questions=list(starters),
            allowed_domains=allowed_domains,
        )
        doc = documents.create_document(
            s, tenant.id, filename="brewing-guide.md", data=GUIDE.encode(), settings=settings
        )
        world = EmbedWorld(engine, tenant.id, widget.id, doc.id)
    return world


def wait_ready(world: EmbedWorld, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with session_scope(world.engine) as s:
            doc = s.get(Document, world.document_id)
            assert doc is not None
            if doc.status == DocumentStatus.ready:
                return
            if doc.status == DocumentStatus.failed:
                raise AssertionError(f"ingestion failed: {doc.error}")
        time.sleep(1)
    raise AssertionError(f"document not ready after {timeout_s}s")
