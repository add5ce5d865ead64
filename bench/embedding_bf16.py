"""bf16 autocast vs fp32 for the local embedder, and LocalEmbedder vs raw encode.

Run: HF_HUB_OFFLINE=1 .venv/bin/python bench/embedding_bf16.py [--chunks 500] [--repeats 3]
Writes bench/results/embedding_bf16.json. Decision rule (app/rag/embedding.py DEFAULT_BF16):
bf16 stays on by default only if the min cosine to fp32 over the chunks is >= 0.9999.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# Running by path puts bench/ first on sys.path, where a module named like a stdlib one
# (as bench/concurrent.py once did) would shadow it: import from the project root only.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402

from app.rag.chunking import chunk_document, count_tokens  # noqa: E402
from app.rag.embedding import LocalEmbedder  # noqa: E402
from app.rag.types import ParsedDocument, Section  # noqa: E402
from bench.common import cpu_name  # noqa: E402

CORPUS = (
    Path(os.environ.get("SCIFACT_DIR") or ROOT.parent / "shared" / "datasets" / "scifact-mini")
    / "corpus.jsonl"
)
OUT = ROOT / "bench" / "results" / "embedding_bf16.json"
MIN_COSINE = 0.9999


def scifact_chunks(n: int) -> list[str]:
    texts: list[str] = []
    with CORPUS.open() as handle:
        for line in handle:
            doc = json.loads(line)
            section = Section(doc["title"] + " " + doc["text"])
            parsed = ParsedDocument(kind="text", sections=[section])
            chunks = chunk_document(parsed, tenant_id="bench", document_id=doc["_id"], title="")
            texts.extend(c.text for c in chunks)
            if len(texts) >= n:
                break
    return texts[:n]


def measure(fns: dict[str, Callable[[], np.ndarray]], repeats: int) -> dict[str, Any]:
    """Wall and CPU seconds per config, configs interleaved (order flipped every round).

    The machine is shared: interleaving spreads load from other processes over every
    config, and CPU time (all threads of this process) is barely affected by it.
    """
    wall: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    out: dict[str, np.ndarray] = {}
    for round_ in range(repeats):
        order = list(fns.items())
        for name, fn in order if round_ % 2 == 0 else order[::-1]:  # no config always first
            w0, c0 = time.perf_counter(), time.process_time()
            out[name] = fn()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {"wall": wall, "cpu": cpu, "out": out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    texts = scifact_chunks(args.chunks)
    fp32 = LocalEmbedder(bf16=False, batch_size=args.batch_size)
    bf16 = LocalEmbedder(bf16=True, batch_size=args.batch_size)
    model = fp32.model
    fp32.embed_array(texts[:64])
    bf16.embed_array(texts[:64])

    def raw(autocast: bool) -> np.ndarray:
        ctx = torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast)
        with ctx:
            return model.encode(
                texts,
                batch_size=args.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )

    runs = measure(
        {
            "fp32": lambda: fp32.embed_array(texts),
            "bf16": lambda: bf16.embed_array(texts),
            "raw_fp32": lambda: raw(False),
            "raw_bf16": lambda: raw(True),
        },
        args.repeats,
    )
    wall = {k: min(v) for k, v in runs["wall"].items()}  # least disturbed run
    cpu = {k: min(v) for k, v in runs["cpu"].items()}
    v_fp32, v_bf16, v_raw32 = (runs["out"][k] for k in ("fp32", "bf16", "raw_fp32"))
    cos = np.sum(v_fp32 * v_bf16, axis=1)
    cos_raw = np.sum(v_fp32 * v_raw32.astype(np.float32), axis=1)
    n = len(texts)
    result = {
        "chunks": n,
        "mean_tokens_per_chunk": round(float(np.mean([count_tokens(t) for t in texts])), 1),
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "fp32_chunks_per_s": round(n / wall["fp32"], 1),
        "bf16_chunks_per_s": round(n / wall["bf16"], 1),
        "bf16_speedup_wall": round(wall["fp32"] / wall["bf16"], 3),
        "bf16_speedup_cpu_time": round(cpu["fp32"] / cpu["bf16"], 3),
        "bf16_cosine_min": float(cos.min()),
        "bf16_cosine_mean": float(cos.mean()),
        "bf16_default_ok": bool(cos.min() >= MIN_COSINE),
        "raw_encode_fp32_chunks_per_s": round(n / wall["raw_fp32"], 1),
        "raw_encode_bf16_chunks_per_s": round(n / wall["raw_bf16"], 1),
        # > 1 means LocalEmbedder is faster than a plain SentenceTransformer.encode.
        "local_vs_raw_fp32_ratio_wall": round(wall["raw_fp32"] / wall["fp32"], 3),
        "local_vs_raw_fp32_ratio_cpu_time": round(cpu["raw_fp32"] / cpu["fp32"], 3),
        "local_vs_raw_bf16_ratio_wall": round(wall["raw_bf16"] / wall["bf16"], 3),
        "local_vs_raw_bf16_ratio_cpu_time": round(cpu["raw_bf16"] / cpu["bf16"], 3),
        "local_vs_raw_fp32_cosine_min": float(cos_raw.min()),
        "wall_seconds": {k: [round(x, 2) for x in v] for k, v in runs["wall"].items()},
    }
    print(json.dumps(result, indent=2))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
