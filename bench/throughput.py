"""Part 1: ingestion throughput and truncation.

- OUR pipeline, per document, the way `JobRunner` runs it: documents in claim groups of up
  to `GROUP_MAX` small ones, each parsed into section Documents, the group run through the
  LlamaIndex IngestionPipeline (TokenSplitter -> LocalEmbedder, uncached, batches of
  `PIPELINE_BATCH`), then each document's old points deleted and its nodes added through the
  tenant-bound TenantVectorStore;
- the previous direct path on the same documents (chunk_document -> embed_array in batches
  of `EMBED_BATCH` -> EdgeStore upsert, no LlamaIndex objects): `pipeline_overhead_ratio`
  = direct seconds / pipeline seconds (>= 0.95: the pipeline costs at most ~5% more);
- batched across documents (a slice's chunks embedded as one stream, upserts of 256).
  Parsing is `parse_text` in-process here; the sandboxed `parse_file` path (one child process
  per document) is exercised by part 4 (bench.concurrency), which runs the real JobRunner.
- raw `SentenceTransformer.encode` of the same chunk texts: same loaded model, same thread
  count, same batch size, same precision (bf16 autocast when LocalEmbedder uses it).
- plain LlamaIndex: `VectorStoreIndex.from_documents` with its default splitter
  (SentenceSplitter, 1024 tiktoken tokens, overlap 200), with HuggingFaceEmbedding (plain
  defaults: fp32, embed_batch_size 10) and with our LocalEmbedder (a BaseEmbedding).
Speeds are compared per embedded word-piece (what the model actually reads, <= 256 per input);
truncation is measured with the model tokenizer, special tokens included.

Why per document and batched: SciFact abstracts give ~1.9 chunks per document; embedded one
document at a time that is batches of 1-3 inputs, which CPU inference runs at about half the
speed of full batches (0.267x raw measured before JobRunner grouped small documents).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.rag.chunking import MAX_SEQ_LENGTH, chunk_document, get_tokenizer
from app.rag.embedding import LocalEmbedder
from app.rag.ingest import EMBED_BATCH, GROUP_MAX
from app.rag.parsing import parse_text
from app.rag.pipeline import DocumentPipeline
from app.rag.readers import SandboxedFileReader, documents_for
from app.rag.store import EdgeStore, TenantVectorStore
from app.rag.types import Chunk, ParsedDocument, Section
from bench.common import CorpusDoc, Stopwatch, log

TENANT = "scifact"
UPSERT_BATCH = 256
# Abstracts per synthetic long document (about paper length) for the truncation view.
LONG_DOC_ABSTRACTS = 20


@dataclass
class PipelineRun:
    shape: str
    seconds: float
    cpu_seconds: float
    chunks: int
    word_pieces: int
    stages: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "shape": self.shape,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 3),
            "chunks": self.chunks,
            "word_pieces": self.word_pieces,
            "chunks_per_s": round(self.chunks / self.seconds, 2),
            "word_pieces_per_s": round(self.word_pieces / self.seconds, 1),
            "stage_seconds": {k: round(v, 3) for k, v in self.stages.items()},
        }


class _Stages:
    """Accumulates wall seconds per named stage."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = {}

    @contextlib.contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        with Stopwatch() as sw:
            yield
        self.totals[name] = self.totals.get(name, 0.0) + sw.seconds


def truncation(token_counts: list[int], limit: int = MAX_SEQ_LENGTH) -> dict[str, Any]:
    """Word-pieces past the model's window, which sentence-transformers silently drops."""
    total = int(sum(token_counts))
    cut = int(sum(max(0, n - limit) for n in token_counts))
    return {
        "inputs": len(token_counts),
        "word_pieces": total,
        "embedded_word_pieces": total - cut,
        "truncated_word_pieces": cut,
        "truncated_fraction": round(cut / total, 4) if total else 0.0,
        "inputs_truncated": int(sum(n > limit for n in token_counts)),
        "max_input_word_pieces": int(max(token_counts, default=0)),
    }


def count_model_tokens(texts: list[str]) -> list[int]:
    """Model word-pieces per text, [CLS]/[SEP] included."""
    return [len(e.ids) for e in get_tokenizer().encode_batch(texts, add_special_tokens=True)]


# ---- our pipeline ------------------------------------------------------------------------


def chunk_parsed(
    parsed: ParsedDocument, *, tenant_id: str, document_id: str, title: str
) -> list[Chunk]:
    return chunk_document(parsed, tenant_id=tenant_id, document_id=document_id, title=title)


def embed_chunks(chunks: list[Chunk], embedder: LocalEmbedder, *, batch_size: int) -> Iterator[int]:
    """The previous direct embedding path: fill `chunk.vector` batch by batch."""
    for start in range(0, len(chunks), batch_size):
        batch = chunks[start : start + batch_size]
        vectors = embedder.embed_array([c.text for c in batch]).tolist()
        for chunk, vector in zip(batch, vectors, strict=True):
            chunk.vector = vector
        yield start + len(batch)


def run_per_document(
    docs: list[CorpusDoc], store: EdgeStore, embedder: LocalEmbedder, group: int = GROUP_MAX
) -> PipelineRun:
    """What JobRunner does through LlamaIndex, minus the job bookkeeping and the sandbox."""
    stage = _Stages()
    pipe = DocumentPipeline(SandboxedFileReader(max_bytes=1 << 30), embedder)
    tenant_store = TenantVectorStore(store, TENANT)
    chunks = pieces = 0
    with Stopwatch() as sw:
        for start in range(0, len(docs), group):
            members = docs[start : start + group]
            documents = []
            for doc in members:
                with stage("parse"):
                    parsed = parse_text(doc.full_text, title=doc.title)
                    documents.extend(
                        documents_for(parsed, tenant_id=TENANT, document_id=doc.id, title=doc.title)
                    )
            with stage("chunk+embed"):
                nodes = pipe.transform(documents, on_progress=lambda *_: None)
            with stage("upsert"):
                by_doc: dict[str, list[Any]] = {}
                for node in nodes:
                    by_doc.setdefault(node.metadata["document_id"], []).append(node)
                for doc in members:
                    pipe.write(tenant_store, doc.id, by_doc.get(doc.id, []))
            chunks += len(nodes)
            pieces += sum(n.metadata["token_count"] for n in nodes)
    return PipelineRun("per_document", sw.seconds, sw.cpu, chunks, pieces, stage.totals)


def run_direct_per_document(
    docs: list[CorpusDoc], store: EdgeStore, embedder: LocalEmbedder, group: int = GROUP_MAX
) -> tuple[PipelineRun, list[Chunk]]:
    """What JobRunner does, minus the job bookkeeping and the sandbox: documents are taken
    in claim groups (up to GROUP_MAX small ones), each parsed and chunked, the group's
    chunks embedded together, then each document indexed. group=1 is one at a time."""
    stage = _Stages()
    all_chunks: list[Chunk] = []
    with Stopwatch() as sw:
        for start in range(0, len(docs), group):
            members = docs[start : start + group]
            per_doc: list[list[Chunk]] = []
            for doc in members:
                with stage("parse"):
                    parsed = parse_text(doc.full_text, title=doc.title)
                with stage("chunk"):
                    per_doc.append(
                        chunk_parsed(parsed, tenant_id=TENANT, document_id=doc.id, title=doc.title)
                    )
            with stage("embed"):
                for _ in embed_chunks(
                    [c for cs in per_doc for c in cs], embedder, batch_size=EMBED_BATCH
                ):
                    pass
            with stage("upsert"):
                for doc, chunks in zip(members, per_doc, strict=True):
                    store.delete_document(TENANT, doc.id)
                    store.upsert(TENANT, chunks)
                    all_chunks.extend(chunks)
    run = PipelineRun(
        "direct_per_document" if group > 1 else "one_at_a_time",
        sw.seconds,
        sw.cpu,
        len(all_chunks),
        sum(c.token_count for c in all_chunks),
        stage.totals,
    )
    return run, all_chunks


def run_batched(docs: list[CorpusDoc], store: EdgeStore, embedder: LocalEmbedder) -> PipelineRun:
    """The same stages with every document's chunks embedded as one stream."""
    stage = _Stages()
    with Stopwatch() as sw:
        with stage("parse"):
            parsed = [parse_text(d.full_text, title=d.title) for d in docs]
        with stage("chunk"):
            chunks = [
                c
                for d, p in zip(docs, parsed, strict=True)
                for c in chunk_parsed(p, tenant_id=TENANT, document_id=d.id, title=d.title)
            ]
        with stage("embed"):
            for _ in embed_chunks(chunks, embedder, batch_size=EMBED_BATCH):
                pass
        with stage("upsert"):
            for start in range(0, len(chunks), UPSERT_BATCH):
                store.upsert(TENANT, chunks[start : start + UPSERT_BATCH])
    return PipelineRun(
        "batched", sw.seconds, sw.cpu, len(chunks), sum(c.token_count for c in chunks), stage.totals
    )


def raw_encode(embedder: LocalEmbedder, texts: list[str]) -> tuple[float, float]:
    """Plain SentenceTransformer.encode of `texts` with the embedder's model and settings."""
    import torch

    model = embedder.model
    autocast = (
        torch.autocast("cpu", dtype=torch.bfloat16) if embedder.bf16 else contextlib.nullcontext()
    )
    with Stopwatch() as sw, autocast:
        model.encode(
            texts,
            batch_size=embedder.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return sw.seconds, sw.cpu


# ---- LlamaIndex defaults -----------------------------------------------------------------


def _llama_documents(docs: list[CorpusDoc]) -> list[Any]:
    from llama_index.core import Document

    return [Document(text=d.full_text, doc_id=d.id) for d in docs]


def llamaindex_default(docs: list[CorpusDoc], embed_model: Any, label: str) -> dict[str, Any]:
    """`VectorStoreIndex.from_documents` with nothing but `embed_model` passed.

    The splitter is LlamaIndex's default (`Settings.transformations`, read, never set).
    """
    from llama_index.core import VectorStoreIndex
    from llama_index.core.schema import MetadataMode

    documents = _llama_documents(docs)
    with Stopwatch() as sw:
        index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)
    nodes = list(index.docstore.docs.values())
    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    trunc = truncation(count_model_tokens(texts))
    return {
        "label": label,
        "seconds": round(sw.seconds, 3),
        "cpu_seconds": round(sw.cpu, 3),
        "nodes": len(nodes),
        "nodes_per_s": round(len(nodes) / sw.seconds, 2),
        "embedded_word_pieces_per_s": round(trunc["embedded_word_pieces"] / sw.seconds, 1),
        "text_word_pieces_per_s": round(trunc["word_pieces"] / sw.seconds, 1),
        "truncation": trunc,
    }


def long_documents(docs: list[CorpusDoc], per_doc: int) -> list[CorpusDoc]:
    """SciFact abstracts glued into longer documents (paper-sized), for the truncation view."""
    out: list[CorpusDoc] = []
    for start in range(0, len(docs), per_doc):
        group = docs[start : start + per_doc]
        text = "\n\n".join(d.full_text for d in group)
        out.append(CorpusDoc(f"long-{start}", group[0].title, text))
    return out


def truncation_only(docs: list[CorpusDoc]) -> dict[str, Any]:
    """Truncated share of text for LlamaIndex's default splitter vs our chunker (no embedding)."""
    from llama_index.core import Settings

    splitter = Settings.node_parser  # the default SentenceSplitter; read only
    nodes = splitter.get_nodes_from_documents(_llama_documents(docs))
    ours: list[int] = []
    for d in docs:
        parsed = ParsedDocument(kind="text", sections=[Section(d.full_text)], title=d.title)
        chunks = chunk_document(parsed, tenant_id=TENANT, document_id=d.id, title=d.title)
        ours.extend(c.token_count for c in chunks)
    return {
        "documents": len(docs),
        "mean_document_word_pieces": round(
            float(np.mean(count_model_tokens([d.full_text for d in docs]))), 1
        ),
        "llamaindex_default": truncation(count_model_tokens([n.get_content() for n in nodes])),
        "ours": truncation(ours),
    }


# ---- the part ------------------------------------------------------------------------------


def _merge(runs: list[PipelineRun], shape: str) -> PipelineRun:
    stages: dict[str, float] = {}
    for r in runs:
        for k, v in r.stages.items():
            stages[k] = stages.get(k, 0.0) + v
    return PipelineRun(
        shape,
        sum(r.seconds for r in runs),
        sum(r.cpu_seconds for r in runs),
        sum(r.chunks for r in runs),
        sum(r.word_pieces for r in runs),
        stages,
    )


@dataclass
class _Totals:
    """Per-configuration results accumulated over the interleaved slices."""

    per_doc: list[PipelineRun] = field(default_factory=list)
    direct: list[PipelineRun] = field(default_factory=list)
    batched: list[PipelineRun] = field(default_factory=list)
    raw: list[tuple[float, float]] = field(default_factory=list)
    li: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    chunks: list[Chunk] = field(default_factory=list)


def measure_throughput(
    docs: list[CorpusDoc], slice_docs: int, compare_slices: int, workdir: Path
) -> tuple[dict[str, Any], EdgeStore]:
    """Runs part 1; returns its results and an EdgeStore holding every document for part 3.

    The corpus is processed in slices of `slice_docs` documents, and within each slice every
    configuration runs on the same documents back to back (order alternating), so load from
    other processes on this shared machine hits all of them alike. The batched pipeline (whose
    index part 3 evaluates) and raw encode run on every slice; the per-document pipeline and
    the LlamaIndex setups on the first `compare_slices` slices, compared with raw encode and
    with each other over those same slices.
    """
    embedder = LocalEmbedder()  # uncached: every chunk goes through the model
    embedder.embed_array(["warm up the model and the allocator"] * 8)
    li_models: dict[str, Any] = {"our_adapter": embedder}
    try:  # optional: llama-index-embeddings-huggingface is not a pinned dependency
        from llama_index.embeddings.huggingface import HuggingFaceEmbedding

        hf = HuggingFaceEmbedding(model_name=embedder.model_path, device="cpu")
        hf.get_text_embedding("warm up")
        li_models = {"hf_default": hf, **li_models}
    except ImportError:
        log("  llama-index-embeddings-huggingface not installed: hf_default comparison skipped")
    store = EdgeStore(Path(tempfile.mkdtemp(dir=workdir)) / "qdrant")
    other = EdgeStore(Path(tempfile.mkdtemp(dir=workdir)) / "qdrant")
    t = _Totals(li={k: [] for k in li_models})
    slices = [docs[i : i + slice_docs] for i in range(0, len(docs), slice_docs)]
    try:
        for i, part in enumerate(slices):
            _run_slice(i, part, i < compare_slices, t, store, other, embedder, li_models)
            log(f"  slice {i + 1}/{len(slices)} done ({len(t.chunks)} chunks so far)")
    finally:
        other.close()
    return _throughput_result(docs, slices, compare_slices, t, embedder), store


def _run_slice(
    i: int,
    part: list[CorpusDoc],
    compare: bool,
    t: _Totals,
    store: EdgeStore,
    other: EdgeStore,
    embedder: LocalEmbedder,
    li_models: dict[str, Any],
) -> None:
    chunks = _slice_chunks(part)  # deterministic: the very chunks every pipeline produces
    t.chunks.extend(chunks)
    texts = [c.text for c in chunks]
    steps: list[Callable[[], None]] = [
        lambda: t.batched.append(run_batched(part, store, embedder)),
        lambda: t.raw.append(raw_encode(embedder, texts)),
    ]
    if compare:
        steps.append(lambda: t.per_doc.append(run_per_document(part, other, embedder)))
        steps.append(lambda: t.direct.append(run_direct_per_document(part, other, embedder)[0]))
        for name, model in li_models.items():
            steps.append(lambda n=name, m=model: t.li[n].append(llamaindex_default(part, m, n)))
    if i % 2:
        steps.reverse()
    for step in steps:
        step()


def _slice_chunks(part: list[CorpusDoc]) -> list[Chunk]:
    return [
        c
        for d in part
        for c in chunk_parsed(
            parse_text(d.full_text, title=d.title),
            tenant_id=TENANT,
            document_id=d.id,
            title=d.title,
        )
    ]


def _li_summary(runs: list[dict[str, Any]], ours: PipelineRun) -> dict[str, Any]:
    seconds = sum(r["seconds"] for r in runs)
    nodes = sum(r["nodes"] for r in runs)
    counts = {
        k: sum(r["truncation"][k] for r in runs)
        for k in ("inputs", "word_pieces", "embedded_word_pieces", "truncated_word_pieces")
    }
    embedded_wps = counts["embedded_word_pieces"] / seconds
    return {
        "seconds": round(seconds, 3),
        "cpu_seconds": round(sum(r["cpu_seconds"] for r in runs), 3),
        "nodes": nodes,
        "nodes_per_s": round(nodes / seconds, 2),
        "embedded_word_pieces_per_s": round(embedded_wps, 1),
        "text_word_pieces_per_s": round(counts["word_pieces"] / seconds, 1),
        "truncation": counts
        | {"truncated_fraction": round(counts["truncated_word_pieces"] / counts["word_pieces"], 4)},
        # > 1: our per-document pipeline embeds more word-pieces per second than this setup
        # (ours embeds every word-piece of the text; this one drops the truncated ones).
        "ours_vs_this_embedded_wps_ratio": round(
            (ours.word_pieces / ours.seconds) / embedded_wps, 3
        ),
        "ours_vs_this_text_wps_ratio": round(
            (ours.word_pieces / ours.seconds) / (counts["word_pieces"] / seconds), 3
        ),
    }


def _throughput_result(
    docs: list[CorpusDoc],
    slices: list[list[CorpusDoc]],
    compare_slices: int,
    t: _Totals,
    embedder: LocalEmbedder,
) -> dict[str, Any]:
    n_cmp = min(compare_slices, len(slices))
    per_doc = _merge(t.per_doc, "per_document")
    direct = _merge(t.direct, "direct_per_document")
    batched = _merge(t.batched, "batched")
    batched_cmp = _merge(t.batched[:n_cmp], "batched")
    raw_s, raw_cpu = sum(s for s, _ in t.raw), sum(c for _, c in t.raw)
    raw_cmp_s = sum(s for s, _ in t.raw[:n_cmp])
    raw_cmp_cpu = sum(c for _, c in t.raw[:n_cmp])
    ours_trunc = truncation([c.token_count for c in t.chunks])
    whole = truncation_only(docs)
    return {
        "documents": len(docs),
        "slices": len(slices),
        "slice_documents": len(slices[0]) if slices else 0,
        "compare_slices": n_cmp,
        "embedder": {
            "batch_size": embedder.batch_size,
            "bf16_autocast": embedder.bf16,
            "embed_chunks_batch": EMBED_BATCH,
            "torch_threads": _torch_threads(),
        },
        # All slices: the batched shape vs raw encode of the same chunks.
        "ours_batched": batched.summary(),
        "raw_encode": {
            "seconds": round(raw_s, 3),
            "cpu_seconds": round(raw_cpu, 3),
            "chunks_per_s": round(batched.chunks / raw_s, 2),
            "word_pieces_per_s": round(batched.word_pieces / raw_s, 1),
            "bf16_autocast": embedder.bf16,
        },
        "ingest_batched_vs_raw_ratio": round(raw_s / batched.seconds, 3),
        "ingest_batched_vs_raw_ratio_cpu_time": round(raw_cpu / batched.cpu_seconds, 3),
        # Compared slices: the per-document shape (as JobRunner runs) vs raw encode.
        "compared_slices": {
            "ours_per_document": per_doc.summary(),
            "ours_batched": batched_cmp.summary(),
            "raw_encode_seconds": round(raw_cmp_s, 3),
            "raw_encode_chunks_per_s": round(per_doc.chunks / raw_cmp_s, 2),
            "ingest_vs_raw_ratio": round(raw_cmp_s / per_doc.seconds, 3),
            "ingest_vs_raw_ratio_cpu_time": round(raw_cmp_cpu / per_doc.cpu_seconds, 3),
            "ingest_batched_vs_raw_ratio": round(raw_cmp_s / batched_cmp.seconds, 3),
            "llamaindex": {k: _li_summary(v, per_doc) for k, v in t.li.items()},
            "llamaindex_vs_batched": {
                k: round(
                    (batched_cmp.word_pieces / batched_cmp.seconds)
                    / _li_summary(v, per_doc)["embedded_word_pieces_per_s"],
                    3,
                )
                for k, v in t.li.items()
            },
            "llamaindex_note": (
                "VectorStoreIndex.from_documents(docs, embed_model=...) with the default "
                "SentenceSplitter (1024 tiktoken tokens, overlap 200); hf_default = "
                "HuggingFaceEmbedding plain defaults (fp32, embed_batch_size 10); our_adapter = "
                "our LocalEmbedder BaseEmbedding (bf16, as our pipeline): isolates the splitter. "
                "ours_vs_this_* compare our per-document pipeline; llamaindex_vs_batched our "
                "batched one (embedded word-pieces per second, > 1 = ours faster)"
            ),
        },
        "ingest_vs_raw_ratio": round(raw_cmp_s / per_doc.seconds, 3),
        "direct_per_document": direct.summary(),
        "pipeline_overhead_ratio": round(direct.seconds / per_doc.seconds, 3),
        "pipeline_overhead_ratio_cpu_time": round(direct.cpu_seconds / per_doc.cpu_seconds, 3),
        "per_slice_seconds": {
            "batched": [round(r.seconds, 2) for r in t.batched],
            "raw_encode": [round(s, 2) for s, _ in t.raw],
            "per_document": [round(r.seconds, 2) for r in t.per_doc],
            "direct_per_document": [round(r.seconds, 2) for r in t.direct],
        },
        "ours_truncation": ours_trunc,
        "truncated_fraction": ours_trunc["truncated_fraction"],
        # The default splitter over every document, split only (no embedding needed to count).
        "truncation_all_documents": whole,
        "llamaindex_default_truncated_fraction": whole["llamaindex_default"]["truncated_fraction"],
        "truncation_long_documents": truncation_only(long_documents(docs, LONG_DOC_ABSTRACTS)),
    }


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())
