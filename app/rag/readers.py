"""Uploads as LlamaIndex `Document`s: the sandboxed parser behind the `BaseReader` interface.

`SandboxedFileReader.load_data` validates and parses in the resource-limited child process
(`app.rag.parsing.parse_file` -> `app.rag.sandbox`), then yields one `Document` per parsed
section (a PDF page, a Markdown/DOCX/HTML section, a group of CSV rows) with its `page` and
`section` in the metadata. Every section `Document` points at the ChatConnect document id
as its source, so the nodes split from it have `ref_doc_id` == that id.

Any other LlamaIndex/LlamaHub reader can feed the same pipeline, as long as its Documents
carry the metadata `documents_for` sets (see the README's "How knowledge and answers work").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from llama_index.core.readers.base import BaseReader
from llama_index.core.schema import Document, NodeRelationship, RelatedNodeInfo

from app.rag.parsing import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, parse_file
from app.rag.types import ParsedDocument, Section

# Metadata that identifies, never describes: kept out of what embedders and LLMs see.
ID_KEYS = ("tenant_id", "document_id", "chunk_index", "token_count", "kind", "url")
SCORE_KEYS = ("dense_score", "bm25_score")
HIDDEN_KEYS = [*ID_KEYS, *SCORE_KEYS]


def section_document_id(document_id: str, index: int) -> str:
    return f"{document_id}#section-{index}"


def documents_for(
    parsed: ParsedDocument,
    *,
    tenant_id: str,
    document_id: str,
    title: str | None = None,
    url: str | None = None,
) -> list[Document]:
    """One LlamaIndex `Document` per section, in order, sourced from `document_id`."""
    title = title or parsed.title or ""
    docs = []
    for i, section in enumerate(parsed.sections):
        doc = Document(
            id_=section_document_id(document_id, i),
            text=section.text,
            metadata={
                "tenant_id": tenant_id,
                "document_id": document_id,
                "title": title,
                "page": section.page,
                "section": section.section,
                "kind": parsed.kind,
                **({"url": url} if url else {}),
            },
            excluded_embed_metadata_keys=list(HIDDEN_KEYS),
            excluded_llm_metadata_keys=list(HIDDEN_KEYS),
        )
        doc.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=document_id)
        docs.append(doc)
    return docs


def parsed_from_documents(documents: Sequence[Document]) -> ParsedDocument:
    """The sections back from a reader's Documents (the splitter works on sections)."""
    kinds = {d.metadata.get("kind") for d in documents}
    return ParsedDocument(
        kind=kinds.pop() if len(kinds) == 1 and None not in kinds else "text",
        sections=[
            Section(
                text=d.text,
                page=_int_or_none(d.metadata.get("page")),
                section=d.metadata.get("section") or None,
            )
            for d in documents
        ],
        title=next((d.metadata.get("title") for d in documents if d.metadata.get("title")), None),
    )


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class SandboxedFileReader(BaseReader):
    """Bytes of an upload -> section `Document`s, parsed in a resource-limited child."""

    def __init__(
        self,
        *,
        max_bytes: int,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        memory_mb: int = DEFAULT_MEMORY_MB,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb

    def parse(self, data: bytes, filename: str) -> ParsedDocument:
        """Raises `app.rag.parsing.ParseError` with a message fit for the owner."""
        return parse_file(
            data,
            filename,
            max_bytes=self.max_bytes,
            timeout_s=self.timeout_s,
            memory_mb=self.memory_mb,
        )

    def lazy_load_data(  # type: ignore[override]
        self,
        data: bytes,
        filename: str,
        *,
        tenant_id: str,
        document_id: str,
        title: str | None = None,
        url: str | None = None,
    ) -> Iterable[Document]:
        parsed = self.parse(data, filename)
        yield from documents_for(
            parsed, tenant_id=tenant_id, document_id=document_id, title=title, url=url
        )

    def load_data(  # type: ignore[override]
        self,
        data: bytes,
        filename: str,
        *,
        tenant_id: str,
        document_id: str,
        title: str | None = None,
        url: str | None = None,
    ) -> list[Document]:
        return list(
            self.lazy_load_data(
                data, filename, tenant_id=tenant_id, document_id=document_id, title=title, url=url
            )
        )
