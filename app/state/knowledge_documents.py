"""Knowledge > Documents and Paste text: the documents table (search, sort, pages) and
pasted text. A mixin of KnowledgeState (app/state/knowledge.py), which adds the
confirmation dialog behind re-index/retry/delete; uploads are in knowledge_uploads.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from app.db import session_scope
from app.models import Document
from app.services import documents
from app.services.ingestion import wake_workers
from app.state.insights_views import when

PAGE_SIZE = 10
FINISHED = {"ready", "failed", "refused"}
SORT_COLUMNS = {"title", "kind", "size_bytes", "chunk_count", "status", "updated_at"}


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


@dataclass
class DocRow:
    id: str = ""
    title: str = ""
    kind: str = ""
    size: str = ""
    chunks: int = 0
    status: str = ""
    progress: int = 0
    step: str = ""
    error: str = ""
    updated: str = ""
    can_retry: bool = False
    active: bool = False


def doc_row(doc: Document) -> DocRow:
    status = str(doc.status)
    return DocRow(
        id=doc.id,
        title=doc.title,
        kind=(doc.kind or "").upper(),
        size=human_size(doc.size_bytes),
        chunks=doc.chunk_count,
        status=status,
        progress=doc.progress,
        step=doc.step or "",
        error=doc.error or "",
        updated=when(doc.updated_at),
        can_retry=status == "failed",
        active=status not in FINISHED,
    )


class KnowledgeDocumentsMixin(rx.State, mixin=True):
    # documents table
    docs: list[DocRow] = []
    total: int = 0
    page: int = 0
    search: str = ""
    sort_field: str = "updated_at"
    sort_desc: bool = True
    loaded: bool = False
    # pasted text
    paste_error: str = ""

    # ---- derived -----------------------------------------------------------------------

    @rx.var
    def page_count(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))

    @rx.var
    def page_label(self) -> str:
        if self.total == 0:
            return "No documents"
        first = self.page * PAGE_SIZE + 1
        last = min(self.total, first + PAGE_SIZE - 1)
        return f"{first}-{last} of {self.total}"

    @rx.var
    def has_prev(self) -> bool:
        return self.page > 0

    @rx.var
    def has_next(self) -> bool:
        return (self.page + 1) * PAGE_SIZE < self.total

    # ---- loading -----------------------------------------------------------------------

    def _order(self) -> str:
        return ("-" if self.sort_desc else "") + self.sort_field

    def _reload_docs(self, session, tenant_id: str) -> None:  # type: ignore[no-untyped-def]
        result = documents.list_documents(
            session,
            tenant_id,
            search=self.search,
            order=self._order(),
            offset=self.page * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        if not result.items and self.page > 0 and result.total:
            self.page = max(0, (result.total - 1) // PAGE_SIZE)
            result = documents.list_documents(
                session,
                tenant_id,
                search=self.search,
                order=self._order(),
                offset=self.page * PAGE_SIZE,
                limit=PAGE_SIZE,
            )
        self.docs = [doc_row(d) for d in result.items]
        self.total = result.total

    @rx.event
    def set_search(self, value: str) -> None:
        ident = self._require()  # type: ignore[attr-defined]
        self.search = value[:100]
        self.page = 0
        with session_scope() as session:
            self._reload_docs(session, ident.tenant_id)

    @rx.event
    def sort_by(self, column: str) -> None:
        ident = self._require()  # type: ignore[attr-defined]
        if column not in SORT_COLUMNS:
            return
        if self.sort_field == column:
            self.sort_desc = not self.sort_desc
        else:
            self.sort_field, self.sort_desc = column, column in {"updated_at", "size_bytes"}
        self.page = 0
        with session_scope() as session:
            self._reload_docs(session, ident.tenant_id)

    @rx.event
    def go_page(self, delta: int) -> None:
        ident = self._require()  # type: ignore[attr-defined]
        self.page = max(0, min(self.page + int(delta), self.page_count - 1))
        with session_scope() as session:
            self._reload_docs(session, ident.tenant_id)

    # ---- pasted text -------------------------------------------------------------------

    @rx.event
    def submit_text(self, form: dict):
        ident = self._require()  # type: ignore[attr-defined]
        self.paste_error = ""
        try:
            with session_scope() as session:
                doc = documents.create_text_document(
                    session,
                    ident.tenant_id,
                    title=str(form.get("title", ""))[: documents.MAX_TITLE + 1],
                    text=str(form.get("text", "")),
                )
                title = doc.title
                self._reload_docs(session, ident.tenant_id)
        except documents.DocumentError as exc:
            self.paste_error = str(exc)
            return None
        wake_workers()
        self.tab = "documents"  # type: ignore[attr-defined]
        return [
            rx.toast.success(f"“{title}” added; ingesting now."),
            rx.set_value("paste-title", ""),
            rx.set_value("paste-text", ""),
            # KnowledgeState's handler (knowledge_uploads.py); a mixin cannot import it.
            type(self).watch_ingestion,  # type: ignore[attr-defined]
        ]
