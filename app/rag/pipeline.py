"""What an ingestion job runs: reader -> IngestionPipeline(splitter -> embedding) -> store.

- `SandboxedFileReader` (a LlamaIndex `BaseReader`) parses the upload in the sandboxed
  child and yields one `Document` per section;
- a LlamaIndex `IngestionPipeline` runs `TokenSplitter` (NodeParser) then the embedding
  model (`BaseEmbedding`) over the Documents of a whole group of jobs at once, so small
  documents share full embedding batches;
- each document's nodes are then written to its tenant's `TenantVectorStore` (replacing
  what an earlier attempt or version wrote). The store is not the pipeline's
  `vector_store`: a group may span tenants, and a store is bound to exactly one.

Free of job bookkeeping: `app.rag.ingest` claims jobs, reports progress and retries.
The pipeline's transformation cache is off (re-embedding is avoided by the embedder's own
content-hash cache, which also survives restarts) and LlamaIndex's global `Settings` are
never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode, Document, TransformComponent

from app.rag.readers import SandboxedFileReader
from app.rag.splitter import TokenSplitter
from app.rag.store import TenantVectorStore

NodesCallback = Callable[[Sequence[BaseNode]], None]


class AfterSplit(TransformComponent):
    """Passes nodes through, calling the run's `on_split(nodes)` first: where a job learns
    how many chunks each document has before embedding starts."""

    @classmethod
    def class_name(cls) -> str:
        return "ChatConnectAfterSplit"

    def __call__(
        self, nodes: Sequence[BaseNode], on_split: NodesCallback | None = None, **kwargs: Any
    ) -> Sequence[BaseNode]:
        if on_split is not None:
            on_split(nodes)
        return nodes


def build_ingestion_pipeline(
    embed_model: BaseEmbedding, splitter: TokenSplitter | None = None
) -> IngestionPipeline:
    return IngestionPipeline(
        transformations=[splitter or TokenSplitter(), AfterSplit(), embed_model],
        disable_cache=True,
    )


class DocumentPipeline:
    """The reader, the IngestionPipeline and the store write, for one embedding model."""

    def __init__(
        self,
        reader: SandboxedFileReader,
        embed_model: BaseEmbedding,
        splitter: TokenSplitter | None = None,
    ) -> None:
        self.reader = reader
        self.embed_model = embed_model
        self.pipeline = build_ingestion_pipeline(embed_model, splitter)

    def load(
        self,
        data: bytes,
        filename: str,
        *,
        tenant_id: str,
        document_id: str,
        title: str | None = None,
        url: str | None = None,
    ) -> list[Document]:
        """Parse (sandboxed). `title=None` lets the file's own title win (see readers)."""
        return self.reader.load_data(
            data, filename, tenant_id=tenant_id, document_id=document_id, title=title, url=url
        )

    def transform(
        self,
        documents: list[Document],
        *,
        on_split: NodesCallback | None = None,
        on_progress: Callable[[Sequence[BaseNode], int, int], None] | None = None,
    ) -> list[BaseNode]:
        """Split and embed; the callbacks reach the transformations through `run`'s kwargs."""
        if not documents:
            return []
        return list(
            self.pipeline.run(documents=documents, on_split=on_split, on_progress=on_progress)
        )

    @staticmethod
    def write(store: TenantVectorStore, document_id: str, nodes: Sequence[BaseNode]) -> int:
        """Replace the document's points with `nodes` (ids are deterministic)."""
        store.delete(document_id)
        store.add(nodes)
        return len(nodes)
