"""The token-exact chunker (`app.rag.chunking`) as a LlamaIndex `NodeParser`.

Input: section `Document`s/nodes carrying `tenant_id`, `document_id`, `title`, `page` and
`section` metadata (what `app.rag.readers` produces), in document order. Output: one
`TextNode` per chunk, never longer than the embedder's window counted with its own
tokenizer (zero truncation), with the same overlap as before, heading-only sections merged
into the text that follows them, and the node id = the deterministic point id
uuid5(tenant, document, chunk index), so a re-run overwrites instead of duplicating.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.node_parser import NodeParser
from llama_index.core.schema import BaseNode, NodeRelationship, TextNode
from pydantic import Field

from app.rag.chunking import (
    DEFAULT_MAX_CHARS,
    DEFAULT_OVERLAP,
    MAX_SEQ_LENGTH,
    chunk_document,
    get_tokenizer,
)
from app.rag.readers import HIDDEN_KEYS, parsed_from_documents
from app.rag.types import Chunk


def chunk_node(chunk: Chunk, source: BaseNode | None = None) -> TextNode:
    """A chunk as the `TextNode` the store, retriever and answerers share (see contract)."""
    node = TextNode(
        id_=chunk.id,
        text=chunk.text,
        metadata={
            "tenant_id": chunk.tenant_id,
            "document_id": chunk.document_id,
            "title": chunk.title,
            "page": chunk.page,
            "section": chunk.section,
            "chunk_index": chunk.index,
            "token_count": chunk.token_count,
        },
        excluded_embed_metadata_keys=list(HIDDEN_KEYS),
        excluded_llm_metadata_keys=list(HIDDEN_KEYS),
    )
    if source is not None and source.metadata.get("url"):
        node.metadata["url"] = source.metadata["url"]
    if source is not None:
        node.relationships[NodeRelationship.SOURCE] = source.as_related_node_info()
    return node


class TokenSplitter(NodeParser):
    """Chunks of at most `max_tokens` word-pieces (special tokens included), exact."""

    max_tokens: int = Field(default=MAX_SEQ_LENGTH, gt=16)
    overlap: float = Field(default=DEFAULT_OVERLAP, ge=0, le=0.3)
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, gt=0)
    tokenizer_path: str | None = Field(
        default=None, description="tokenizer.json of the embedder (default: the local model's)."
    )
    # Our chunks overlap and carry their own order (chunk_index): no prev/next links.
    include_prev_next_rel: bool = False

    @classmethod
    def class_name(cls) -> str:
        return "ChatConnectTokenSplitter"

    def _parse_nodes(
        self, nodes: Sequence[BaseNode], show_progress: bool = False, **kwargs: Any
    ) -> list[BaseNode]:
        tokenizer = get_tokenizer(self.tokenizer_path)
        out: list[BaseNode] = []
        for (tenant_id, document_id), group in _by_document(nodes):
            parsed = parsed_from_documents(group)  # type: ignore[arg-type]
            chunks = chunk_document(
                parsed,
                tenant_id=tenant_id,
                document_id=document_id,
                title=parsed.title or "",
                tokenizer=tokenizer,
                max_tokens=self.max_tokens,
                overlap=self.overlap,
                max_chars=self.max_chars,
            )
            out.extend(chunk_node(c, group[c.extra["section_index"]]) for c in chunks)
        return out


def _by_document(nodes: Sequence[BaseNode]) -> list[tuple[tuple[str, str], list[BaseNode]]]:
    """Consecutive runs of nodes of one (tenant, document), in input order."""
    groups: list[tuple[tuple[str, str], list[BaseNode]]] = []
    for node in nodes:
        key = (
            str(node.metadata.get("tenant_id") or ""),
            str(node.metadata.get("document_id") or ""),
        )
        if not key[0] or not key[1]:
            raise ValueError("TokenSplitter needs tenant_id and document_id metadata on every node")
        if groups and groups[-1][0] == key:
            groups[-1][1].append(node)
        else:
            groups.append((key, [node]))
    return groups
