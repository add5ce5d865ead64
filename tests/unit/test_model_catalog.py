"""The default-model list asked from real (local) HTTP servers speaking each provider's
models endpoint: OpenAI-compatible `/v1/models`, Anthropic `/v1/models`, Gemini
`/v1beta/models`; refused keys, dead servers, slow and oversized answers fall back to the
known models."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.services import model_catalog
from app.services.model_catalog import list_models


@dataclass
class Creds:
    openai_key: str | None = None
    openai_base_url: str | None = None
    anthropic_key: str | None = None
    anthropic_base_url: str | None = None
    compat_base_url: str | None = None
    compat_key: str | None = None
    gemini_key: str | None = None


SEEN: list[tuple[str, dict[str, str]]] = []
HANG = threading.Event()


class Provider(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        SEEN.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        path = self.path.split("?")[0]
        if path.startswith("/slow"):
            HANG.wait(10)
            return self._json(200, {"data": []})
        if path.startswith("/huge"):
            return self._json(200, {"data": [{"id": "m" * 100}] * 30_000})
        if path == "/openai/v1/models":
            if self.headers.get("Authorization") != "Bearer sk-good":
                return self._json(401, {"error": {"message": "bad key"}})
            ids = ["gpt-4o-mini", "gpt-5-mini", "text-embedding-3-small", "whisper-1", "tts-1"]
            return self._json(200, {"object": "list", "data": [{"id": i} for i in ids]})
        if path == "/ollama/v1/models":  # Ollama's OpenAI-compatible endpoint, no key
            return self._json(200, {"data": [{"id": "llama3.2:latest"}, {"id": "qwen2.5:7b"}]})
        if path == "/anthropic/v1/models":
            ok = self.headers.get("x-api-key") == "ant-good" and self.headers.get(
                "anthropic-version"
            )
            if not ok:
                return self._json(401, {"type": "error"})
            return self._json(
                200,
                {"data": [{"id": "claude-haiku-4-5", "type": "model"}], "has_more": False},
            )
        if path == "/gemini/v1beta/models":
            if self.headers.get("x-goog-api-key") != "g-good":
                return self._json(403, {"error": {}})
            return self._json(
                200,
                {
                    "models": [
                        {
                            "name": "models/gemini-2.5-flash",
                            "supportedGenerationMethods": ["generateContent"],
                        },
                        {
                            "name": "models/text-embedding-004",
                            "supportedGenerationMethods": ["embedContent"],
                        },
                    ]
                },
            )
        return self._json(404, {})


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    HANG.set()
    httpd.shutdown()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _models(catalog: model_catalog.Catalog, provider: str) -> list[str]:
    return [o.model for o in catalog.options if o.provider == provider]


def test_every_provider_lists_its_chat_models(server: str) -> None:
    SEEN.clear()
    creds = Creds(
        openai_key="sk-good",
        openai_base_url=f"{server}/openai/v1",
        anthropic_key="ant-good",
        anthropic_base_url=f"{server}/anthropic",
        compat_base_url=f"{server}/ollama/v1",
        gemini_key="g-good",
    )
    catalog = asyncio.run(list_models(creds, gemini_base_url=f"{server}/gemini"))
    assert catalog.unreachable == {}
    assert _models(catalog, "openai") == ["gpt-4o-mini", "gpt-5-mini"]  # no embeddings/speech
    assert _models(catalog, "anthropic") == ["claude-haiku-4-5"]
    assert _models(catalog, "openai_compatible") == ["llama3.2:latest", "qwen2.5:7b"]
    assert _models(catalog, "gemini") == ["gemini-2.5-flash"]
    ollama = next(h for p, h in SEEN if p.startswith("/ollama"))
    assert "authorization" not in ollama  # no key configured: none sent
    gemini = next((p, h) for p, h in SEEN if p.startswith("/gemini"))
    assert "g-good" not in gemini[0]  # the key travels in a header, never in the URL


def test_refused_dead_slow_and_huge_fall_back_to_known_models(server: str) -> None:
    creds = Creds(
        openai_key="sk-wrong",
        openai_base_url=f"{server}/openai/v1",
        anthropic_key="ant-good",
        anthropic_base_url=f"http://127.0.0.1:{_closed_port()}",
        compat_base_url=f"{server}/slow/v1",
        gemini_key="g-good",
    )
    catalog = asyncio.run(list_models(creds, timeout_s=0.5, gemini_base_url=f"{server}/huge"))
    assert catalog.unreachable == {
        "openai": "the key was refused (HTTP 401)",
        "anthropic": "could not connect",
        "openai_compatible": "no answer in time",
        "gemini": "the model list is too large",
    }
    assert _models(catalog, "openai") == model_catalog.known_models("openai")
    assert "gpt-4o-mini" in _models(catalog, "openai")
    assert "claude-haiku-4-5" in _models(catalog, "anthropic")
    assert _models(catalog, "openai_compatible") == []  # nothing is known about a local server
    assert "gemini-2.5-flash" in _models(catalog, "gemini")


def test_no_provider_no_request() -> None:
    assert asyncio.run(list_models(Creds())) == model_catalog.Catalog()
