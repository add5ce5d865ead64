"""Knowledge-base use-cases shared by the dashboard and the API: upload, paste, list,
retry, re-index and delete documents. Ingestion itself runs in `app.rag.ingest` workers."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func

from app.db import NotFoundError, TenantScope
from app.models import Document, DocumentStatus, IngestJob, JobStatus, utcnow
from app.rag.ingest import stored_file
from app.rag.parsing import ParseError, detect_kind
from app.services import audit
from app.settings import Settings, get_settings

MAX_TITLE = 300
MAX_PASTED_CHARS = 2_000_000
MAX_FILES_PER_UPLOAD = 20  # one dashboard upload request (app/upload_limit.py caps its size)


class DocumentError(ValueError):
    """A user-facing problem with an upload (maps to 4xx)."""

    status_code = 422


class UploadTooLargeError(DocumentError):
    status_code = 413


class UnsupportedFileError(DocumentError):
    status_code = 415


class DuplicateDocumentError(DocumentError):
    status_code = 409

    def __init__(self, existing: Document) -> None:
        super().__init__(f"This content is already in your knowledge base as “{existing.title}”.")
        self.existing_id = existing.id


@dataclass(frozen=True, slots=True)
class DocumentPage:
    items: list[Document]
    total: int


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _clean_title(title: str | None, fallback: str) -> str:
    value = " ".join((title or "").split()) or fallback
    return value[:MAX_TITLE]


def _enqueue(scope: TenantScope, doc: Document) -> None:
    scope.add(IngestJob(document_id=doc.id))


def create_document(
    session: Session,
    tenant_id: str,
    *,
    filename: str,
    data: bytes,
    title: str | None = None,
    source: str = "upload",
    settings: Settings | None = None,
) -> Document:
    """Validate, store the original and queue ingestion. Raises DocumentError subclasses."""
    settings = settings or get_settings()
    scope = TenantScope(session, tenant_id)
    if len(data) > settings.max_upload_bytes:
        raise UploadTooLargeError(f"The file is larger than the {settings.max_upload_mb} MB limit.")
    if not data:
        raise DocumentError("The file is empty.")
    safe_name = Path(filename or "document").name[:200] or "document"
    try:
        kind = detect_kind(data, safe_name)
    except ParseError as exc:
        raise UnsupportedFileError(str(exc)) from exc
    digest = hashlib.sha256(data).hexdigest()
    existing = session.exec(scope.select(Document).where(Document.content_hash == digest)).first()
    if existing is not None:
        raise DuplicateDocumentError(existing)
    doc = scope.add(
        Document(
            title=_clean_title(title, Path(safe_name).stem or safe_name),
            source=source,
            filename=safe_name,
            kind=kind,
            content_hash=digest,
            size_bytes=len(data),
            step="Waiting for a worker",
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:  # the same content raced in from another request
        session.rollback()
        raise DocumentError("This content is already being added.") from exc
    path = stored_file(settings.files_dir, tenant_id, doc.id)
    _write_atomically(path, data)
    doc.storage_path = str(path.relative_to(settings.files_dir))
    _enqueue(scope, doc)
    return doc


def create_text_document(
    session: Session, tenant_id: str, *, title: str, text: str, settings: Settings | None = None
) -> Document:
    """Pasted text, stored and ingested like a .txt upload (so retry and re-index work)."""
    text = (text or "").strip()
    if not text:
        raise DocumentError("Paste some text first.")
    if len(text) > MAX_PASTED_CHARS:
        raise UploadTooLargeError("Pasted text is limited to 2 million characters.")
    name = _clean_title(title, "Pasted text")
    return create_document(
        session,
        tenant_id,
        filename=f"{name[:80]}.txt",
        data=text.encode("utf-8"),
        title=name,
        source="text",
        settings=settings,
    )


def get_document(session: Session, tenant_id: str, document_id: str) -> Document:
    return TenantScope(session, tenant_id).get(Document, document_id)


SORTABLE_FIELDS = frozenset(
    {"title", "updated_at", "created_at", "size_bytes", "chunk_count", "status", "kind"}
)
IN_PROGRESS = (
    DocumentStatus.queued,
    DocumentStatus.parsing,
    DocumentStatus.chunking,
    DocumentStatus.embedding,
    DocumentStatus.indexing,
)


def list_documents(
    session: Session,
    tenant_id: str,
    *,
    search: str = "",
    status: str | None = None,
    order: str = "-updated_at",
    offset: int = 0,
    limit: int = 25,
) -> DocumentPage:
    scope = TenantScope(session, tenant_id)
    query = scope.select(Document)
    if search:
        needle = search.strip()[:100].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(col(Document.title).ilike(f"%{needle}%", escape="\\"))
    if status:
        query = query.where(Document.status == status)
    total = session.exec(query.with_only_columns(func.count()).order_by(None)).one()
    field = order.lstrip("-")
    column = getattr(Document, field) if field in SORTABLE_FIELDS else Document.updated_at
    if field == "title":  # the same order on SQLite and PostgreSQL, whatever the case
        column = func.lower(Document.title)
    direction = column.desc() if order.startswith("-") else column.asc()
    # The id breaks ties so paging never repeats or skips rows with equal sort values.
    query = query.order_by(direction, col(Document.id).asc())
    items = list(session.exec(query.offset(max(0, offset)).limit(max(1, min(limit, 200)))))
    return DocumentPage(items=items, total=int(total))


def count_in_progress(session: Session, tenant_id: str) -> int:
    """Documents of this tenant still on their way to ready/failed (the page polls while > 0)."""
    query = TenantScope(session, tenant_id).select(Document)
    query = query.where(col(Document.status).in_(IN_PROGRESS))
    return int(session.exec(query.with_only_columns(func.count()).order_by(None)).one())


def documents_by_id(session: Session, tenant_id: str, ids: list[str]) -> list[Document]:
    """This tenant's documents among `ids`; another tenant's ids are simply absent."""
    wanted = [i for i in ids if i][:200]
    if not wanted:
        return []
    scope = TenantScope(session, tenant_id)
    return list(session.exec(scope.select(Document).where(col(Document.id).in_(wanted))))


def requeue(session: Session, tenant_id: str, document_id: str) -> Document:
    """Retry a failed document or re-index a ready one (a new job; old points are replaced)."""
    scope = TenantScope(session, tenant_id)
    doc = scope.get(Document, document_id)
    busy = session.exec(
        scope.select(IngestJob).where(
            IngestJob.document_id == doc.id,
            col(IngestJob.status).in_([JobStatus.queued, JobStatus.running]),
        )
    ).first()
    if busy is not None:
        return doc
    doc.status, doc.progress, doc.error = DocumentStatus.queued, 0, None
    doc.step = "Waiting for a worker"
    doc.updated_at = utcnow()
    session.add(doc)
    _enqueue(scope, doc)
    return doc


def delete_document(
    session: Session,
    tenant_id: str,
    document_id: str,
    *,
    store,  # type: ignore[no-untyped-def]
    settings: Settings | None = None,
    actor: audit.Actor | None = None,
    audited: bool = True,
) -> None:
    """Remove the points, the stored original and the row (its jobs cascade).

    `audited=False` when the deletion is part of a larger one that is audited itself (a
    website's pages go with the website's own event)."""
    settings = settings or get_settings()
    scope = TenantScope(session, tenant_id)
    doc = scope.get(Document, document_id)
    if audited:
        audit.record(
            session,
            tenant_id,
            actor,
            "document.deleted",
            "document",
            doc.id,
            before={"title": doc.title, "filename": doc.filename, "source": doc.source},
        )
    store.delete_document(tenant_id, doc.id)
    stored_file(settings.files_dir, tenant_id, doc.id).unlink(missing_ok=True)
    session.delete(doc)  # its ingest jobs go with it (ON DELETE CASCADE)


__all__ = [
    "DocumentError",
    "DocumentPage",
    "DuplicateDocumentError",
    "NotFoundError",
    "UnsupportedFileError",
    "UploadTooLargeError",
    "count_in_progress",
    "create_document",
    "create_text_document",
    "delete_document",
    "documents_by_id",
    "get_document",
    "list_documents",
    "requeue",
]
