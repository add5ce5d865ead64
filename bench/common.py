"""Shared helpers for the benchmarks: dataset loading, metrics, timing, machine facts, output."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
# shared/ sits beside the project's root; SCIFACT_DIR overrides it.
SCIFACT = Path(
    os.environ.get("SCIFACT_DIR") or ROOT.parent / "shared" / "datasets" / "scifact-mini"
)
# README of SciFact-mini: reference figures on the test split (whole documents).
SCIFACT_REFERENCE_BM25 = {
    "bm25s_0.3.16_k1.5_b0.75_stopwords_stemmer": {"ndcg10": 0.8128, "recall100": 0.962},
    "rank_bm25_okapi_k1.5_b0.75_no_stemming": {"ndcg10": 0.7903, "recall100": 0.937},
}


@dataclass(frozen=True, slots=True)
class CorpusDoc:
    id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """What SciFact-mini's README says to index: title + " " + text."""
        return f"{self.title} {self.text}"


def load_corpus(limit: int | None = None) -> list[CorpusDoc]:
    docs: list[CorpusDoc] = []
    with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            docs.append(CorpusDoc(str(row["_id"]), row.get("title") or "", row.get("text") or ""))
            if limit is not None and len(docs) >= limit:
                break
    return docs


def load_queries() -> dict[str, str]:
    queries: dict[str, str] = {}
    with (SCIFACT / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            queries[str(row["_id"])] = row["text"]
    return queries


def load_qrels(split: str) -> dict[str, dict[str, int]]:
    """query id -> {document id: relevance} (BEIR tsv with a header row)."""
    qrels: dict[str, dict[str, int]] = {}
    lines = (SCIFACT / "qrels" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:]:
        if not line.strip():
            continue
        qid, did, score = line.split("\t")[:3]
        qrels.setdefault(qid, {})[did] = int(score)
    return qrels


# ---- metrics ---------------------------------------------------------------------------


def ndcg_at_k(ranking: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """nDCG@k with graded gains (BEIR / trec_eval convention: gain = relevance)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranking[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 2) for rank, rel in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranking: Sequence[str], relevant: dict[str, int], k: int) -> float:
    wanted = {d for d, rel in relevant.items() if rel > 0}
    if not wanted:
        return 0.0
    return len(wanted & set(ranking[:k])) / len(wanted)


def evaluate(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean nDCG@10, recall@10 and recall@100 over the judged queries."""
    qids = [q for q in qrels if q in rankings]
    if not qids:
        return {"ndcg10": 0.0, "recall10": 0.0, "recall100": 0.0, "queries": 0}
    return {
        "ndcg10": round(float(np.mean([ndcg_at_k(rankings[q], qrels[q]) for q in qids])), 4),
        "recall10": round(
            float(np.mean([recall_at_k(rankings[q], qrels[q], 10) for q in qids])), 4
        ),
        "recall100": round(
            float(np.mean([recall_at_k(rankings[q], qrels[q], 100) for q in qids])), 4
        ),
        "queries": len(qids),
    }


def percentiles_ms(seconds: Iterable[float]) -> dict[str, float]:
    values = np.asarray(list(seconds), dtype=np.float64) * 1000.0
    if values.size == 0:
        return {"n": 0}
    return {
        "n": int(values.size),
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p95_ms": round(float(np.percentile(values, 95)), 3),
        "max_ms": round(float(values.max()), 3),
        "mean_ms": round(float(values.mean()), 3),
    }


# ---- process and machine ---------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def children_peak_rss_mb() -> float:
    """Largest peak resident set among waited-for children (the parse sandboxes)."""
    return round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def machine_info() -> dict[str, Any]:
    import torch

    from app.rag.embedding import native_bf16

    packages = (
        "torch",
        "sentence-transformers",
        "qdrant-edge-py",
        "qdrant-client",
        "llama-index-core",
        "llama-index-embeddings-huggingface",
    )
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "native_bf16": native_bf16(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": {name: _version(name) for name in packages},
    }


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds` (wall) and `sw.cpu` (process CPU)."""

    def __enter__(self) -> Stopwatch:
        self._w0, self._c0 = time.perf_counter(), time.process_time()
        self.seconds = 0.0
        self.cpu = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._w0
        self.cpu = time.process_time() - self._c0


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    return path


def log(message: str) -> None:
    """Progress on stderr, so stdout keeps only the result table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class ChildMemorySampler:
    """Peak memory of this process's short-lived children (the parse sandboxes), by polling.

    getrusage(RUSAGE_CHILDREN).ru_maxrss is no use for them: a child started with
    fork/vfork + exec is charged the parent's high-water RSS at exec time, so it reports
    the benchmark's own size. This thread reads each child's VmHWM (peak RSS of its own
    address space, i.e. after exec) from /proc every `interval_s`; a child that lives less
    than one interval may be missed or read early.
    """

    def __init__(self, interval_s: float = 0.01) -> None:
        self.interval_s = interval_s
        self.peaks_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="child-rss", daemon=True)

    def __enter__(self) -> ChildMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    @staticmethod
    def _children() -> set[int]:
        pids: set[int] = set()
        for task in Path("/proc/self/task").iterdir():
            try:
                pids.update(int(p) for p in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
        return pids

    @staticmethod
    def _hwm_kb(pid: int) -> int | None:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            for pid in self._children():
                kb = self._hwm_kb(pid)
                if kb:
                    # The last reading, not the max: VmHWM only grows within one address
                    # space, and a reading taken before exec would be the parent's.
                    self.peaks_kb[pid] = kb

    def summary(self) -> dict[str, Any]:
        peaks = sorted(self.peaks_kb.values())
        if not peaks:
            return {"children_seen": 0}
        return {
            "children_seen": len(peaks),
            "max_mb": round(peaks[-1] / 1024, 1),
            "median_mb": round(peaks[len(peaks) // 2] / 1024, 1),
        }


def start_prod_server(env: dict[str, str], base: str, log_path: Path) -> Any:
    """`reflex run --env prod` in its own process group, returned once /api/health is 200
    (SystemExit with the log's tail if it dies or takes over 600 s)."""
    import subprocess

    import httpx

    reflex = str(Path(sys.executable).with_name("reflex"))
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [reflex, "run", "--env", "prod", "--loglevel", "warning"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("server did not start in 600 s")
