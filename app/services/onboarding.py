"""The setup checklist of a new workspace, ticked from its data (never stored separately)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.db import TenantScope
from app.models import Conversation, Document, DocumentStatus, QAPair, Widget
from app.services.framing import origin_of
from app.settings import get_settings


@dataclass(frozen=True, slots=True)
class Checklist:
    widget_created: bool
    knowledge_added: bool
    tested: bool
    embedded: bool

    @property
    def done(self) -> int:
        return sum((self.widget_created, self.knowledge_added, self.tested, self.embedded))

    @property
    def complete(self) -> bool:
        return self.done == 4


def checklist(session: Session, tenant_id: str, public_url: str | None = None) -> Checklist:
    """Widget created; a document ready (or a Q&A pair); any conversation; a real embed.

    "Embedded" means a web conversation whose host page is not this app's own origin
    (the dashboard preview and the demo page are served from PUBLIC_URL).
    """
    ts = TenantScope(session, tenant_id)

    def any_row(query) -> bool:  # type: ignore[no-untyped-def]
        return session.exec(query.limit(1)).first() is not None

    own = origin_of(public_url or get_settings().public_url)
    hosts = session.exec(
        select(Conversation.host_url)
        .where(
            Conversation.tenant_id == ts.tenant_id,
            Conversation.channel == "web",
            Conversation.host_url != "",
        )
        .distinct()
        .limit(200)
    ).all()
    return Checklist(
        widget_created=any_row(ts.select(Widget)),
        knowledge_added=any_row(ts.select(Document).where(Document.status == DocumentStatus.ready))
        or any_row(ts.select(QAPair).where(col(QAPair.enabled).is_(True))),
        tested=any_row(ts.select(Conversation)),
        embedded=any(origin_of(h) not in ("", own) for h in hosts),
    )
