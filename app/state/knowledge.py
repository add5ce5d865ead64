"""Knowledge page state: uploads with live per-file progress, the documents table, pasted
text, Q&A pairs and the "test retrieval" box.

Every handler resolves the signed-in identity on the server (`_require`) and passes its
tenant to the services; nothing the page sends names a tenant. Members may manage
knowledge (it is content, not keys, credentials, people or billing).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import reflex as rx

from app import routes
from app.db import NotFoundError, session_scope
from app.models import Document
from app.services import documents, qa, widgets
from app.services.answer_html import markdown_to_html
from app.services.chat import ChatInputError, WidgetUnavailableError
from app.services.conversations import BudgetExceededError
from app.services.ingestion import wake_workers
from app.services.limits import RateLimitedError
from app.services.retrieval_preview import PreviewError, preview
from app.services.vectors import get_store
from app.settings import get_settings
from app.state.auth import AuthState
from app.state.insights_views import when
from app.state.polling import poll_while_active

log = logging.getLogger("chatconnect.knowledge")

UPLOAD_ID = "knowledge-upload"
MAX_FILES_PER_UPLOAD = documents.MAX_FILES_PER_UPLOAD
PAGE_SIZE = 10
SNIPPET_CHARS = 400
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


@dataclass
class UploadRow:
    """One file of an upload batch, from the browser's first byte to ready/failed."""

    key: str = ""
    name: str = ""
    size: int = 0
    size_label: str = ""
    stage: str = "uploading"  # uploading | queued..indexing | ready | failed | refused
    progress: int = 0
    message: str = ""
    doc_id: str = ""


@dataclass
class QARow:
    id: str = ""
    question: str = ""
    answer: str = ""
    enabled: bool = True


@dataclass
class ChunkRow:
    n: int = 0
    title: str = ""
    where: str = ""
    score: str = ""
    relevance: str = ""  # raw cosine, or "—" (found by keywords only / a Q&A pair)
    text: str = ""
    # When the answer quotes this chunk: the preview split around the quoted sentence.
    before: str = ""
    quote: str = ""
    after: str = ""
    cited: bool = False
    qa: bool = False


@dataclass
class WidgetOption:
    id: str = ""
    name: str = ""


def _doc_row(doc: Document) -> DocRow:
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


def _upload_stage(row: UploadRow, doc: DocRow) -> None:
    row.stage, row.progress = doc.status, doc.progress
    if doc.status == "failed":
        row.message = doc.error or "Ingestion failed."
    elif doc.status == "ready":
        row.message = f"Ready · {doc.chunks} chunk{'' if doc.chunks == 1 else 's'}"
    else:
        row.message = doc.step or doc.status.capitalize()


@dataclass
class _Snapshot:
    rows: list[DocRow]
    total: int
    uploads: dict[str, DocRow]
    active: int


def _snapshot(tenant_id: str, query: tuple[str, str, int], wanted: list[str]) -> _Snapshot:
    """One poll, in a worker thread: the table page, the uploaded documents, the active count."""
    search, order, offset = query
    with session_scope() as session:
        # The count first: each SELECT sees the latest commit (no snapshot across them), and
        # "nothing active" ends the polling. Counted after the rows, a document finishing in
        # between left its row on "Indexing 99%" with nobody polling any more; counted
        # before, the rows read after it can only be as finished or more.
        active = documents.count_in_progress(session, tenant_id)
        page = documents.list_documents(
            session, tenant_id, search=search, order=order, offset=offset, limit=PAGE_SIZE
        )
        uploads = {d.id: _doc_row(d) for d in documents.documents_by_id(session, tenant_id, wanted)}
        return _Snapshot(
            rows=[_doc_row(d) for d in page.items],
            total=page.total,
            uploads=uploads,
            active=active,
        )


def _chunk_row(  # type: ignore[no-untyped-def]
    source, cited: set[int], relevance: float | None = None, quote: str | None = None
) -> ChunkRow:
    where = []
    if source.page:
        where.append(f"page {source.page}")
    if source.section:
        where.append(source.section)
    text = " ".join(source.text.split())
    row = ChunkRow(
        n=source.n,
        title=source.title,
        where=" · ".join(where) if where else f"chunk {source.chunk_index + 1}",
        score=f"{source.score:.3f}",
        relevance="—" if relevance is None else f"{relevance:.2f}",
        text=text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS] + "…",
        cited=source.n in cited,
        qa=source.kind == "qa",
    )
    quote = " ".join((quote or "").split())
    at = text.find(quote) if quote else -1
    if at >= 0:
        # A window around the quoted sentence, so it shows even deep inside a long chunk.
        room = max(0, SNIPPET_CHARS - len(quote))
        start = max(0, at - room // 3)
        end = min(len(text), at + len(quote) + room - (at - start))
        row.before = ("…" if start else "") + text[start:at]
        row.quote = quote
        row.after = text[at + len(quote) : end] + ("…" if end < len(text) else "")
    return row


class KnowledgeState(AuthState):
    # documents table
    docs: list[DocRow] = []
    total: int = 0
    page: int = 0
    search: str = ""
    sort_field: str = "updated_at"
    sort_desc: bool = True
    loaded: bool = False
    # uploads
    uploads: list[UploadRow] = []
    uploading: bool = False
    watching: bool = False
    batch: int = 0
    max_upload_mb: int = 25
    # confirmation dialog
    confirm_open: bool = False
    confirm_kind: str = ""
    confirm_id: str = ""
    confirm_title: str = ""
    # pasted text
    paste_error: str = ""
    # Q&A pairs
    pairs: list[QARow] = []
    qa_open: bool = False
    qa_edit_id: str = ""
    qa_question: str = ""
    qa_answer: str = ""
    qa_enabled: bool = True
    qa_error: str = ""
    # test retrieval
    widget_options: list[WidgetOption] = []
    test_widget: str = "none"
    test_question: str = ""
    test_running: bool = False
    test_error: str = ""
    test_done: bool = False
    chunks: list[ChunkRow] = []
    answer: str = ""
    answer_html: str = ""  # drawn like the widget draws it
    answered: bool = False
    answer_meta: str = ""
    tab: str = "documents"

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
        self.docs = [_doc_row(d) for d in result.items]
        self.total = result.total

    def _reload_pairs(self, session, tenant_id: str) -> None:  # type: ignore[no-untyped-def]
        self.pairs = [
            QARow(id=p.id, question=p.question, answer=p.answer, enabled=p.enabled)
            for p in qa.list_pairs(session, tenant_id)
        ]

    @rx.event
    def load(self):
        ident = self._require()
        self.max_upload_mb = get_settings().max_upload_mb
        with session_scope() as session:
            self._reload_docs(session, ident.tenant_id)
            self._reload_pairs(session, ident.tenant_id)
            self.widget_options = [
                WidgetOption(id=w.id, name=w.name)
                for w in widgets.list_widgets(session, ident.tenant_id)
            ]
            active = documents.count_in_progress(session, ident.tenant_id)
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

    @rx.event
    def set_search(self, value: str) -> None:
        ident = self._require()
        self.search = value[:100]
        self.page = 0
        with session_scope() as session:
            self._reload_docs(session, ident.tenant_id)

    @rx.event
    def sort_by(self, column: str) -> None:
        ident = self._require()
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
        ident = self._require()
        self.page = max(0, min(self.page + int(delta), self.page_count - 1))
        with session_scope() as session:
            self._reload_docs(session, ident.tenant_id)

    # ---- upload ------------------------------------------------------------------------

    @rx.event
    def begin_upload(self, files: list[dict]):
        """The browser's list of the chosen files (name, size), before any byte is sent."""
        self._require()
        if not files:
            return rx.toast.warning("Choose or drop files first.")
        if len(files) > MAX_FILES_PER_UPLOAD:
            return rx.toast.error(f"Upload at most {MAX_FILES_PER_UPLOAD} files at a time.")
        self.batch += 1
        self.uploading = True
        finished = [u for u in self.uploads if u.stage in FINISHED]
        running = [u for u in self.uploads if u.stage not in FINISHED]
        fresh = [
            UploadRow(
                key=f"{self.batch}-{i}",
                name=str(f.get("name", "file"))[:200],
                size=int(f.get("size") or 0),
                size_label=human_size(int(f.get("size") or 0)),
                message="Uploading…",
            )
            for i, f in enumerate(files)
        ]
        self.uploads = (fresh + running + finished)[:50]
        return None

    def _batch_rows(self) -> list[UploadRow]:
        prefix = f"{self.batch}-"
        return [u for u in self.uploads if u.key.startswith(prefix)]

    @rx.event
    def upload_progress(self, progress: dict) -> None:
        """Reflex reports bytes sent for the whole request; files go in order, so each
        file's share follows from the sizes the browser told us."""
        self._require()
        rows = [u for u in self._batch_rows() if u.stage == "uploading"]
        sizes = sum(u.size for u in self._batch_rows()) or 1
        total = float(progress.get("total") or 0) or 1.0
        sent = float(progress.get("loaded") or 0) * sizes / total
        start = 0
        for row in self._batch_rows():
            if row in rows and row.size:
                done = max(0.0, min(float(row.size), sent - start))
                row.progress = int(done * 100 / row.size)
                row.message = f"{human_size(int(done))} of {row.size_label} sent"
            start += row.size
        self.uploads = list(self.uploads)

    @rx.event
    async def handle_upload(self, files: list[rx.UploadFile]):
        """Each file is read here and handed to the documents service (never written to
        Reflex's public upload folder); one file's refusal does not stop the others."""
        ident = self._require()
        settings = get_settings()
        rows = self._batch_rows()
        accepted = refused = 0
        for i, upload in enumerate(files[:MAX_FILES_PER_UPLOAD]):
            name = upload.name or upload.filename or "file"
            row = rows[i] if i < len(rows) and rows[i].name == name else None
            if row is None:
                row = next((r for r in rows if r.name == name and r.stage == "uploading"), None)
            if row is None:
                row = UploadRow(key=f"{self.batch}-x{i}", name=name)
                self.uploads = [row, *self.uploads]
            row.progress = 100
            try:
                if upload.size is not None and upload.size > settings.max_upload_bytes:
                    raise documents.UploadTooLargeError(
                        f"The file is larger than the {settings.max_upload_mb} MB limit."
                    )
                data = await upload.read(settings.max_upload_bytes + 1)
                row.size, row.size_label = len(data), human_size(len(data))
                with session_scope() as session:
                    doc = documents.create_document(
                        session, ident.tenant_id, filename=name, data=data
                    )
                    row.doc_id = doc.id
                row.stage, row.progress, row.message = "queued", 0, "Queued for ingestion"
                accepted += 1
            except documents.DocumentError as exc:
                row.stage, row.message = "refused", f"{_refusal_label(exc)}: {exc}"
                refused += 1
        for row in rows:  # a file the browser listed but the request did not carry
            if row.stage == "uploading":
                row.stage, row.message = "refused", "Upload interrupted: the file never arrived."
                refused += 1
        self.uploading = False
        self.uploads = list(self.uploads)
        with session_scope() as session:
            self._reload_docs(session, ident.tenant_id)
        if accepted:
            wake_workers()
        events: list = [rx.clear_selected_files(UPLOAD_ID)]
        if accepted:
            events.append(rx.toast.success(f"{accepted} file(s) uploaded; ingesting now."))
            events.append(KnowledgeState.watch_ingestion)
        if refused:
            events.append(rx.toast.error(f"{refused} file(s) could not be added; see the list."))
        return events

    @rx.event
    def drop_rejected(self, rejected: list[dict]):
        """The browser refused files before sending them (too large, too many)."""
        self._require()
        self.batch += 1
        messages = {
            "file-too-large": f"Too large: the limit is {self.max_upload_mb} MB per file.",
            "too-many-files": f"Too many files: upload at most {MAX_FILES_PER_UPLOAD} at a time.",
        }
        rows = []
        for i, item in enumerate(rejected[:MAX_FILES_PER_UPLOAD]):
            file = item.get("file") or {}
            codes = [str(e.get("code", "")) for e in item.get("errors") or []]
            text = next((messages[c] for c in codes if c in messages), "This file was refused.")
            name = str(file.get("path") or file.get("name") or "file").lstrip("./")[:200]
            rows.append(
                UploadRow(key=f"{self.batch}-{i}", name=name, stage="refused", message=text)
            )
        self.uploads = (rows + self.uploads)[:50]
        return rx.toast.error(f"{len(rows)} file(s) refused; see the list.")

    @rx.event
    def clear_finished(self) -> None:
        self._require()
        self.uploads = [u for u in self.uploads if u.stage not in FINISHED]

    @rx.event(background=True)
    async def watch_ingestion(self):
        """Poll this tenant's in-progress documents every second while any is active."""
        await poll_while_active(
            self,
            routes.KNOWLEDGE,
            lambda: (
                (self.search, self._order(), self.page * PAGE_SIZE),
                [u.doc_id for u in self.uploads if u.doc_id],
            ),
            lambda tenant_id, args: _snapshot(tenant_id, *args),
            self._apply_snapshot,
        )

    def _apply_snapshot(self, snap: _Snapshot) -> bool:
        self.docs, self.total = snap.rows, snap.total
        for upload in self.uploads:
            if upload.doc_id in snap.uploads:
                _upload_stage(upload, snap.uploads[upload.doc_id])
        self.uploads = list(self.uploads)
        return bool(snap.active)

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

    # ---- pasted text -------------------------------------------------------------------

    @rx.event
    def submit_text(self, form: dict):
        ident = self._require()
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
        self.tab = "documents"
        return [
            rx.toast.success(f"“{title}” added; ingesting now."),
            rx.set_value("paste-title", ""),
            rx.set_value("paste-text", ""),
            KnowledgeState.watch_ingestion,
        ]

    # ---- Q&A pairs ---------------------------------------------------------------------

    @rx.event
    def new_pair(self) -> None:
        self._require()
        self.qa_edit_id, self.qa_question, self.qa_answer = "", "", ""
        self.qa_enabled, self.qa_error, self.qa_open = True, "", True

    @rx.event
    def edit_pair(self, pair_id: str) -> None:
        self._require()
        pair = next((p for p in self.pairs if p.id == pair_id), None)
        if pair is None:
            return
        self.qa_edit_id, self.qa_question, self.qa_answer = pair.id, pair.question, pair.answer
        self.qa_enabled, self.qa_error, self.qa_open = pair.enabled, "", True

    @rx.event
    def set_qa_open(self, value: bool) -> None:
        self._require()
        self.qa_open = value

    @rx.event
    def set_qa_enabled(self, value: bool) -> None:
        self._require()
        self.qa_enabled = value

    @rx.event
    def save_pair(self, form: dict):
        ident = self._require()
        question, answer = str(form.get("question", "")), str(form.get("answer", ""))
        try:
            with session_scope() as session:
                if self.qa_edit_id:
                    qa.update_pair(
                        session,
                        ident.tenant_id,
                        self.qa_edit_id,
                        question=question,
                        answer=answer,
                        enabled=self.qa_enabled,
                    )
                else:
                    qa.create_pair(
                        session, ident.tenant_id, question, answer, enabled=self.qa_enabled
                    )
                self._reload_pairs(session, ident.tenant_id)
        except qa.QAError as exc:
            self.qa_error = str(exc)
            return None
        except NotFoundError:
            self.qa_error = "This pair no longer exists."
            return None
        edited = bool(self.qa_edit_id)
        self.qa_open = False
        return rx.toast.success("Q&A pair saved." if edited else "Q&A pair added.")

    @rx.event
    def toggle_pair(self, pair_id: str, enabled: bool):
        ident = self._require()
        try:
            with session_scope() as session:
                pair = qa.get_pair(session, ident.tenant_id, pair_id)
                qa.update_pair(
                    session,
                    ident.tenant_id,
                    pair_id,
                    question=pair.question,
                    answer=pair.answer,
                    enabled=bool(enabled),
                )
                self._reload_pairs(session, ident.tenant_id)
        except NotFoundError:
            return rx.toast.error("That pair no longer exists.")
        return rx.toast.success("Pair enabled." if enabled else "Pair disabled.")

    # ---- test retrieval ----------------------------------------------------------------

    @rx.event
    def set_test_widget(self, value: str) -> None:
        self._require()
        self.test_widget = value

    @rx.event(background=True)
    async def run_test(self, form: dict):
        """A real chat turn off the event lock, so the page stays responsive meanwhile."""
        async with self:
            if self.test_running:
                return
            ident = self._require()
            question = str(form.get("question", "")).strip()[:1000]
            widget = self.test_widget if self.test_widget != "none" else None
            if widget and widget not in {w.id for w in self.widget_options}:
                widget = None
            self.test_question = question
            self.test_running, self.test_error = True, ""
        try:
            result = await preview(ident.tenant_id, ident.user_id, question, widget)
        except (PreviewError, ChatInputError) as exc:
            error = str(exc)
        except WidgetUnavailableError:
            error = "That widget is disabled or was deleted: enable it, or test without one."
        except (RateLimitedError, BudgetExceededError) as exc:
            error = str(exc)
        except Exception:  # a provider outage must not leave the box spinning
            log.exception("test retrieval failed")
            error = "The test could not run. Check the provider settings and try again."
        else:
            error = ""
        async with self:
            self.test_running = False
            self.test_error = error
            if error:
                return rx.toast.error(error)
            cited = set(result.cited)
            self.chunks = [
                _chunk_row(c, cited, result.relevance.get(c.n), result.quotes.get(c.n))
                for c in result.chunks
            ]
            self.answer, self.answered, self.test_done = result.answer, result.answered, True
            self.answer_html = markdown_to_html(result.answer)
            source = (
                result.model
                if result.model == result.provider
                else (f"{result.provider} · {result.model}")
            )
            meta = [source, f"{result.latency_ms} ms"]
            if result.tokens:
                meta.append(f"{result.tokens:,} tokens · ${result.cost_usd:.4f}")
            if result.cached:
                meta.append("cached answer")
            if result.qa_pair:
                meta.append("answered by a Q&A pair")
            self.answer_meta = " · ".join(meta)
        return None


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


def _refusal_label(exc: documents.DocumentError) -> str:
    return {
        413: "Too large",
        415: "Unsupported",
        409: "Duplicate",
    }.get(exc.status_code, "Refused")
