"""`app.rag.retrieval.Retriever` as a tenant-bound LlamaIndex `BaseRetriever`.

A bridge for the chat workflow, which takes any `Callable[[str], BaseRetriever]`: it returns
`NodeWithScore`s shaped by the shared contract (node id = point id; metadata tenant_id,
document_id, title, page, section, chunk_index; score = the fused hybrid score). The
contract's `token_count` is left out: this store's payload does not keep it, and counting
six chunks again with the tokenizer cost ~5 ms a turn (the workflow does not read it).
`app.rag.retriever.HybridRetriever` (via `app.services.vectors.retriever_for`) replaces this
module once it lands.
"""

from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from app.rag.retrieval import Retriever
from app.rag.store import require_tenant
from app.rag.types import SearchHit

# Metadata that describes where a chunk comes from, not what it says.
BOOKKEEPING_KEYS = ["tenant_id", "document_id", "chunk_index"]


def node_from_hit(tenant_id: str, hit: SearchHit) -> NodeWithScore:
    node = TextNode(
        id_=hit.id,
        text=hit.text,
        metadata={
            "tenant_id": tenant_id,
            "document_id": hit.document_id,
            "title": hit.title,
            "page": hit.page,
            "section": hit.section,
            "chunk_index": hit.chunk_index,
        },
        excluded_embed_metadata_keys=list(BOOKKEEPING_KEYS),
        excluded_llm_metadata_keys=list(BOOKKEEPING_KEYS),
    )
    return NodeWithScore(node=node, score=hit.score)


class SearchHitRetriever(BaseRetriever):
    """Hybrid retrieval for one tenant, bound when made."""

    def __init__(
        self,
        retriever: Retriever,
        tenant_id: str,
        *,
        top_k: int = 6,
        score_threshold: float | None = None,
    ) -> None:
        super().__init__()
        self._retriever = retriever
        self._tenant_id = require_tenant(tenant_id)
        self._top_k = top_k
        self._score_threshold = score_threshold

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._retriever.retrieve(
            self._tenant_id,
            query_bundle.query_str,
            mode="hybrid",
            top_k=self._top_k,
            score_threshold=self._score_threshold,
        )
        return [node_from_hit(self._tenant_id, hit) for hit in hits]
