"""Chat benchmark: server-side overhead per turn and extractive answer latency.

    python -m bench.chat [--quick]

- Overhead: a full ChatService turn (widget + limits + conversation + budget checks, the
  chat Workflow: query embedding, hybrid retrieval, prompt building, sanitizing; persisting
  the message and UsageDaily) with an instant fake responder in place of the LLM, so the
  figure is everything except the model. Measured with 1 and 20 concurrent conversations.
- Baseline in the same process: the bare `HybridRetriever.retrieve` call of the same queries;
  the ratio says how much the turn costs beyond retrieval.
- Extractive: `ExtractiveResponder` on the top-8 retrieved sources of each query.

Results: bench/results/chat.json (summary keys overhead_p50_ms_c1, overhead_p95_ms_c1,
overhead_p95_ms_c20, extractive_p95_ms).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import (
    load_avg,
    load_corpus,
    load_queries,
    log,
    machine_info,
    peak_rss_mb,
    percentiles_ms,
    utc_now,
    write_json,
)


class InstantResponder:
    """Stands in for an LLM: a fixed, cited answer with usage, no waiting."""

    provider = "openai"

    async def stream(self, req) -> AsyncIterator[object]:  # type: ignore[no-untyped-def]
        from app.rag.answer_types import AnswerDone, Usage

        for word in ("According", " to", " the", " documentation,", " yes", " [1]."):
            yield word
        yield AnswerDone(
            model="gpt-4o-mini", provider="openai", usage=Usage(tokens_in=900, tokens_out=6)
        )


def _setup(data_dir: Path, n_docs: int):  # type: ignore[no-untyped-def]
    os.environ["DATA_DIR"] = str(data_dir)
    # The bench drives hundreds of turns a minute through one widget of a free workspace:
    # it sets every limit it would hit (requests per hour, per visitor, per widget, and
    # the monthly token budget) instead of depending on the caller's environment.
    for name in (
        "RATE_FREE_PER_HOUR",
        "RATE_VISITOR_PER_MINUTE",
        "RATE_WIDGET_PER_MINUTE",
        "BUDGET_FREE_TOKENS_MONTH",
    ):
        os.environ[name] = "1000000000"
    from app.db import make_engine, run_migrations, session_scope, set_engine
    from app.rag.embedding import LocalEmbedder
    from app.rag.ingest import IngestConfig, JobRunner
    from app.rag.store import EdgeStore
    from app.services import accounts, documents, widgets
    from app.settings import get_settings, reset_settings_cache

    reset_settings_cache()
    settings = get_settings()
    url = settings.resolved_database_url
    run_migrations(url=url)
    engine = make_engine(url)
    set_engine(engine)
    store = EdgeStore(settings.qdrant_path)
    # As app.services.vectors.query_embedder configures queries.
    embedder = LocalEmbedder(torch_threads=1, traced=True)
    with session_scope(engine) as s:
        _, tenant = accounts.sign_up(s, "bench@example.com", "bench-password-1", "Bench")
        widget = widgets.create_widget(s, tenant.id, "Bench widget")
        for doc in load_corpus(n_docs):
            documents.create_text_document(
                s, tenant.id, title=doc.title or doc.id, text=doc.full_text, settings=settings
            )
        ids = tenant.id, widget.id
    started = time.perf_counter()
    JobRunner(
        engine,
        store,
        embedder,
        IngestConfig(files_dir=settings.files_dir, max_upload_bytes=settings.max_upload_bytes),
    ).drain()
    log(f"ingested {n_docs} documents in {time.perf_counter() - started:.1f}s")
    return ids, store, embedder


async def _turns(
    service,  # type: ignore[no-untyped-def]
    tenant: str,
    widget: str,
    questions: list[str],
    conversations: int,
    think_s: float = 0.0,
) -> list[float]:
    """`conversations` visitors share the questions: each sends one, waits for the answer,
    then pauses for an exponential think time (mean `think_s`; 0 = back to back, which
    saturates the server) before the next. Returns the turn latencies."""
    import random

    from app.services.chat import ChatRequest

    rng = random.Random(7)
    queue = list(questions)
    timings: list[float] = []

    async def visitor(slot: int) -> None:
        if think_s:
            await asyncio.sleep(rng.uniform(0, think_s))  # stagger the first messages
        while queue:
            req = ChatRequest(
                tenant_id=tenant,
                widget_id=widget,
                message=queue.pop(),
                visitor_id=f"visitor-{slot}",
                channel="web",
            )
            started = time.perf_counter()
            async for _ in service.stream(req):
                pass
            timings.append(time.perf_counter() - started)
            if think_s:
                await asyncio.sleep(rng.expovariate(1 / think_s))

    await asyncio.gather(*(visitor(slot) for slot in range(conversations)))
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes for CI (well under a minute)"
    )
    args = parser.parse_args()
    n_docs, n_questions = (12, 20) if args.quick else (200, 150)
    with tempfile.TemporaryDirectory(prefix="cc-bench-chat-") as tmp:
        (tenant, widget), store, embedder = _setup(Path(tmp), n_docs)
        from app.rag.answer_types import AnswerRequest
        from app.rag.extractive import ExtractiveResponder
        from app.rag.retriever import retriever_factory
        from app.rag.workflow import ChatWorkflow, sources_from_nodes
        from app.services.cache import CachedQueryEmbedder, MemoryTTLCache
        from app.services.chat import ChatService
        from app.services.qa import QAMatcher

        queries = list(load_queries().values())
        # Unique questions per run so the answer cache never hides the work.
        qs = [f"{queries[i % len(queries)]} (#{i})" for i in range(n_questions * 4)]
        query_embedder = CachedQueryEmbedder(embedder, MemoryTTLCache())
        retriever_for = retriever_factory(store, query_embedder)
        service = ChatService(
            ChatWorkflow(retriever_for, QAMatcher(query_embedder)),
            make_primary=lambda _loaded: InstantResponder(),
        )
        asyncio.run(_turns(service, tenant, widget, qs[:5], 1))  # warm-up

        base = []
        for q in qs[:n_questions]:
            started = time.perf_counter()
            retriever_for(tenant, top_k=6).retrieve(q + " baseline")
            base.append(time.perf_counter() - started)
        c1 = asyncio.run(_turns(service, tenant, widget, qs[n_questions : 2 * n_questions], 1))
        c20 = asyncio.run(
            _turns(service, tenant, widget, qs[2 * n_questions : 3 * n_questions], 20)
        )
        live20 = asyncio.run(
            _turns(service, tenant, widget, qs[3 * n_questions :], 20, think_s=2.0)
        )

        # Compute only: the pause between streamed sentences is pacing, not work.
        extractive = ExtractiveResponder(sentence_pause_s=0.0)
        ext_times = []
        top8 = retriever_for(tenant, top_k=8)
        for q in queries[:n_questions]:
            sources = sources_from_nodes(top8.retrieve(q))
            req = AnswerRequest(question=q, sources=sources)

            async def run(r: AnswerRequest = req) -> None:
                async for _ in extractive.stream(r):
                    pass

            started = time.perf_counter()
            asyncio.run(run())
            ext_times.append(time.perf_counter() - started)
        store.close()

    base_p, c1_p, c20_p, live_p, ext_p = (
        percentiles_ms(x) for x in (base, c1, c20, live20, ext_times)
    )
    summary = {
        "overhead_p50_ms_c1": c1_p["p50_ms"],
        "overhead_p95_ms_c1": c1_p["p95_ms"],
        "overhead_p50_ms_c20": c20_p["p50_ms"],
        "overhead_p95_ms_c20": c20_p["p95_ms"],
        "live20_p50_ms": live_p["p50_ms"],
        "live20_p95_ms": live_p["p95_ms"],
        "extractive_p50_ms": ext_p["p50_ms"],
        "extractive_p95_ms": ext_p["p95_ms"],
        "retrieval_baseline_p50_ms": base_p["p50_ms"],
        "retrieval_baseline_p95_ms": base_p["p95_ms"],
        "overhead_vs_retrieval_p50_ratio_c1": round(
            c1_p["p50_ms"] / max(base_p["p50_ms"], 1e-6), 2
        ),
        "turns_c1": len(c1),
        "turns_c20": len(c20),
        "turns_live20": len(live20),
        "definitions": {
            "c1": "one conversation, turns back to back",
            "c20": "20 conversations sending back to back with no pause (saturation)",
            "live20": "20 conversations, each pausing ~2 s (exponential) between turns",
        },
        "documents": n_docs,
        "peak_rss_mb": peak_rss_mb(),
        "quick": args.quick,
        "load_avg": load_avg(),
        "machine": machine_info(),
        "timestamp": utc_now(),
    }
    path = write_json("chat_quick.json" if args.quick else "chat.json", summary)
    print(f"\n{'measure':<46}{'p50 ms':>10}{'p95 ms':>10}")
    for name, p in (
        ("retrieval only (baseline)", base_p),
        ("turn overhead, 1 conversation", c1_p),
        ("turn overhead, 20 at once (closed loop)", c20_p),
        ("turn overhead, 20 live visitors (2 s think)", live_p),
        ("extractive answer", ext_p),
    ):
        print(f"{name:<46}{p['p50_ms']:>10.1f}{p['p95_ms']:>10.1f}")
    print(
        f"\noverhead / retrieval (p50, c1): {summary['overhead_vs_retrieval_p50_ratio_c1']}x"
        f"   peak RSS {summary['peak_rss_mb']} MB   load {summary['load_avg']}"
    )
    print(f"written: {path}")


if __name__ == "__main__":
    main()
