"""Chat queries embedded together: concurrent `embed_query` calls share forward passes.

Under load several turns embed a question at the same moment (the human-request check,
the retriever, the Q&A matcher), each paying the model's fixed cost per call: a forward
pass of MiniLM over one short text costs nearly as much as over several. One worker
thread takes whatever queries are waiting, up to `max_batch`, and embeds them in one call
("natural batching": nothing waits for a batch to fill, so a lone query costs what it did,
plus a thread hand-off). The same text asked twice in one batch is embedded once.
"""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import Any

MAX_BATCH = 16


class BatchingQueryEmbedder:
    def __init__(self, inner: Any, max_batch: int = MAX_BATCH) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.model_name = getattr(inner, "model_name", "model")
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[str, Future]] = queue.SimpleQueue()
        self._start = threading.Lock()
        self._worker: threading.Thread | None = None
        self.batches = 0  # forward calls made (for tests and benchmarks)

    def __getattr__(self, name: str) -> Any:  # everything else is the model's
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_texts(texts)

    def embed_query(self, text: str) -> list[float]:
        self._ensure_worker()
        future: Future = Future()
        self._queue.put((text, future))
        return future.result()

    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            with self._start:
                if self._worker is None or not self._worker.is_alive():
                    self._worker = threading.Thread(
                        target=self._run, name="query-embedder", daemon=True
                    )
                    self._worker.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            texts = list(dict.fromkeys(text for text, _ in batch))
            try:
                vectors = dict(zip(texts, self.inner.embed_texts(texts), strict=True))
            except BaseException as exc:  # handed to every caller
                for _, future in batch:
                    future.set_exception(exc)
                continue
            self.batches += 1
            for text, future in batch:
                future.set_result(list(vectors[text]))
