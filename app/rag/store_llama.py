"""LlamaIndex's vector-store interface over our engine, bound to one tenant at construction."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.schema import (
    BaseNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    FilterCondition,
    FilterOperator,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from app.rag.store_base import VectorStore, require_tenant
from app.rag.types import Chunk, SearchHit

if TYPE_CHECKING:
    pass


log = logging.getLogger("app.rag.store")  # one logger name for the whole store


class TenantVectorStore(BasePydanticVectorStore):
    """One tenant's part of a collection, as a LlamaIndex vector store.

    The tenant is fixed when the object is made and cannot be changed or passed per call:
    every add, query and delete runs through the engine methods above with that tenant,
    which add the tenant filter inside the engine query (and re-check each returned
    point). What callers may narrow further is the document: `MetadataFilters` on
    `document_id` (EQ, IN) and `doc_ids`. A filter on `tenant_id` is accepted only when
    it names this tenant; naming another one matches nothing (it is never an error that
    would tell a probe anything, and it is never widened). Other metadata filters are
    refused with ValueError rather than silently ignored.

    `ref_doc_id` is the ChatConnect document id (the reader makes it every node's source).

    Why not LlamaIndex's `QdrantVectorStore` for the server path: its filters, deletes
    (`delete(ref_doc_id)` filters on `doc_id` alone) and queries take whatever scope the
    caller passes, so the tenant rule would have to be re-added in an override of every
    method; it also has no Qdrant Edge backend, stores nodes in its own payload layout and
    computes sparse vectors with fastembed instead of the Bm25 model both our backends share
    (per-tenant IDF). Wrapping our two engines keeps one tenant-filtered code path for both.
    Query modes: DEFAULT = dense cosine, SPARSE / TEXT_SEARCH = BM25 (IDF over this tenant's
    chunks only), HYBRID = the engine's in-query RRF. The app's retriever fuses dense and
    BM25 itself (weighted, `app.rag.retriever`).
    """

    stores_text: bool = True
    flat_metadata: bool = True
    _engine: VectorStore = PrivateAttr()
    _tenant: str = PrivateAttr()

    def __init__(self, engine: VectorStore, tenant_id: str) -> None:
        super().__init__()
        self._engine = engine
        self._tenant = require_tenant(tenant_id)

    @classmethod
    def class_name(cls) -> str:
        return "ChatConnectTenantVectorStore"

    @property
    def tenant_id(self) -> str:
        return self._tenant

    @property
    def client(self) -> VectorStore:
        """The engine (shared by every tenant's store; its methods all take a tenant)."""
        return self._engine

    @property
    def dim(self) -> int:
        return self._engine.dim

    # ---- writes ---------------------------------------------------------------------

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Upsert embedded chunk nodes; the whole batch is refused if any node is another
        tenant's, lacks an embedding of the right size, or has no document/chunk index."""
        chunks = [self._chunk(node) for node in nodes]
        self._engine.upsert(self._tenant, chunks)
        return [c.id for c in chunks]

    def _chunk(self, node: BaseNode) -> Chunk:
        meta = node.metadata
        owner = meta.get("tenant_id", self._tenant)
        if owner != self._tenant:
            raise ValueError(f"node {node.node_id} belongs to another tenant")
        document_id = meta.get("document_id") or node.ref_doc_id
        index = meta.get("chunk_index")
        if not document_id or not isinstance(index, int):
            raise ValueError(f"node {node.node_id} needs document_id and chunk_index metadata")
        chunk = Chunk(
            tenant_id=self._tenant,
            document_id=str(document_id),
            index=index,
            text=node.get_content(metadata_mode=MetadataMode.NONE),
            title=meta.get("title") or "",
            page=meta.get("page"),
            section=meta.get("section"),
            token_count=int(meta.get("token_count") or 0),
            url=meta.get("url") or None,
            vector=node.get_embedding() if node.embedding is not None else None,
        )
        if isinstance(meta.get("product"), dict):
            chunk.extra["product"] = dict(meta["product"])
        if node.node_id != chunk.id:
            # Point ids are uuid5(tenant, document, chunk): a retry overwrites, never duplicates.
            raise ValueError(f"node id {node.node_id} is not the point id of its chunk")
        return chunk

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete one of this tenant's documents (another tenant's id matches nothing)."""
        self._engine.delete_document(self._tenant, ref_doc_id)

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete this tenant's nodes by id and/or document filter; never "everything"
        by omission (use `clear()` to drop the tenant's whole knowledge base)."""
        if node_ids is None and filters is None:
            raise ValueError("delete_nodes needs node_ids or filters; use clear() for all")
        scope = self._scope(filters, None)
        if scope is _NOTHING:
            return
        if node_ids is not None:
            if scope is not None:
                raise ValueError("delete_nodes: pass node_ids or document filters, not both")
            self._engine.delete_points(self._tenant, node_ids)
            return
        for document_id in scope or []:
            self._engine.delete_document(self._tenant, document_id)

    def clear(self) -> None:
        self._engine.delete_tenant(self._tenant)

    # ---- reads ----------------------------------------------------------------------

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """`score_threshold` (kwarg) keeps hits scoring at least that (cosine or BM25)."""
        scope = self._scope(query.filters, query.doc_ids)
        if scope is _NOTHING:
            return VectorStoreQueryResult(nodes=[], similarities=[], ids=[])
        top_k = query.similarity_top_k
        threshold = kwargs.get("score_threshold")
        mode = query.mode
        if mode == VectorStoreQueryMode.DEFAULT:
            if query.query_embedding is None:
                raise ValueError("a dense query needs query_embedding")
            hits = self._engine.search_dense(
                self._tenant,
                query.query_embedding,
                top_k,
                document_ids=scope,
                score_threshold=threshold,
            )
        elif mode in (VectorStoreQueryMode.SPARSE, VectorStoreQueryMode.TEXT_SEARCH):
            hits = self._engine.search_bm25(
                self._tenant,
                query.query_str or "",
                query.sparse_top_k or top_k,
                document_ids=scope,
                score_threshold=threshold,
            )
        elif mode == VectorStoreQueryMode.HYBRID:
            if query.query_embedding is None:
                raise ValueError("a hybrid query needs query_embedding")
            hits = self._engine.search_hybrid(
                self._tenant,
                query.query_embedding,
                query.query_str or "",
                query.hybrid_top_k or top_k,
                document_ids=scope,
            )
        else:
            raise ValueError(f"query mode {mode.value!r} is not supported")
        return VectorStoreQueryResult(
            nodes=[hit_node(self._tenant, h) for h in hits],
            similarities=[h.score for h in hits],
            ids=[h.id for h in hits],
        )

    def _scope(self, filters: MetadataFilters | None, doc_ids: list[str] | None) -> Any:
        """None (all the tenant's documents), a list of document ids, or _NOTHING."""
        documents: set[str] | None = None if doc_ids is None else set(doc_ids)
        for key, values in _conditions(filters):
            if key == "tenant_id":
                if self._tenant not in values:
                    return _NOTHING
            elif key in ("document_id", "ref_doc_id", "doc_id"):
                documents = set(values) if documents is None else documents & set(values)
            else:
                raise ValueError(f"unsupported filter key {key!r} (document_id, tenant_id)")
        if documents is None:
            return None
        return sorted(documents) if documents else _NOTHING


_NOTHING = object()


def _conditions(filters: MetadataFilters | None) -> list[tuple[str, list[str]]]:
    """AND-ed (key, allowed values) pairs; anything richer is refused, not guessed at."""
    if filters is None:
        return []
    if filters.condition not in (None, FilterCondition.AND) and len(filters.filters) > 1:
        raise ValueError("only AND-ed metadata filters are supported")
    out: list[tuple[str, list[str]]] = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            out.extend(_conditions(f))
            continue
        if f.operator == FilterOperator.EQ:
            values = [f.value]
        elif f.operator == FilterOperator.IN and isinstance(f.value, list):
            values = list(f.value)
        else:
            raise ValueError(f"unsupported filter operator {f.operator.value!r} (==, in)")
        out.append((f.key, [str(v) for v in values]))
    return out


def hit_node(tenant_id: str, hit: SearchHit) -> TextNode:
    """A stored chunk as the shared `TextNode` shape (see the engineers' contract)."""
    from app.rag.readers import HIDDEN_KEYS

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
            "token_count": hit.token_count,
            **({"url": hit.url} if hit.url else {}),
        },
        excluded_embed_metadata_keys=list(HIDDEN_KEYS),
        excluded_llm_metadata_keys=list(HIDDEN_KEYS),
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=hit.document_id)
    return node
