"""Plain data passed between the stages of `app.rag` (parse -> chunk -> embed -> store -> retrieve).

Kept free of LlamaIndex and Qdrant types so every stage can be tested on its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

# Namespace for deterministic point ids: uuid5(NS, f"{tenant}/{document}/{index}").
POINT_NAMESPACE = uuid.UUID("6f1c3d2e-9a51-4d5e-9b7a-1c0de5c0ffee")


def point_id(tenant_id: str, document_id: str, chunk_index: int) -> str:
    """Deterministic id so a retried ingestion overwrites instead of duplicating."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{tenant_id}/{document_id}/{chunk_index}"))


@dataclass(slots=True)
class Section:
    """A piece of a parsed file: one PDF page, one Markdown/DOCX section, a CSV row group."""

    text: str
    page: int | None = None
    section: str | None = None


@dataclass(slots=True)
class ParsedDocument:
    """The result of parsing one upload."""

    kind: str  # pdf | docx | txt | md | csv | html | text
    sections: list[Section]
    title: str | None = None

    @property
    def char_count(self) -> int:
        return sum(len(s.text) for s in self.sections)


@dataclass(slots=True)
class Chunk:
    """A piece of text sized for the embedder, with where it came from."""

    tenant_id: str
    document_id: str
    index: int
    text: str
    title: str = ""
    page: int | None = None
    section: str | None = None
    token_count: int = 0
    vector: list[float] | None = None
    url: str | None = None  # the web page a crawled chunk came from
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return point_id(self.tenant_id, self.document_id, self.index)


@dataclass(slots=True)
class SearchHit:
    """One retrieved chunk."""

    id: str
    score: float
    text: str
    document_id: str
    title: str
    page: int | None
    section: str | None
    chunk_index: int
    token_count: int = 0
    url: str | None = None
