"""Chat query embedding: the eager forward pass vs the traced one (app/rag/embedding_trace.py).

    python -m bench.query_embedding [--quick]

The web process embeds each question while its event loop keeps running Python on the
other thread. Eager PyTorch re-takes the GIL after each of a few hundred small calls, and
each re-take can wait a switch interval when the GIL is busy; the TorchScript trace
releases it once for the whole graph. Measured in one process, configs interleaved query
by query, on SciFact questions:

- `alone`: nothing else running.
- `busy_two_thirds`: a Python thread computes 2 ms and sleeps 1 ms in a loop (an event
  loop with work to do: the GIL is held about two thirds of the time).
- `gil_held`: a Python thread that never sleeps (the worst case).

`eager` is what queries used before (bf16 autocast where the CPU has it, one intra-op
thread); `traced` is what they use now (fp32 trace, one thread). Figures: p50/p95 per
config and condition, the traced/eager ratios, and the agreement of the vectors (min
cosine of traced to eager fp32 and to eager bf16). Writes bench/results/query_embedding.json
(`--quick`: fewer questions, query_embedding_quick.json).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.common import (
    load_avg,
    load_queries,
    log,
    machine_info,
    percentiles_ms,
    utc_now,
    write_json,
)


class Busy:
    """A background Python thread holding the GIL `busy_s` out of every `busy_s + idle_s`."""

    def __init__(self, busy_s: float, idle_s: float) -> None:
        self.busy_s, self.idle_s = busy_s, idle_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        x = 0
        while not self._stop.is_set():
            end = time.perf_counter() + self.busy_s
            while time.perf_counter() < end:
                for i in range(200):
                    x += i * i
            if self.idle_s:
                time.sleep(self.idle_s)

    def __enter__(self) -> Busy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(configs: dict[str, Callable[[str], Any]], questions: list[str]) -> dict[str, Any]:
    """Per config, each question timed once; configs alternate (order flipped per question)."""
    times: dict[str, list[float]] = {name: [] for name in configs}
    names = list(configs)
    for i, question in enumerate(questions):
        for name in names if i % 2 == 0 else names[::-1]:
            t0 = time.perf_counter()
            configs[name](question)
            times[name].append(time.perf_counter() - t0)
    return {name: percentiles_ms(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 questions (CI)")
    args = parser.parse_args()
    from app.rag.embedding import LocalEmbedder

    questions = list(load_queries().values())[: 40 if args.quick else 300]
    eager = LocalEmbedder(torch_threads=1)  # the query path before the trace
    traced = LocalEmbedder(torch_threads=1, traced=True)
    fp32 = LocalEmbedder(torch_threads=1, bf16=False)
    for model in (eager, traced, fp32):
        model.embed_array(questions[:4])  # load, trace, first-call allocations
    a, b, c = (m.embed_array(questions) for m in (traced, fp32, eager))
    agreement = {
        "min_cosine_traced_vs_eager_fp32": round(float(np.min(np.sum(a * b, axis=1))), 7),
        "min_cosine_traced_vs_eager_bf16": round(float(np.min(np.sum(a * c, axis=1))), 7),
        "eager_bf16": bool(eager.bf16),
    }
    configs = {
        "eager": lambda q: eager.embed_array([q]),
        "traced": lambda q: traced.embed_array([q]),
    }
    conditions: dict[str, Any] = {}
    for condition, busy in (
        ("alone", None),
        ("busy_two_thirds", (0.002, 0.001)),
        ("gil_held", (1.0, 0.0)),
    ):
        log(f"{condition}: {len(questions)} questions per config")
        if busy is None:
            conditions[condition] = measure(configs, questions)
        else:
            with Busy(*busy):
                conditions[condition] = measure(configs, questions)
    ratios = {
        condition: {
            f"traced_vs_eager_{p}": round(r["traced"][f"{p}_ms"] / r["eager"][f"{p}_ms"], 3)
            for p in ("p50", "p95")
        }
        for condition, r in conditions.items()
    }
    summary = {
        "benchmark": "query_embedding",
        "when": utc_now(),
        "quick": args.quick,
        "questions": len(questions),
        "conditions": conditions,
        "ratios": ratios,
        "agreement": agreement,
        "load_average_after": load_avg(),
        "machine": machine_info(),
    }
    name = "query_embedding_quick.json" if args.quick else "query_embedding.json"
    path = write_json(name, summary)
    header = f"{'eager p50':>11}{'p95':>8}{'traced p50':>12}{'p95':>8}{'ratio p95':>11}"
    print(f"{'condition':18}{header}")
    for condition, r in conditions.items():
        print(
            f"{condition:18}{r['eager']['p50_ms']:>11.1f}{r['eager']['p95_ms']:>8.1f}"
            f"{r['traced']['p50_ms']:>12.1f}{r['traced']['p95_ms']:>8.1f}"
            f"{ratios[condition]['traced_vs_eager_p95']:>11.3f}"
        )
    print(agreement)
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
