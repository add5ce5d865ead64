"""Knowledge page state: uploads with live per-file progress, the documents table, pasted
text, Q&A pairs and the "test retrieval" box.

One state, KnowledgeState, put together from a mixin per tab (knowledge_documents,
knowledge_uploads, knowledge_qa, knowledge_retrieval); this module adds the tabs, the
first load and the confirmation dialog shared by documents and Q&A pairs. Being one
state keeps its name, its event names and its vars what the page was compiled against.

Every handler resolves the signed-in identity on the server (`_require`) and passes its
tenant to the services; nothing the page sends names a tenant. Members may manage
knowledge (it is content, not keys, credentials, people or billing).
"""

from __future__ import annotations

import reflex as rx

from app.db import NotFoundError, session_scope
from app.services import documents, qa, widgets
from app.services.ingestion import wake_workers
from app.services.vectors import get_store
from app.settings import get_settings
from app.state.auth import AuthState
from app.state.knowledge_documents import DocRow, KnowledgeDocumentsMixin
from app.state.knowledge_qa import KnowledgeQAMixin, QARow
from app.state.knowledge_retrieval import ChunkRow, KnowledgeRetrievalMixin, WidgetOption
from app.state.knowledge_uploads import (
    MAX_FILES_PER_UPLOAD,
    UPLOAD_ID,
    KnowledgeUploadsMixin,
    UploadRow,
)

# The page modules import these from here; pickled states (Reflex's Redis state manager)
# also name the row classes by this module, so they stay importable from it.
__all__ = [
    "CONFIRM_TEXT",
    "MAX_FILES_PER_UPLOAD",
    "UPLOAD_ID",
    "ChunkRow",
    "DocRow",
    "KnowledgeState",
    "QARow",
    "UploadRow",
    "WidgetOption",
]


class KnowledgeState(
    KnowledgeDocumentsMixin,
    KnowledgeUploadsMixin,
    KnowledgeQAMixin,
    KnowledgeRetrievalMixin,
    AuthState,
):
    tab: str = "documents"
    # confirmation dialog
    confirm_open: bool = False
    confirm_kind: str = ""
    confirm_id: str = ""
    confirm_title: str = ""

    @rx.event
    def load(self):
        ident = self._require()
        self.max_upload_mb = get_settings().max_upload_mb
        with session_scope() as session:
            # Counted before the rows are read, as in the polling's snapshot (knowledge_uploads).
            active = documents.count_in_progress(session, ident.tenant_id)
            self._reload_docs(session, ident.tenant_id)
            self._reload_pairs(session, ident.tenant_id)
            self.widget_options = [
                WidgetOption(id=w.id, name=w.name)
                for w in widgets.list_widgets(session, ident.tenant_id)
            ]
        self.loaded = True
        return KnowledgeState.watch_ingestion if active else None

    @rx.event
    def set_tab(self, value: str) -> None:
        self._require()
        self.tab = (
            value
            if value in {"documents", "websites", "text", "qa", "catalogues", "test"}
            else "documents"
        )

    # ---- row actions behind a confirmation ---------------------------------------------

    @rx.event
    def ask_confirm(self, kind: str, item_id: str, title: str) -> None:
        self._require()
        if kind not in CONFIRM_TEXT:
            return
        self.confirm_kind, self.confirm_id, self.confirm_title = kind, item_id, title[:300]
        self.confirm_open = True

    @rx.event
    def cancel_confirm(self) -> None:
        self._require()
        self.confirm_open = False

    @rx.event
    def confirm_action(self):
        ident = self._require()
        kind, item_id = self.confirm_kind, self.confirm_id
        self.confirm_open = False
        try:
            with session_scope() as session:
                if kind == "delete":
                    documents.delete_document(
                        session,
                        ident.tenant_id,
                        item_id,
                        store=get_store(),
                        actor=self._actor(ident),
                    )
                    message = "Document deleted."
                elif kind in {"retry", "reindex"}:
                    documents.requeue(session, ident.tenant_id, item_id)
                    message = "Queued for re-indexing." if kind == "reindex" else "Retrying."
                elif kind == "delete_qa":
                    qa.delete_pair(session, ident.tenant_id, item_id)
                    message = "Q&A pair deleted."
                else:
                    return None
                self._reload_docs(session, ident.tenant_id)
                self._reload_pairs(session, ident.tenant_id)
        except NotFoundError:
            return rx.toast.error("That item no longer exists.")
        if kind in {"retry", "reindex"}:
            wake_workers()
            return [rx.toast.success(message), KnowledgeState.watch_ingestion]
        return rx.toast.success(message)


CONFIRM_TEXT: dict[str, tuple[str, str, str]] = {
    # kind: (dialog title, body, button label)
    "delete": (
        "Delete this document?",
        "Its chunks leave the knowledge base at once; answers stop citing it.",
        "Delete",
    ),
    "reindex": (
        "Re-index this document?",
        "It is parsed, chunked and embedded again from the stored original.",
        "Re-index",
    ),
    "retry": ("Retry ingestion?", "The document is queued again from the start.", "Retry"),
    "delete_qa": (
        "Delete this Q&A pair?",
        "Visitors asking this question get a retrieved answer instead.",
        "Delete",
    ),
}
