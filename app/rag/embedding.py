"""Text -> normalized vectors as LlamaIndex embedding models: local all-MiniLM-L6-v2 or OpenAI.

- `BaseEmbedder`: a LlamaIndex `BaseEmbedding` (so it plugs into an `IngestionPipeline`, a
  retriever or anything else LlamaIndex) plus the numpy helpers the rest of `app.rag` uses
  (`embed_array`, `embed_texts`, `embed_query`; vectors are L2-normalized, so the dot
  product is the cosine). As a pipeline transformation it embeds the node text verbatim
  (`MetadataMode.NONE`): LlamaIndex's usual EMBED mode prepends "key: value" metadata
  lines, which the splitter did not budget for and which would push chunks past the
  model's 256 word-pieces (silently truncated).
- `LocalEmbedder`: the packaged all-MiniLM-L6-v2 on CPU via sentence-transformers; the
  model is loaded once per process and shared by every instance.
- `OpenAIEmbedder`: LlamaIndex's `OpenAIEmbedding` (official SDK) against OpenAI or any
  compatible `/v1/embeddings`, with inputs sent verbatim, results ordered by index and
  normalized, and any model name accepted (compatible servers).
- `CachedEmbedder` + `SQLiteEmbeddingCache` (in `app.rag.embedding_cache`): vectors keyed
  by (model_name, sha256(text)), so re-ingesting unchanged content embeds nothing.
Models are passed explicitly; LlamaIndex's global `Settings` are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.embeddings.openai import OpenAIEmbedding
from pydantic import Field, PrivateAttr

from app.rag.chunking import LOCAL_MODEL_NAME, MAX_SEQ_LENGTH, local_model_path
from app.rag.embedding_trace import traced_encoder

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from app.settings import Settings

log = logging.getLogger(__name__)

# bf16 autocast: measured by bench/embedding_bf16.py (bench/results/embedding_bf16.json)
# on this machine (Xeon with AMX/AVX512-BF16). Kept on by default because the min cosine to
# fp32 over 500 real chunks stayed >= 0.9999; "auto" limits it to CPUs with native bf16,
# since elsewhere autocast runs through emulation (not measured here, so not assumed).
DEFAULT_BF16: bool | None = None  # None = auto
DEFAULT_LOCAL_BATCH_SIZE = 32
# Texts per step when the embedder runs as a pipeline transformation: each step reports
# progress, so the document's progress bar moves while it embeds.
PIPELINE_BATCH = 64
OPENAI_DIMS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# Called with (the nodes just embedded, nodes embedded so far, total) after each step.
ProgressCallback = Callable[[Sequence[BaseNode], int, int], None]


@runtime_checkable
class Embedder(Protocol):
    """What retrieval and ingestion need from an embedding model."""

    model_name: str

    @property
    def dim(self) -> int: ...

    def embed_texts(self, texts: list[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


def _normalize(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class BaseEmbedder(BaseEmbedding):
    """A LlamaIndex embedding model implemented on top of one method, `embed_array`.

    Subclasses implement `embed_array` and `dim`; LlamaIndex's hooks (`_get_*_embedding`)
    and the app's helpers all route through it.
    """

    metadata_mode: MetadataMode = Field(
        default=MetadataMode.NONE, description="What of a node is embedded (text only)."
    )

    @property
    def dim(self) -> int:
        raise NotImplementedError

    @property
    def vector_space(self) -> str:
        """Names the space its vectors live in: (this, dim) picks the store collection."""
        return self.model_name

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalized, in input order."""
        raise NotImplementedError

    async def aembed_array(self, texts: Sequence[str]) -> np.ndarray:
        # CPU-bound by default: off the event loop.
        return await asyncio.to_thread(self.embed_array, texts)

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist() if texts else []

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()

    async def aembed_texts(self, texts: list[str]) -> list[list[float]]:
        return (await self.aembed_array(texts)).tolist() if texts else []

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_array([text]))[0].tolist()

    # ---- LlamaIndex hooks ---------------------------------------------------------------

    def _get_query_embedding(self, query: str) -> list[float]:
        return self.embed_query(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await self.aembed_query(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self.embed_texts([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self.embed_texts(list(texts))

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self.aembed_texts([text]))[0]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self.aembed_texts(list(texts))

    # ---- as an IngestionPipeline transformation ------------------------------------------

    def __call__(
        self,
        nodes: Sequence[BaseNode],
        on_progress: ProgressCallback | None = None,
        **kwargs: Any,
    ) -> Sequence[BaseNode]:
        """Embed each node's text (no metadata), PIPELINE_BATCH at a time.

        `on_progress(batch, done, total)` runs after each step (IngestionPipeline.run passes its
        keyword arguments on to every transformation).
        """
        texts = [node.get_content(metadata_mode=self.metadata_mode) for node in nodes]
        for start in range(0, len(texts), PIPELINE_BATCH):
            batch = texts[start : start + PIPELINE_BATCH]
            vectors = self.get_text_embedding_batch(batch)
            done = nodes[start : start + PIPELINE_BATCH]
            for node, vector in zip(done, vectors, strict=True):
                node.embedding = vector
            if on_progress is not None:
                on_progress(done, start + len(batch), len(texts))
        return nodes

    async def acall(
        self,
        nodes: Sequence[BaseNode],
        on_progress: ProgressCallback | None = None,
        **kwargs: Any,
    ) -> Sequence[BaseNode]:
        texts = [node.get_content(metadata_mode=self.metadata_mode) for node in nodes]
        vectors = await self.aget_text_embedding_batch(texts)
        for node, vector in zip(nodes, vectors, strict=True):
            node.embedding = vector
        if on_progress is not None:
            on_progress(nodes, len(texts), len(texts))
        return nodes


# ---- local model ---------------------------------------------------------------------


@lru_cache(maxsize=4)
def _load_sentence_transformer(path: str, device: str) -> SentenceTransformer:
    from sentence_transformers import SentenceTransformer

    # Packaged weights from a local directory: never reach for the Hub.
    model = SentenceTransformer(path, device=device, local_files_only=True)
    model.eval()
    return model


# One lock per loaded model: the HF fast tokenizer inside `encode` is not safe to call from
# two threads at once ("Already borrowed"). Held per batch, not per call, so a chat query
# waits for at most one ingestion batch.
_MODEL_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_MODEL_LOCKS_GUARD = threading.Lock()


def _model_lock(key: tuple[str, str]) -> threading.Lock:
    with _MODEL_LOCKS_GUARD:
        return _MODEL_LOCKS.setdefault(key, threading.Lock())


@lru_cache(maxsize=8)
def _config_dim(path: str) -> int | None:
    import json

    try:
        modules = json.loads((Path(path) / "modules.json").read_text())
        config = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    plain = {"Transformer", "Pooling", "Normalize"}
    if any(m.get("type", "").rsplit(".", 1)[-1] not in plain for m in modules):
        return None  # a Dense layer (or anything else) may change the size
    size = config.get("hidden_size")
    return size if isinstance(size, int) else None


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 or AMX)."""
    try:
        import torch

        cpu: Any = torch.cpu
        return bool(cpu._is_avx512_bf16_supported() or cpu._is_amx_tile_supported())
    except (AttributeError, RuntimeError):  # private API: fall back to the kernel's flags
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
        return "avx512_bf16" in flags or "amx_bf16" in flags


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with n intra-op threads, then restore.

    With PyTorch's OpenMP backend the setting belongs to the calling thread, so an
    ingestion worker can run on 1 thread while chat queries in other threads keep all cores.
    """
    import torch

    if not n:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class LocalEmbedder(BaseEmbedder):
    """all-MiniLM-L6-v2 on CPU (384 dims, 256 word-pieces max; see app.rag.chunking)."""

    model_path: str = Field(description="Directory of the sentence-transformers model.")
    batch_size: int = Field(default=DEFAULT_LOCAL_BATCH_SIZE, gt=0)
    bf16: bool = Field(default=False, description="bf16 autocast on CPU.")
    torch_threads: int | None = Field(default=None, description="Intra-op threads per call.")
    traced: bool = Field(
        default=False, description="Forward pass as one TorchScript call (chat queries)."
    )
    device: str = "cpu"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        model_name: str = LOCAL_MODEL_NAME,
        batch_size: int = DEFAULT_LOCAL_BATCH_SIZE,
        bf16: bool | None = DEFAULT_BF16,
        torch_threads: int | None = None,
        traced: bool = False,
        device: str = "cpu",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            model_path=str(model_path or local_model_path()),
            model_name=model_name,
            batch_size=batch_size,
            bf16=native_bf16() if bf16 is None else bf16,
            torch_threads=torch_threads,
            traced=traced,
            device=device,
            embed_batch_size=kwargs.pop("embed_batch_size", PIPELINE_BATCH),
            **kwargs,
        )

    @classmethod
    def class_name(cls) -> str:
        return "ChatConnectLocalEmbedding"

    @property
    def model(self) -> SentenceTransformer:
        """The shared, loaded-once model (first access loads it: a few seconds)."""
        model = _load_sentence_transformer(self.model_path, self.device)
        if model.max_seq_length < MAX_SEQ_LENGTH:
            # Chunks are sized for MAX_SEQ_LENGTH: a shorter window would truncate them.
            log.warning(
                "model window %d < chunk budget %d: chunks will be truncated",
                model.max_seq_length,
                MAX_SEQ_LENGTH,
            )
        return model

    @property
    def dim(self) -> int:
        # From the model's config when it is a plain Transformer + Pooling (+ Normalize)
        # stack, so opening the vector store does not have to load the weights.
        known = _config_dim(self.model_path)
        return known if known is not None else int(self.model.get_embedding_dimension())

    def warmup(self) -> None:
        self.embed_array(["warm up"])

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        model = self.model
        dim = int(model.get_embedding_dimension())
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        # Longest first, so each batch pads to similar lengths (attention cost grows with the
        # padded length); results are put back in input order.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.empty((len(texts), dim), dtype=np.float32)
        lock = _model_lock((self.model_path, self.device))
        encoder = traced_encoder(self.model_path, self.device) if self.traced else None
        autocast = (
            torch.autocast("cpu", dtype=torch.bfloat16)
            if self.bf16 and self.device == "cpu" and encoder is None
            else contextlib.nullcontext()
        )
        with _torch_threads(self.torch_threads), autocast:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                # Only tokenizing needs the lock (the fast tokenizer is not thread-safe); the
                # forward pass runs outside it, so a chat query never waits for an ingestion
                # batch to finish computing (it waited ~1.5 s per batch when the lock covered
                # encode()). Same steps as SentenceTransformer.encode, split in two.
                with lock:
                    features = model.preprocess([texts[i] for i in idx])
                if encoder is not None:  # app/rag/embedding_trace.py: one GIL release
                    out[idx] = encoder(features)
                    continue
                with torch.inference_mode():
                    embeddings = model.forward(features)["sentence_embedding"]
                out[idx] = embeddings.float().cpu().numpy()
        # Normalize in float32 after any bf16 compute.
        return _normalize(out)


# ---- OpenAI --------------------------------------------------------------------------


class OpenAIEmbedder(BaseEmbedder, OpenAIEmbedding):
    """LlamaIndex's `OpenAIEmbedding` (official SDK), for OpenAI or any `/v1/embeddings` server.

    What the subclass changes: any model name is accepted (Ollama's "nomic-embed-text"...),
    texts go out verbatim (the parent replaces newlines) with "" sent as " " (the API
    refuses empty strings), results are put in `index` order and L2-normalized, batches
    run `concurrency` at a time on the async path, and `model_name` names the vector space
    ("model@dimensions" when shortened: a shortened vector is a different vector).
    """

    concurrency: int = Field(default=4, gt=0)
    _dim: int | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = "text-embedding-3-small",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        dimensions: int | None = None,
        batch_size: int = 256,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 3,
        **kwargs: Any,
    ) -> None:
        OpenAIEmbedding.__init__(
            self,
            model_name=model,  # the parent then sends exactly this name
            # Compatible servers (Ollama, vLLM) often need no key, but the SDK requires one.
            api_key=api_key or "not-needed",
            api_base=base_url,
            dimensions=dimensions,
            embed_batch_size=min(batch_size, 2048),  # API limit per request
            timeout=timeout,
            max_retries=max_retries,  # the SDK's own retries, with backoff
            concurrency=concurrency,
            **kwargs,
        )
        if dimensions is not None:
            self.model_name = f"{model}@{dimensions}"
        self._dim = dimensions or OPENAI_DIMS.get(model)

    @classmethod
    def class_name(cls) -> str:
        return "ChatConnectOpenAIEmbedding"

    @property
    def dim(self) -> int:
        if self._dim is None:  # unknown model on a compatible server: ask it once
            self._dim = int(self.embed_array(["dimension probe"]).shape[1])
        return self._dim

    def _request(self, batch: Sequence[str]) -> dict[str, Any]:
        # Float encoding is what compatible servers support.
        return {
            "model": self._text_engine,
            "input": [t if t.strip() else " " for t in batch],
            "encoding_format": "float",
            **self.additional_kwargs,  # carries `dimensions`
        }

    def _parse(self, response: Any, n: int) -> np.ndarray:
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != n:
            raise RuntimeError(f"embedding server returned {len(data)} vectors for {n} inputs")
        vectors = _normalize(np.array([d.embedding for d in data], dtype=np.float32))
        if self._dim is None:
            self._dim = vectors.shape[1]
        return vectors

    def _batches(self, texts: Sequence[str]) -> list[Sequence[str]]:
        size = self.embed_batch_size
        return [texts[i : i + size] for i in range(0, len(texts), size)]

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        client = self._get_client()
        return np.concatenate(
            [
                self._parse(client.embeddings.create(**self._request(b)), len(b))
                for b in self._batches(texts)
            ]
        )

    async def aembed_array(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        gate = asyncio.Semaphore(self.concurrency)
        aclient = self._get_aclient()

        async def one(batch: Sequence[str]) -> np.ndarray:
            async with gate:
                response = await aclient.embeddings.create(**self._request(batch))
            return self._parse(response, len(batch))

        return np.concatenate(await asyncio.gather(*(one(b) for b in self._batches(texts))))


# ---- selection -----------------------------------------------------------------------

_EMBEDDERS: dict[tuple[Any, ...], BaseEmbedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def get_embedder(
    settings: Settings | None = None,
    *,
    cached: bool = True,
    torch_threads: int | None = None,
    traced: bool = False,
) -> BaseEmbedder:
    """The configured embedder, one instance per configuration per process.

    `cached` wraps it in the SQLite cache under DATA_DIR; `torch_threads` (local model only)
    lets ingestion use fewer cores than chat; `traced` (local model only) runs the forward
    pass as one TorchScript call, for chat queries (app/rag/embedding_trace.py).
    """
    if settings is None:
        from app.settings import get_settings

        settings = get_settings()
    key_secret = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    config = (
        settings.embedding_provider,
        settings.openai_embedding_model,
        settings.openai_base_url,
        hashlib.sha256(key_secret.encode()).hexdigest(),
        str(Path(settings.data_dir).resolve()),
        cached,
        torch_threads,
        traced,
    )
    from app.rag.embedding_cache import CachedEmbedder, SQLiteEmbeddingCache  # imports this

    with _EMBEDDERS_LOCK:
        if config in _EMBEDDERS:
            return _EMBEDDERS[config]
        inner: BaseEmbedder
        if settings.embedding_provider == "openai":
            if not key_secret and not settings.openai_base_url:
                raise ValueError(
                    "EMBEDDING_PROVIDER=openai needs OPENAI_API_KEY (or OPENAI_BASE_URL for a "
                    "compatible server that takes no key)."
                )
            inner = OpenAIEmbedder(
                settings.openai_embedding_model,
                api_key=key_secret or None,
                base_url=settings.openai_base_url,
            )
        else:
            inner = LocalEmbedder(torch_threads=torch_threads, traced=traced)
        embedder: BaseEmbedder = (
            CachedEmbedder(inner, SQLiteEmbeddingCache.for_settings(settings)) if cached else inner
        )
        _EMBEDDERS[config] = embedder
        return embedder
