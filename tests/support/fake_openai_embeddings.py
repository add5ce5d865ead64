"""A local server that speaks OpenAI's `POST /v1/embeddings` protocol.

Tests drive the real openai SDK (through LlamaIndex's `OpenAIEmbedding`) against it:

    with FakeEmbeddings(dim=1536) as server:
        embedder = OpenAIEmbedder(api_key="sk-test", base_url=server.url)

Vectors are deterministic per text (seeded by the text), returned unnormalized and in
reverse `index` order, like nothing a client should rely on. Texts that share a word of
`TOPIC_WORDS` get similar vectors, so retrieval over them is meaningful. Every request is
recorded (path, Authorization header, JSON body); an empty input string answers 400, as
OpenAI does.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")


def fake_vector(seed: str, dim: int) -> np.ndarray:
    """The unit vector the server derives from `seed` (before its own 3x scaling)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8]))
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def topical_vector(text: str, dim: int) -> np.ndarray:
    """Bag of words: the sum of one random direction per word, so shared words mean closeness."""
    words = _WORD.findall(text.lower()) or [text]
    v = np.sum([fake_vector(w, dim) for w in words], axis=0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


class FakeEmbeddings:
    def __init__(self, dim: int = 1536, *, topical: bool = False) -> None:
        self.dim = dim
        self.topical = topical
        self.requests: list[dict[str, Any]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization"), **body}
                )
                inputs = body.get("input")
                if self.path != "/v1/embeddings" or not isinstance(inputs, list):
                    self.send_error(400)
                    return
                if any(not t for t in inputs):
                    self.send_error(400, "'$.input' is invalid")
                    return
                dim = int(body.get("dimensions") or owner.dim)
                make = topical_vector if owner.topical else fake_vector
                data = [
                    {"object": "embedding", "index": i, "embedding": (3 * make(t, dim)).tolist()}
                    for i, t in reversed(list(enumerate(inputs)))
                ]
                payload = json.dumps(
                    {
                        "object": "list",
                        "data": data,
                        "model": body["model"],
                        "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def embedded_texts(self) -> list[str]:
        return [t for r in self.requests for t in r.get("input", [])]

    def __enter__(self) -> FakeEmbeddings:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
