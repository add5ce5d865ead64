"""Documents: multipart upload (202, ingested in the background), list, status, delete."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from app.api.v1.deps import MULTIPART_BODY, DocumentsKey, key_actor
from app.api.v1.errors import ApiError, problem_response
from app.api.v1.schemas import (
    DocumentAccepted,
    DocumentOut,
    DocumentPageOut,
    DocumentStatusName,
    Id,
)
from app.db import session_scope
from app.models import Document
from app.services import audit, documents
from app.services.ingestion import wake_workers
from app.services.vectors import get_store
from app.settings import get_settings

router = APIRouter(prefix="/documents", tags=["documents"])

# Multipart framing around the file; the body limit is the file limit plus this.
MULTIPART_OVERHEAD = 64 * 1024


def document_out(doc: Document) -> DocumentOut:
    return DocumentOut.model_validate(doc, from_attributes=True)


def upload_name(filename: str | None, data: bytes) -> str:
    """The name to detect the type by: an extension-less upload of UTF-8 text is plain text
    (curl -F file=@notes sends no extension); anything else keeps its name."""
    name = PurePosixPath((filename or "document").replace("\\", "/")).name or "document"
    if "." not in name:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return name
        return f"{name}.txt"
    return name


def _create(tenant_id: str, filename: str, data: bytes, title: str | None) -> Document:
    with session_scope() as session:
        doc = documents.create_document(
            session, tenant_id, filename=filename, data=data, title=title
        )
        session.flush()
        return doc


@router.post(
    "",
    status_code=202,
    response_model=DocumentAccepted,
    summary="Upload a document (PDF, DOCX, TXT, Markdown, CSV, HTML); ingestion runs after",
    dependencies=[MULTIPART_BODY],
    responses={
        409: problem_response("The same content is already in the knowledge base"),
        413: problem_response("Larger than MAX_UPLOAD_MB"),
        415: problem_response("Not multipart/form-data, or an unsupported file type"),
    },
)
async def upload_document(
    request: Request,
    key: DocumentsKey,
    file: Annotated[
        UploadFile,
        File(description="The document (not empty).", json_schema_extra={"minLength": 1}),
    ],
    title: Annotated[str | None, Form(max_length=300)] = None,
) -> DocumentAccepted:
    settings = get_settings()
    # The body limit already refused anything far larger while it streamed in; the
    # file itself is held to the exact limit here, reading at most one byte past it.
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise ApiError(413, f"The file is larger than the {settings.max_upload_mb} MB limit.")
    doc = await run_in_threadpool(
        _create, key.tenant_id, upload_name(file.filename, data), data, title
    )
    wake_workers()
    return DocumentAccepted(
        id=doc.id,
        status=doc.status,
        status_url=f"{request.scope.get('root_path', '')}/documents/{doc.id}",
    )


def _list(tenant_id: str, **kw: Any) -> DocumentPageOut:
    with session_scope() as session:
        page = documents.list_documents(session, tenant_id, **kw)
        return DocumentPageOut(
            items=[document_out(d) for d in page.items],
            total=page.total,
            offset=kw["offset"],
            limit=kw["limit"],
        )


@router.get("", response_model=DocumentPageOut, summary="List documents, newest first")
async def list_documents(
    key: DocumentsKey,
    status: DocumentStatusName | None = None,
    search: Annotated[str, Query(max_length=100)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 25,
) -> DocumentPageOut:
    return await run_in_threadpool(
        _list,
        key.tenant_id,
        status=status,
        search=search.replace("\x00", ""),
        offset=offset,
        limit=limit,
    )


def _get(tenant_id: str, document_id: str) -> DocumentOut:
    with session_scope() as session:
        return document_out(documents.get_document(session, tenant_id, document_id))


@router.get(
    "/{document_id}",
    response_model=DocumentOut,
    summary="A document's ingestion status, progress and error",
    responses={404: problem_response("No such document in this workspace")},
)
async def get_document(document_id: Id, key: DocumentsKey) -> DocumentOut:
    return await run_in_threadpool(_get, key.tenant_id, document_id)


def _delete(tenant_id: str, document_id: str, actor: audit.Actor) -> None:
    with session_scope() as session:
        documents.delete_document(session, tenant_id, document_id, store=get_store(), actor=actor)


@router.delete(
    "/{document_id}",
    status_code=204,
    summary="Delete a document, its stored file and its indexed passages",
    responses={404: problem_response("No such document in this workspace")},
)
async def delete_document(document_id: Id, key: DocumentsKey, request: Request) -> Response:
    await run_in_threadpool(_delete, key.tenant_id, document_id, key_actor(request, key))
    return Response(status_code=204)
