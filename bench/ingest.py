"""Ingestion and retrieval benchmark: `python -m bench.ingest [--quick]` (or `make bench-ingest`).

Parts, numbered as in the issue (details in each module's docstring):
1. bench.throughput      our pipeline vs raw SentenceTransformer.encode vs LlamaIndex defaults,
                          and the share of text each one truncates;
2. bench.search_latency  tenant-filtered search latency at 10k and 100k chunks, 100 tenants,
                          Qdrant Edge vs qdrant-client local mode;
3. bench.quality         nDCG@10 / recall@10 / recall@100 on SciFact-mini (dense, BM25, hybrid;
                          hybrid fusion tuned on train, reported on test);
4. bench.concurrent      chat query latency while the durable ingestion runs vs idle;
5. peak memory           getrusage for this process (after each part and at the end); the
                          parse sandboxes are sampled from /proc during part 4.
Run order: 1, 3 (uses part 1's index), 4 (uses part 3's fusion choice), then 2 last, so the
peak RSS after parts 1-4 is the ingestion figure and part 2's big stores come after it.

Writes bench/results/ingest.json (summary) and bench/results/ingest_<part>.json (details);
`--quick` runs small sizes and writes *_quick.json instead, leaving the full results alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    RESULTS,
    ROOT,
    Stopwatch,
    children_peak_rss_mb,
    load_avg,
    load_corpus,
    load_qrels,
    load_queries,
    log,
    machine_info,
    peak_rss_mb,
    utc_now,
    write_json,
)


@dataclass(frozen=True)
class Plan:
    """Sizes for one run."""

    name: str
    docs: int | None  # None: the whole SciFact-mini corpus
    slice_docs: int
    compare_slices: int
    latency_sizes: list[int]
    tenants: int
    edge_queries: int
    local_queries: dict[int, dict[str, int]] = field(default_factory=dict)
    seed_docs: int = 10
    concurrent_docs: int = 15
    idle_queries: int = 8


FULL = Plan(
    name="full",
    docs=None,
    slice_docs=100,
    compare_slices=2,
    latency_sizes=[10_000, 100_000],
    tenants=100,
    edge_queries=500,
    local_queries={
        10_000: {"dense": 50, "bm25": 20, "hybrid": 20},
        100_000: {"dense": 30, "bm25": 5, "hybrid": 5},
    },
    seed_docs=20,
    concurrent_docs=60,
    idle_queries=25,
)
QUICK = Plan(
    name="quick",
    docs=24,
    slice_docs=24,
    compare_slices=1,
    latency_sizes=[1_000, 5_000],
    tenants=20,
    edge_queries=50,
    local_queries={
        1_000: {"dense": 10, "bm25": 5, "hybrid": 5},
        5_000: {"dense": 5, "bm25": 3, "hybrid": 3},
    },
    seed_docs=5,
    concurrent_docs=8,
    idle_queries=4,
)


PARTS = ("throughput", "quality", "concurrent", "search_latency")


def _suffix(plan: Plan) -> str:
    return "" if plan.name == "full" else f"_{plan.name}"


class Run:
    """Runs the parts in order, keeping their results and memory high-water marks."""

    def __init__(self, plan: Plan, workdir: Path, only: set[str]) -> None:
        self.plan = plan
        self.workdir = workdir
        self.only = only
        self.results: dict[str, Any] = {}
        self.seconds: dict[str, float] = {}
        self.rss: dict[str, float] = {}

    def part(self, name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        if name not in self.only:
            return self.saved(name)
        log(f"{name} ...")
        with Stopwatch() as sw:
            result = fn()
        self.seconds[name] = round(sw.seconds, 1)
        self.rss[name] = peak_rss_mb()
        result = {"part_seconds": self.seconds[name], "load_avg_at_end": load_avg(), **result}
        self.results[name] = result
        write_json(f"ingest_{name}{_suffix(self.plan)}.json", result)
        log(f"{name} done in {sw.seconds:.0f}s (peak RSS so far {self.rss[name]} MB)")
        return result

    def saved(self, name: str) -> dict[str, Any]:
        """A part's results from its JSON file of an earlier run (see --only)."""
        path = RESULTS / f"ingest_{name}{_suffix(self.plan)}.json"
        result: dict[str, Any] = json.loads(path.read_text())
        self.results[name] = result
        self.seconds[name] = result.get("part_seconds", 0.0)
        log(f"{name}: reusing {path.relative_to(ROOT)}")
        return result


def run(plan: Plan, only: set[str]) -> dict[str, Any]:
    from bench.concurrency import measure_concurrent
    from bench.quality import measure_quality
    from bench.search_latency import measure_search_latency
    from bench.throughput import measure_throughput

    corpus = load_corpus()
    docs = corpus if plan.docs is None else corpus[: plan.docs]
    load_at_start = load_avg()
    with tempfile.TemporaryDirectory(prefix="chatconnect-bench-") as tmp:
        r = Run(plan, Path(tmp), only)
        box: dict[str, Any] = {}

        def throughput() -> dict[str, Any]:
            result, box["store"] = measure_throughput(
                docs, plan.slice_docs, plan.compare_slices, r.workdir
            )
            return result

        def quality() -> dict[str, Any]:
            from app.rag.embedding import LocalEmbedder

            try:
                return measure_quality(box["store"], LocalEmbedder(), {d.id for d in docs})
            finally:
                box.pop("store").close()

        def concurrent() -> dict[str, Any]:
            queries = load_queries()
            texts = [queries[q] for q in sorted(load_qrels("test"))]
            seed = corpus[: plan.seed_docs]
            more = corpus[plan.seed_docs : plan.seed_docs + plan.concurrent_docs]
            fusion = r.results["quality"]["hybrid_chosen_config"]
            return measure_concurrent(seed, more, texts, plan.idle_queries, fusion, r.workdir)

        def latency() -> dict[str, Any]:
            return measure_search_latency(
                corpus,
                plan.latency_sizes,
                plan.tenants,
                plan.edge_queries,
                plan.local_queries,
                r.workdir,
            )

        r.part("throughput", throughput)
        r.part("quality", quality)
        if "store" in box:  # throughput ran without quality
            box.pop("store").close()
        r.part("concurrent", concurrent)
        r.part("search_latency", latency)
    return summarize(plan, r, load_at_start)


def summarize(plan: Plan, r: Run, load_at_start: list[float]) -> dict[str, Any]:
    tp, q, cc, lat = (
        r.results[k] for k in ("throughput", "quality", "concurrent", "search_latency")
    )
    small, big = (str(s) for s in plan.latency_sizes)
    edge_big, local_big = lat["edge"][big], lat["qdrant_client_local"][big]
    edge_small, local_small = lat["edge"][small], lat["qdrant_client_local"][small]
    cmp = tp["compared_slices"]
    ours = cmp["ours_per_document"]
    li = cmp["llamaindex"]
    summary: dict[str, Any] = {
        # --- required keys (see bench/README or the issue) ---
        "ingest_vs_raw_ratio": tp["ingest_vs_raw_ratio"],
        "pipeline_overhead_ratio": tp["pipeline_overhead_ratio"],
        "truncated_fraction": tp["truncated_fraction"],
        "llamaindex_default_truncated_fraction": tp["llamaindex_default_truncated_fraction"],
        "edge_search_p95_ms_100k": edge_big["after_optimize"]["dense"]["p95_ms"],
        "client_local_search_p95_ms_100k": local_big["dense"]["p95_ms"],
        "ndcg10_dense": q["test"]["dense"]["ndcg10"],
        "ndcg10_bm25": q["test"]["bm25"]["ndcg10"],
        "ndcg10_hybrid": q["test"]["hybrid"]["ndcg10"],
        "query_p95_ms_during_ingest": cc["during_ingest"]["p95_ms"],
        "peak_rss_mb": peak_rss_mb(),
        # --- throughput ---
        "ingest_batched_vs_raw_ratio": tp["ingest_batched_vs_raw_ratio"],
        "ingest_vs_raw_ratio_cpu_time": cmp["ingest_vs_raw_ratio_cpu_time"],
        "ingest_batched_vs_raw_ratio_cpu_time": tp["ingest_batched_vs_raw_ratio_cpu_time"],
        "ingest_chunks_per_s": ours["chunks_per_s"],
        "ingest_word_pieces_per_s": ours["word_pieces_per_s"],
        "ingest_batched_chunks_per_s": tp["ours_batched"]["chunks_per_s"],
        "ingest_batched_word_pieces_per_s": tp["ours_batched"]["word_pieces_per_s"],
        "raw_encode_chunks_per_s": tp["raw_encode"]["chunks_per_s"],
        "raw_encode_word_pieces_per_s": tp["raw_encode"]["word_pieces_per_s"],
        "llamaindex_default_embedded_word_pieces_per_s": li.get("hf_default", {}).get(
            "embedded_word_pieces_per_s"
        ),
        "ours_vs_llamaindex_default_embedded_wps_ratio": li.get("hf_default", {}).get(
            "ours_vs_this_embedded_wps_ratio"
        ),
        "ours_vs_llamaindex_adapter_embedded_wps_ratio": li["our_adapter"][
            "ours_vs_this_embedded_wps_ratio"
        ],
        "llamaindex_default_truncated_fraction_long_docs": tp["truncation_long_documents"][
            "llamaindex_default"
        ]["truncated_fraction"],
        "truncated_fraction_long_docs": tp["truncation_long_documents"]["ours"][
            "truncated_fraction"
        ],
        "chunks": tp["ours_truncation"]["inputs"],
        "ours_batched_vs_llamaindex_default_embedded_wps_ratio": cmp["llamaindex_vs_batched"].get(
            "hf_default"
        ),
        "chunks_per_document_shape": cmp["ours_per_document"]["chunks"],
        "documents": tp["documents"],
        # --- search latency ---
        "latency_sizes": plan.latency_sizes,
        "tenants": plan.tenants,
        "edge_search_p50_ms_100k": edge_big["after_optimize"]["dense"]["p50_ms"],
        "edge_search_p95_ms_100k_before_optimize": edge_big["before_optimize"]["dense"]["p95_ms"],
        "edge_bm25_p95_ms_100k": edge_big["after_optimize"]["bm25"]["p95_ms"],
        "edge_hybrid_p95_ms_100k": edge_big["after_optimize"]["hybrid"]["p95_ms"],
        "edge_search_p95_ms_10k": edge_small["after_optimize"]["dense"]["p95_ms"],
        "edge_load_s_100k": edge_big["load_s"],
        "edge_optimize_s_100k": edge_big["optimize_s"],
        "client_local_search_p50_ms_100k": local_big["dense"]["p50_ms"],
        "client_local_search_queries_100k": local_big["dense"]["n"],
        "client_local_search_p95_ms_10k": local_small["dense"]["p95_ms"],
        "client_local_bm25_p95_ms_100k": local_big.get("bm25", {}).get("p95_ms"),
        "client_local_hybrid_p95_ms_100k": local_big.get("hybrid", {}).get("p95_ms"),
        # --- quality (test split) ---
        "recall10_dense": q["test"]["dense"]["recall10"],
        "recall10_bm25": q["test"]["bm25"]["recall10"],
        "recall10_hybrid": q["test"]["hybrid"]["recall10"],
        "recall100_dense": q["test"]["dense"]["recall100"],
        "recall100_bm25": q["test"]["bm25"]["recall100"],
        "recall100_hybrid": q["test"]["hybrid"]["recall100"],
        "ndcg10_hybrid_default_rrf60": q["test"]["hybrid_default_rrf60"]["ndcg10"],
        "ndcg10_engine_hybrid_rrf60": q["test"]["engine_hybrid_rrf60"]["ndcg10"],
        "hybrid_fusion_chosen_on_train": q["hybrid_chosen_on_train"],
        "reference_bm25_ndcg10_bm25s": 0.8128,
        "reference_bm25_ndcg10_rank_bm25": 0.7903,
        # --- concurrency ---
        "query_p50_ms_during_ingest": cc["during_ingest"]["p50_ms"],
        "query_p95_ms_idle": cc["idle"]["p95_ms"],
        "query_p50_ms_idle": cc["idle"]["p50_ms"],
        "query_p95_during_vs_idle_ratio": cc["p95_during_vs_idle_ratio"],
        "queries_during_ingest": cc["during_ingest"]["n"],
        "query_embed_p95_ms_idle": cc["query_embed_idle"]["p95_ms"],
        "query_embed_p95_ms_during_ingest": cc["query_embed_during_ingest"]["p95_ms"],
        "ingest_documents_per_s_during_queries": cc["ingest_documents_per_s"],
        # --- memory and run ---
        # Parse sandboxes, sampled from /proc (getrusage cannot see them; see concurrent.py).
        "parse_child_peak_rss_mb": cc["parse_children_sampled"].get("max_mb"),
        "parse_children_sampled": cc["parse_children_sampled"].get("children_seen", 0),
        "children_peak_rss_mb_getrusage": children_peak_rss_mb(),
        "peak_rss_mb_after_part": r.rss,
        "part_seconds": r.seconds,
        "plan": plan.name,
        "parts_run": [p for p in PARTS if p in r.only],
        "parts_reused_from_earlier_run": [p for p in PARTS if p not in r.only],
        "timestamp_utc": utc_now(),
        "load_avg_at_start": load_at_start,
        "load_avg_at_end": load_avg(),
        "machine": machine_info(),
    }
    write_json(f"ingest{_suffix(plan)}.json", summary)
    return summary


# ---- table ---------------------------------------------------------------------------------

Row = tuple[str, str, Any, str]


def table_rows(s: dict[str, Any]) -> list[Row]:
    big = f"{s['latency_sizes'][-1] // 1000}k"
    small = f"{s['latency_sizes'][0] // 1000}k"
    return [
        (
            "ingest",
            "ours per document (as JobRunner) chunks/s | word-pieces/s",
            f"{s['ingest_chunks_per_s']} | {s['ingest_word_pieces_per_s']}",
            "",
        ),
        (
            "ingest",
            "ours batched across documents chunks/s | word-pieces/s",
            f"{s['ingest_batched_chunks_per_s']} | {s['ingest_batched_word_pieces_per_s']}",
            "",
        ),
        (
            "ingest",
            "raw encode chunks/s | word-pieces/s (same chunks, bf16 like ours)",
            f"{s['raw_encode_chunks_per_s']} | {s['raw_encode_word_pieces_per_s']}",
            "",
        ),
        ("ingest", "ingest_vs_raw_ratio (per document)", s["ingest_vs_raw_ratio"], ">= 0.85"),
        (
            "ingest",
            "pipeline_overhead_ratio (IngestionPipeline / direct path)",
            s["pipeline_overhead_ratio"],
            ">= 0.95",
        ),
        ("ingest", "ingest vs raw (batched)", s["ingest_batched_vs_raw_ratio"], ">= 0.85"),
        (
            "ingest",
            "ours per-doc | batched / LlamaIndex default (HF fp32), embedded wp/s",
            f"{s['ours_vs_llamaindex_default_embedded_wps_ratio']} | "
            f"{s['ours_batched_vs_llamaindex_default_embedded_wps_ratio']}",
            "",
        ),
        (
            "ingest",
            "ours per-doc / LlamaIndex default splitter + our embedder",
            s["ours_vs_llamaindex_adapter_embedded_wps_ratio"],
            "",
        ),
        ("truncation", "truncated_fraction (ours)", s["truncated_fraction"], "0.0"),
        (
            "truncation",
            "llamaindex_default_truncated_fraction",
            s["llamaindex_default_truncated_fraction"],
            "",
        ),
        (
            "truncation",
            "same, synthetic long docs (20 abstracts each): ours / LlamaIndex",
            f"{s['truncated_fraction_long_docs']} / "
            f"{s['llamaindex_default_truncated_fraction_long_docs']}",
            "",
        ),
        (
            "search",
            f"Edge dense p50 / p95 ms @{big} (optimized)",
            f"{s['edge_search_p50_ms_100k']} / {s['edge_search_p95_ms_100k']}",
            "p95 <= 20",
        ),
        (
            "search",
            f"Edge dense p95 ms @{big} before optimize",
            s["edge_search_p95_ms_100k_before_optimize"],
            "",
        ),
        (
            "search",
            f"Edge bm25 / hybrid p95 ms @{big}",
            f"{s['edge_bm25_p95_ms_100k']} / {s['edge_hybrid_p95_ms_100k']}",
            "",
        ),
        ("search", f"Edge dense p95 ms @{small}", s["edge_search_p95_ms_10k"], ""),
        (
            "search",
            f"Edge load / optimize s @{big}",
            f"{s['edge_load_s_100k']} / {s['edge_optimize_s_100k']}",
            "",
        ),
        (
            "search",
            f"qdrant-client local dense p50 / p95 ms @{big} "
            f"({s['client_local_search_queries_100k']} queries)",
            f"{s['client_local_search_p50_ms_100k']} / {s['client_local_search_p95_ms_100k']}",
            "",
        ),
        (
            "search",
            f"qdrant-client local bm25 / hybrid p95 ms @{big}",
            f"{s['client_local_bm25_p95_ms_100k']} / {s['client_local_hybrid_p95_ms_100k']}",
            "",
        ),
        (
            "search",
            f"qdrant-client local dense p95 ms @{small}",
            s["client_local_search_p95_ms_10k"],
            "",
        ),
        (
            "quality",
            "nDCG@10 dense / bm25 / hybrid (test)",
            f"{s['ndcg10_dense']} / {s['ndcg10_bm25']} / {s['ndcg10_hybrid']}",
            "",
        ),
        (
            "quality",
            "recall@10 dense / bm25 / hybrid",
            f"{s['recall10_dense']} / {s['recall10_bm25']} / {s['recall10_hybrid']}",
            "",
        ),
        (
            "quality",
            "recall@100 dense / bm25 / hybrid",
            f"{s['recall100_dense']} / {s['recall100_bm25']} / {s['recall100_hybrid']}",
            "",
        ),
        ("quality", "hybrid fusion chosen on train", s["hybrid_fusion_chosen_on_train"], ""),
        (
            "quality",
            "nDCG@10 hybrid rrf k=60 / in-engine rrf",
            f"{s['ndcg10_hybrid_default_rrf60']} / {s['ndcg10_engine_hybrid_rrf60']}",
            "",
        ),
        (
            "quality",
            "README BM25 nDCG@10 (bm25s / rank_bm25, whole docs)",
            f"{s['reference_bm25_ndcg10_bm25s']} / {s['reference_bm25_ndcg10_rank_bm25']}",
            "",
        ),
        (
            "concurrency",
            "chat query p50 / p95 ms idle",
            f"{s['query_p50_ms_idle']} / {s['query_p95_ms_idle']}",
            "",
        ),
        (
            "concurrency",
            "chat query p50 / p95 ms during ingest",
            f"{s['query_p50_ms_during_ingest']} / {s['query_p95_ms_during_ingest']}",
            "",
        ),
        ("concurrency", "p95 during / idle", s["query_p95_during_vs_idle_ratio"], ""),
        (
            "concurrency",
            "query embedding p95 ms idle / during ingest",
            f"{s['query_embed_p95_ms_idle']} / {s['query_embed_p95_ms_during_ingest']}",
            "",
        ),
        ("memory", "peak RSS MB (this process)", s["peak_rss_mb"], ""),
        (
            "memory",
            "parse sandbox child peak RSS MB (sampled) / getrusage children",
            f"{s['parse_child_peak_rss_mb']} / {s['children_peak_rss_mb_getrusage']}",
            "",
        ),
        (
            "run",
            "load average at start / end",
            f"{s['load_avg_at_start']} / {s['load_avg_at_end']}",
            "",
        ),
    ]


def print_table(summary: dict[str, Any]) -> None:
    rows = table_rows(summary)
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    header = ("part", "metric", "value", "goal")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    line = "  ".join("-" * w for w in widths)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)))
    print(line)
    machine = summary["machine"]
    print(f"plan={summary['plan']} cpu={machine['cpu']} x{machine['cpu_count']}", end=" ")
    print(f"at {summary['timestamp_utc']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes: a smoke run for CI, results in *_quick.json",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="run only these parts and reuse the others' saved JSON (quality needs throughput)",
    )
    args = parser.parse_args(argv)
    only = set(args.only)
    if "quality" in only and "throughput" not in only:
        parser.error("quality evaluates the index the throughput part builds: add throughput")
    sys.path.insert(0, str(ROOT))
    summary = run(QUICK if args.quick else FULL, only)
    print_table(summary)


if __name__ == "__main__":
    main()
