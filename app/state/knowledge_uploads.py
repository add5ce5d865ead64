"""Knowledge > Documents, the upload card: files with live per-file progress from the
browser's first byte to ready/failed, and the watcher that refreshes the documents table
and these rows while anything ingests. A mixin of KnowledgeState (app/state/knowledge.py).

Each file is read in the handler and handed to the documents service; nothing is written to
Reflex's public upload folder.
"""

from __future__ import annotations

from dataclasses import dataclass

import reflex as rx

from app import routes
from app.db import session_scope
from app.services import documents
from app.services.ingestion import wake_workers
from app.settings import get_settings
from app.state.knowledge_documents import FINISHED, PAGE_SIZE, DocRow, doc_row, human_size
from app.state.polling import poll_while_active

UPLOAD_ID = "knowledge-upload"
MAX_FILES_PER_UPLOAD = documents.MAX_FILES_PER_UPLOAD


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
        uploads = {d.id: doc_row(d) for d in documents.documents_by_id(session, tenant_id, wanted)}
        return _Snapshot(
            rows=[doc_row(d) for d in page.items],
            total=page.total,
            uploads=uploads,
            active=active,
        )


def _refusal_label(exc: documents.DocumentError) -> str:
    return {
        413: "Too large",
        415: "Unsupported",
        409: "Duplicate",
    }.get(exc.status_code, "Refused")


class KnowledgeUploadsMixin(rx.State, mixin=True):
    uploads: list[UploadRow] = []
    uploading: bool = False
    watching: bool = False
    batch: int = 0
    max_upload_mb: int = 25

    @rx.event
    def begin_upload(self, files: list[dict]):
        """The browser's list of the chosen files (name, size), before any byte is sent."""
        self._require()  # type: ignore[attr-defined]
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
        self._require()  # type: ignore[attr-defined]
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
        ident = self._require()  # type: ignore[attr-defined]
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
            self._reload_docs(session, ident.tenant_id)  # type: ignore[attr-defined]
        if accepted:
            wake_workers()
        events: list = [rx.clear_selected_files(UPLOAD_ID)]
        if accepted:
            events.append(rx.toast.success(f"{accepted} file(s) uploaded; ingesting now."))
            events.append(type(self).watch_ingestion)  # as an event of KnowledgeState
        if refused:
            events.append(rx.toast.error(f"{refused} file(s) could not be added; see the list."))
        return events

    @rx.event
    def drop_rejected(self, rejected: list[dict]):
        """The browser refused files before sending them (too large, too many)."""
        self._require()  # type: ignore[attr-defined]
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
        self._require()  # type: ignore[attr-defined]
        self.uploads = [u for u in self.uploads if u.stage not in FINISHED]

    @rx.event(background=True)
    async def watch_ingestion(self):
        """Poll this tenant's in-progress documents every second while any is active."""
        await poll_while_active(
            self,
            routes.KNOWLEDGE,
            lambda: (
                (self.search, self._order(), self.page * PAGE_SIZE),  # type: ignore[attr-defined]
                [u.doc_id for u in self.uploads if u.doc_id],
            ),
            lambda tenant_id, args: _snapshot(tenant_id, *args),
            self._apply_snapshot,
        )

    def _apply_snapshot(self, snap: _Snapshot) -> bool:
        self.docs, self.total = snap.rows, snap.total  # type: ignore[attr-defined]
        for upload in self.uploads:
            if upload.doc_id in snap.uploads:
                _upload_stage(upload, snap.uploads[upload.doc_id])
        self.uploads = list(self.uploads)
        return bool(snap.active)
