"""The ingestion stages between parsing and indexing, free of job bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator

from app.rag.chunking import chunk_document
from app.rag.embedding import BaseEmbedder, Embedder
from app.rag.types import Chunk, ParsedDocument


def chunk_parsed(
    parsed: ParsedDocument, *, tenant_id: str, document_id: str, title: str
) -> list[Chunk]:
    return chunk_document(
        parsed, tenant_id=tenant_id, document_id=document_id, title=title or parsed.title or ""
    )


def embed_chunks(chunks: list[Chunk], embedder: Embedder, *, batch_size: int = 64) -> Iterator[int]:
    """Fill `chunk.vector` batch by batch, yielding how many chunks are done."""
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        texts = [c.text for c in batch]
        if isinstance(embedder, BaseEmbedder):
            vectors = embedder.embed_array(texts).tolist()
        else:
            vectors = embedder.embed_texts(texts)
        for chunk, vector in zip(batch, vectors, strict=True):
            chunk.vector = vector
        yield start + len(batch)
