"""The local model's forward pass as one TorchScript call, for chat queries.

Why: the eager forward pass of MiniLM is a few hundred small PyTorch calls, and each one
takes the GIL back when it returns. In a busy web process the event loop holds the GIL
most of the time, so each re-take can wait a switch interval (5 ms): a query that embeds
in ~8 ms alone took 16 ms at the median and 54 ms at p95 under 200 load-test visitors,
and over 600 ms beside a thread that never lets go of the GIL. A traced module runs the
whole graph in C++ with the GIL released once: ~40 ms beside that thread, and ~30%
faster alone (bench/query_embedding.py measures both).

Only the plain sentence-transformers stack is traced (Transformer -> mean Pooling ->
optional Normalize, as all-MiniLM-L6-v2 ships); anything else, or a failed trace, keeps
the eager path. The trace runs in fp32 (bf16 autocast only pays off on large batches);
its vectors match the eager fp32 ones to a cosine of 0.99999
(tests/unit/test_embedding_trace.py).
"""

from __future__ import annotations

import inspect
import logging
import threading
import warnings
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

# Two texts of different lengths, so the trace records the padded-batch (masked) path.
_SAMPLE = ["trace sample", "a longer trace sample so that the batch is padded"]


class TracedEncoder:
    """Token features (as `SentenceTransformer.preprocess` returns them) -> mean-pooled
    sentence vectors, not yet normalized."""

    def __init__(self, module: Any, inputs: tuple[str, ...]) -> None:
        self._module = module
        self._inputs = inputs

    def __call__(self, features: dict[str, Any]) -> np.ndarray:
        import torch

        args = [features[name] for name in self._inputs]
        # The simple executor: the profiling one re-specializes the graph for each new
        # input shape, and query lengths vary, so it only added slow first calls.
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            return self._module(*args).float().numpy()


def _plain_stack(model: SentenceTransformer) -> bool:
    """Transformer -> Pooling(mean) [-> Normalize], nothing else."""
    names = [type(m).__name__ for m in model]
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        return False
    config = model[1].get_config_dict()
    mode = config.get("pooling_mode")
    if mode is None:  # sentence-transformers < 6 spells it as flags
        mode = "mean" if config.get("pooling_mode_mean_tokens") else None
        flags = [k for k, v in config.items() if k.startswith("pooling_mode_") and v is True]
        if flags != ["pooling_mode_mean_tokens"]:
            return False
    return mode == "mean"


def _trace(model: SentenceTransformer) -> TracedEncoder:
    import torch

    transformer = model[0].auto_model
    features = model.preprocess(_SAMPLE)
    accepted = inspect.signature(transformer.forward).parameters
    inputs = tuple(
        name
        for name in ("input_ids", "attention_mask", "token_type_ids")
        if name in features and name in accepted
    )

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            kwargs = dict(zip(inputs, args, strict=True))
            tokens = self.transformer(**kwargs)[0]
            mask = kwargs["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            return (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    with warnings.catch_warnings(), torch.inference_mode():
        # TracerWarnings flag Python branches frozen into the graph; for an encoder they
        # are shape checks that hold for every input (tests compare against eager).
        warnings.simplefilter("ignore")
        module = torch.jit.trace(
            MeanPooled().eval(), tuple(features[n] for n in inputs), check_trace=False
        )
    return TracedEncoder(module, inputs)


_TRACE_LOCK = threading.Lock()


@lru_cache(maxsize=4)
def _traced(path: str, device: str) -> TracedEncoder | None:
    from app.rag.embedding import _load_sentence_transformer

    model = _load_sentence_transformer(path, device)
    if device != "cpu" or not _plain_stack(model):
        return None
    try:
        return _trace(model)
    except Exception:  # an unusual model or a torch without TorchScript: stay eager
        log.warning("tracing the embedding model failed; queries use the eager path", exc_info=True)
        return None


def traced_encoder(path: str, device: str) -> TracedEncoder | None:
    """The process's trace of the model at `path`, made once on first use (~0.2 s), or
    None when the model cannot be traced."""
    with _TRACE_LOCK:  # one trace per model, also when two threads ask first
        return _traced(path, device)
