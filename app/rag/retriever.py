"""Query -> ranked chunks of one tenant, as a LlamaIndex `BaseRetriever`.

`HybridRetriever` asks its tenant-bound store (`app.rag.store.TenantVectorStore`) for dense
(cosine) and BM25 candidates and fuses them here, so both Qdrant backends rank identically:

- "weighted" (default): min-max normalize each candidate list, then alpha*dense +
  (1-alpha)*bm25. Chosen by measurement (`make bench-ingest`, SciFact-mini, tuned on the
  train split): alpha 0.5 gave test nDCG@10 0.846 against 0.803 for RRF k=60, which fell
  below BM25 alone (0.812).
- "rrf": reciprocal rank fusion, score = sum 1 / (k + rank).

Each returned `NodeWithScore` has the fused score as `score` and the raw component scores
in the node metadata: `dense_score` (cosine in [-1, 1], None if the chunk was not among
the dense candidates) and `bm25_score` (None likewise). Both are hidden from embedders and
LLMs (`excluded_*_metadata_keys`).

`score_threshold` is a relevance gate on the cosine: in "dense" mode the hit's score, in
"hybrid" mode its dense component (hits found only by BM25 have no known cosine and are
dropped when a threshold is set); in "bm25" mode the raw BM25 score.

Node postprocessors (LlamaIndex `BaseNodePostprocessor`s: similarity cutoff, metadata
replacement, a reranker...) run on the fused top-k, in order, inside `retrieve`, so every
caller (chat workflow, test retrieval, API) gets the same result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)

from app.rag.store import TenantVectorStore, VectorStore

Mode = Literal["hybrid", "dense", "bm25"]
Fusion = Literal["rrf", "weighted"]

DEFAULT_ALPHA = 0.5
RRF_K = 60
# Each branch fetches this many candidates per requested hit before fusing.
CANDIDATES_FACTOR = 4
MIN_CANDIDATES = 20


def _id(hit: Any) -> str:
    # NodeWithScore (node_id) or the engine's SearchHit (id): the benchmarks fuse both.
    return hit.node_id if isinstance(hit, NodeWithScore) else hit.id


def rrf_fuse(ranked_lists: Sequence[Sequence[Any]], k: int = RRF_K) -> list[tuple[Any, float]]:
    """Reciprocal Rank Fusion: score = sum over lists of 1 / (k + rank), rank from 1.

    Ties (same fused score) keep first-seen order, so the earlier list wins them.
    """
    scores: dict[str, float] = {}
    hits: dict[str, Any] = {}
    for ranked in ranked_lists:
        for rank, hit in enumerate(ranked, start=1):
            scores[_id(hit)] = scores.get(_id(hit), 0.0) + 1.0 / (k + rank)
            hits.setdefault(_id(hit), hit)
    order = sorted(scores, key=lambda pid: scores[pid], reverse=True)  # stable sort
    return [(hits[pid], scores[pid]) for pid in order]


def _min_max(hits: Sequence[Any]) -> dict[str, float]:
    if not hits:
        return {}
    values = [float(h.score or 0.0) for h in hits]
    lo, hi = min(values), max(values)
    if hi - lo <= 1e-12:  # one hit, or all equal: all equally (fully) relevant
        return {_id(h): 1.0 for h in hits}
    return {_id(h): (float(h.score or 0.0) - lo) / (hi - lo) for h in hits}


def weighted_fuse(
    dense: Sequence[Any], bm25: Sequence[Any], alpha: float = DEFAULT_ALPHA
) -> list[tuple[Any, float]]:
    """Convex combination of min-max normalized scores: alpha*dense + (1-alpha)*bm25.

    Each list is normalized over its own candidates; a hit missing from a list gets 0 for
    that component (it ranked below every candidate there).
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError("alpha must be in [0, 1]")
    nd, nb = _min_max(dense), _min_max(bm25)
    hits: dict[str, Any] = {}
    for h in (*dense, *bm25):
        hits.setdefault(_id(h), h)
    scores = {pid: alpha * nd.get(pid, 0.0) + (1 - alpha) * nb.get(pid, 0.0) for pid in hits}
    order = sorted(scores, key=lambda pid: scores[pid], reverse=True)
    return [(hits[pid], scores[pid]) for pid in order]


class HybridRetriever(BaseRetriever):
    """Dense + BM25 retrieval over one tenant's chunks (the store is bound to the tenant).

    `embed_model` embeds the query: anything with `embed_query(str)` (our embedders, the
    services' cached query embedder) or any LlamaIndex `BaseEmbedding`. Its vectors must
    live in the store's collection (same model, same size).
    """

    def __init__(
        self,
        store: TenantVectorStore,
        embed_model: Any,
        *,
        top_k: int = 6,
        mode: Mode = "hybrid",
        fusion: Fusion = "weighted",
        alpha: float = DEFAULT_ALPHA,
        rrf_k: int = RRF_K,
        score_threshold: float | None = None,
        filters: MetadataFilters | None = None,
        node_postprocessors: Sequence[BaseNodePostprocessor] = (),
        callback_manager: CallbackManager | None = None,
    ) -> None:
        if not isinstance(store, TenantVectorStore):
            raise TypeError("HybridRetriever needs a tenant-bound TenantVectorStore")
        if mode not in ("hybrid", "dense", "bm25"):
            raise ValueError(f"unknown mode {mode!r}")
        if fusion not in ("rrf", "weighted"):
            raise ValueError(f"unknown fusion {fusion!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError("alpha must be in [0, 1]")
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            raise ValueError("top_k must be a positive integer")
        dim = getattr(embed_model, "dim", None)
        if isinstance(dim, int) and dim != store.dim:
            raise ValueError(f"embedder dim {dim} != store dim {store.dim}")
        super().__init__(callback_manager=callback_manager)
        self.store = store
        self.embed_model = embed_model
        self.top_k = top_k
        self.mode: Mode = mode
        self.fusion: Fusion = fusion
        self.alpha = alpha
        self.rrf_k = rrf_k
        self.score_threshold = score_threshold
        self.filters = filters
        self.node_postprocessors = list(node_postprocessors)

    @property
    def tenant_id(self) -> str:
        return self.store.tenant_id

    def _embed(self, bundle: QueryBundle) -> list[float]:
        if bundle.embedding is not None:
            return list(bundle.embedding)
        model = self.embed_model
        if hasattr(model, "embed_query"):
            return list(model.embed_query(bundle.query_str))
        return list(model.get_query_embedding(bundle.query_str))

    def _query(self, score_threshold: float | None = None, **kwargs: Any) -> list[NodeWithScore]:
        result = self.store.query(
            VectorStoreQuery(filters=self.filters, **kwargs), score_threshold=score_threshold
        )
        return [
            NodeWithScore(node=n, score=s)
            for n, s in zip(result.nodes or [], result.similarities or [], strict=True)
        ]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if not query.strip():
            return []
        if self.mode == "dense":
            hits = self._dense(query_bundle, self.top_k, self.score_threshold)
            for h in hits:
                h.node.metadata.update(dense_score=h.score, bm25_score=None)
        elif self.mode == "bm25":
            hits = self._bm25(query, self.top_k, self.score_threshold)
            for h in hits:
                h.node.metadata.update(dense_score=None, bm25_score=h.score)
        else:
            hits = self._hybrid(query_bundle)
        for postprocessor in self.node_postprocessors:
            hits = postprocessor.postprocess_nodes(hits, query_bundle=query_bundle)
        return hits

    def _dense(
        self, bundle: QueryBundle, k: int, threshold: float | None = None
    ) -> list[NodeWithScore]:
        return self._query(
            query_embedding=self._embed(bundle),
            similarity_top_k=k,
            mode=VectorStoreQueryMode.DEFAULT,
            score_threshold=threshold,
        )

    def _bm25(self, query: str, k: int, threshold: float | None = None) -> list[NodeWithScore]:
        return self._query(
            query_str=query,
            similarity_top_k=k,
            mode=VectorStoreQueryMode.SPARSE,
            score_threshold=threshold,
        )

    def _hybrid(self, bundle: QueryBundle) -> list[NodeWithScore]:
        pool = max(self.top_k * CANDIDATES_FACTOR, MIN_CANDIDATES)
        dense = self._dense(bundle, pool)
        sparse = self._bm25(bundle.query_str, pool)
        if self.fusion == "rrf":
            fused = rrf_fuse([dense, sparse], k=self.rrf_k)
        else:
            fused = weighted_fuse(dense, sparse, self.alpha)
        cosine = {h.node_id: h.score for h in dense}
        bm25 = {h.node_id: h.score for h in sparse}
        if self.score_threshold is not None:
            gate = self.score_threshold
            fused = [(h, s) for h, s in fused if cosine.get(h.node_id, float("-inf")) >= gate]
        out = []
        for hit, score in fused[: self.top_k]:
            hit.node.metadata.update(
                dense_score=cosine.get(hit.node_id), bm25_score=bm25.get(hit.node_id)
            )
            out.append(NodeWithScore(node=hit.node, score=score))
        return out


def retriever_factory(
    engine: VectorStore, embed_model: Any, **options: Any
) -> Callable[..., HybridRetriever]:
    """`retriever_for(tenant_id, *, top_k=6)` over one engine: each call binds a store to
    the tenant (cheap; the engine is shared). `options` go to every HybridRetriever."""

    def retriever_for(tenant_id: str, *, top_k: int = 6) -> HybridRetriever:
        return HybridRetriever(
            TenantVectorStore(engine, tenant_id), embed_model, top_k=top_k, **options
        )

    return retriever_for


# ---- postprocessors by configuration ------------------------------------------------------


def _similarity_cutoff(arg: str) -> BaseNodePostprocessor:
    from llama_index.core.postprocessor import SimilarityPostprocessor

    return SimilarityPostprocessor(similarity_cutoff=float(arg))


def _metadata_replacement(arg: str) -> BaseNodePostprocessor:
    from llama_index.core.postprocessor import MetadataReplacementPostProcessor

    return MetadataReplacementPostProcessor(target_metadata_key=arg or "window")


def _long_context_reorder(arg: str) -> BaseNodePostprocessor:
    from llama_index.core.postprocessor import LongContextReorder

    return LongContextReorder()


POSTPROCESSORS = {
    "similarity_cutoff": _similarity_cutoff,
    "metadata_replacement": _metadata_replacement,
    "long_context_reorder": _long_context_reorder,
}


def build_postprocessors(spec: str) -> list[BaseNodePostprocessor]:
    """Postprocessors from a setting such as "similarity_cutoff:0.3,long_context_reorder".

    Each comma-separated item is a name from POSTPROCESSORS with an optional ":argument",
    or the dotted path of any `BaseNodePostprocessor` class built without arguments
    ("my_package.rerank.MyReranker"). Raises ValueError on anything else, at start-up.
    """
    out: list[BaseNodePostprocessor] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        name, _, arg = item.partition(":")
        name = name.strip()
        if name in POSTPROCESSORS:
            try:
                out.append(POSTPROCESSORS[name](arg.strip()))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"RETRIEVAL_POSTPROCESSORS: bad argument in {item!r}") from exc
            continue
        module, _, cls_name = name.rpartition(".")
        if not module:
            known = ", ".join(sorted(POSTPROCESSORS))
            raise ValueError(f"RETRIEVAL_POSTPROCESSORS: unknown {name!r} (known: {known})")
        import importlib

        cls = getattr(importlib.import_module(module), cls_name, None)
        if not (isinstance(cls, type) and issubclass(cls, BaseNodePostprocessor)):
            raise ValueError(f"RETRIEVAL_POSTPROCESSORS: {name!r} is not a node postprocessor")
        out.append(cls())
    return out
