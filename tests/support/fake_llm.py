"""Local servers that speak the OpenAI chat.completions, Anthropic messages and Gemini
generateContent protocols.

One `FakeLLM` serves all three on 127.0.0.1 (a free port), in a background thread, so tests
can drive the official SDKs (and the LlamaIndex integrations over them) against it:

    with FakeLLM() as llm:
        llm.script.text = "Hello [1]."
        client = AsyncOpenAI(api_key="x", base_url=llm.openai_url)       # .../v1
        client = AsyncAnthropic(api_key="x", base_url=llm.anthropic_url)
        client = genai.Client(api_key="x", http_options={"base_url": llm.gemini_native_url})

Routes: POST `<anything>/chat/completions` (OpenAI, OpenAI-compatible; streamed, or one
JSON body when `stream` is false), POST `/v1/messages` (Anthropic), POST
`/v1beta/models/<model>:generateContent` / `:streamGenerateContent?alt=sse` (Gemini's
native REST API) and GET `<anything>/models` (the model list, `MODELS`). Each POST is
recorded (path, headers, JSON body). `Script` decides what the next calls get: the answer
text and its chunks, tool calls (OpenAI `tool_calls` deltas, Anthropic `tool_use` blocks),
usage numbers, an error status for the first N calls (with Retry-After), delays, a
mid-stream drop. `FakeLLM.queue` holds scripts for the next calls, one each, in order
(a tool-calling turn: first the calls, then the answer); then `script` applies again.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.loopback_server import LoopbackServer

MODELS = ("llama3.2", "qwen2.5:7b")  # what GET .../models lists


@dataclass
class Script:
    text: str = "The answer is 42 [1]."
    chunks: list[str] | None = None  # explicit deltas; default: split `text` on spaces
    tokens_in: int = 120
    tokens_out: int = 9
    cache_read: int = 0
    cache_write: int = 0
    model: str | None = None  # reported model; default: the requested one
    fail_first: int = 0  # the first N calls answer `fail_status`
    fail_status: int = 503
    retry_after: str | None = None  # Retry-After header on failures
    delay_headers: float = 0.0  # seconds before the response starts
    delay_chunks: float = 0.0  # seconds between streamed chunks
    drop_after_chunks: int | None = None  # close the stream after N text chunks
    # Answer with these tool calls ({"name": ..., "arguments": {...}}) instead of text:
    # OpenAI finish_reason "tool_calls", Anthropic stop_reason "tool_use". Several = parallel.
    tool_calls: list[dict[str, Any]] | None = None

    def deltas(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)]


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeLLM:
    script: Script = field(default_factory=Script)
    queue: list[Script] = field(default_factory=list)  # for the next calls, one each
    requests: list[Recorded] = field(default_factory=list)
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.port = 0
        self._lock = threading.Lock()
        self._calls = 0
        self._server: LoopbackServer | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def gemini_url(self) -> str:
        return f"{self.url}/v1beta/openai/"

    @property
    def anthropic_url(self) -> str:
        return self.url

    @property
    def gemini_native_url(self) -> str:
        """google-genai's `HttpOptions.base_url` (it appends /v1beta/models/...)."""
        return self.url

    @property
    def count(self) -> int:
        return len(self.requests)

    def reset(self, script: Script | None = None) -> None:
        with self._lock:
            self.script = script or Script()
            self.queue.clear()
            self.requests.clear()
            self._calls = 0

    def start(self) -> FakeLLM:
        self._server = LoopbackServer(self._app(), self.host).start()
        self.port = self._server.port
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- protocol -----------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/{prefix:path}/chat/completions", self._openai, methods=["POST"]),
                Route("/{prefix:path}/models", self._models, methods=["GET"]),
                Route("/{version}/models/{call:path}", self._gemini, methods=["POST"]),
            ]
        )

    async def _models(self, request: Request) -> Response:
        """The OpenAI-style model list an Ollama or vLLM server answers."""
        return JSONResponse({"object": "list", "data": [{"id": m} for m in MODELS]})

    async def _begin(self, request: Request) -> tuple[Script, dict[str, Any], Response | None]:
        """Record the call; return the script and, when this call must fail, the error."""
        body = await request.json()
        with self._lock:
            self.requests.append(Recorded(request.url.path, dict(request.headers), body))
            self._calls += 1
            call = self._calls
            script = self.queue.pop(0) if self.queue else self.script
        if script.delay_headers:
            await asyncio.sleep(script.delay_headers)
        if call <= script.fail_first:
            headers = {"retry-after": script.retry_after} if script.retry_after else {}
            return script, body, self._error(request, script.fail_status, headers)
        return script, body, None

    @staticmethod
    def _error(request: Request, status: int, headers: dict[str, str]) -> Response:
        message = f"fake error {status}"
        if status == 401:  # like OpenAI, echo the key: callers must never show this body
            key = request.headers.get("x-api-key") or request.headers.get("authorization", "")
            message = f"Incorrect API key provided: {key.removeprefix('Bearer ')}"
        if "/models/" in request.url.path:  # Gemini: google.rpc.Status
            code = {401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}
            error = {"code": status, "message": message, "status": code.get(status, "INTERNAL")}
            return JSONResponse({"error": error}, status_code=status, headers=headers)
        if request.url.path == "/v1/messages":
            kind = {401: "authentication_error", 429: "rate_limit_error"}.get(status, "api_error")
            if status == 529:
                kind = "overloaded_error"
            payload: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            payload = {"error": {"message": message, "type": "error", "code": str(status)}}
        return JSONResponse(payload, status_code=status, headers=headers)

    async def _openai(self, request: Request) -> Response:
        script, body, error = await self._begin(request)
        if error is not None:
            return error
        model = script.model or body.get("model", "")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        usage = {
            "prompt_tokens": script.tokens_in + script.cache_read,
            "completion_tokens": script.tokens_out,
            "total_tokens": script.tokens_in + script.cache_read + script.tokens_out,
            "prompt_tokens_details": {"cached_tokens": script.cache_read},
        }
        calls = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
            }
            for i, c in enumerate(script.tool_calls or [])
        ]

        async def events() -> AsyncIterator[str]:
            yield _sse(chunk({"role": "assistant", "content": ""}))
            if calls:
                for i, call in enumerate(calls):  # name first, then the arguments in two
                    args = call["function"]["arguments"]
                    head = {**call, "index": i, "function": {"name": call["function"]["name"]}}
                    yield _sse(chunk({"tool_calls": [head]}))
                    for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                        yield _sse(
                            chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]})
                        )
                yield _sse(chunk({}, "tool_calls"))
                if include_usage:
                    yield _sse({**chunk({}), "choices": [], "usage": usage})
                yield "data: [DONE]\n\n"
                return
            for i, text in enumerate(script.deltas()):
                if script.drop_after_chunks is not None and i >= script.drop_after_chunks:
                    raise ConnectionAbortedError("fake drop")  # uvicorn cuts the stream
                if script.delay_chunks:
                    await asyncio.sleep(script.delay_chunks)
                yield _sse(chunk({"content": text}))
            yield _sse(chunk({}, "stop"))
            if include_usage:
                yield _sse({**chunk({}), "choices": [], "usage": usage})
            yield "data: [DONE]\n\n"

        if not body.get("stream"):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": None if calls else script.text,
            }
            if calls:
                message["tool_calls"] = calls
            choice = {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if calls else "stop",
            }
            completion = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [choice],
                "usage": usage,
            }
            return JSONResponse(completion)
        return StreamingResponse(events(), media_type="text/event-stream")

    async def _anthropic(self, request: Request) -> Response:
        script, body, error = await self._begin(request)
        if error is not None:
            return error
        model = script.model or body.get("model", "")

        async def events() -> AsyncIterator[str]:
            start_usage = {
                "input_tokens": script.tokens_in,
                "output_tokens": 1,
                "cache_creation_input_tokens": script.cache_write,
                "cache_read_input_tokens": script.cache_read,
            }
            message = {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": model,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": start_usage,
            }
            yield _sse({"type": "message_start", "message": message}, "message_start")
            if script.tool_calls:
                for i, call in enumerate(script.tool_calls):
                    use = {
                        "type": "tool_use",
                        "id": f"toolu_{i}",
                        "name": call["name"],
                        "input": {},
                    }
                    start = {"type": "content_block_start", "index": i, "content_block": use}
                    yield _sse(start, "content_block_start")
                    args = json.dumps(call["arguments"])
                    for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                        delta = {"type": "input_json_delta", "partial_json": part}
                        event = {"type": "content_block_delta", "index": i, "delta": delta}
                        yield _sse(event, "content_block_delta")
                    yield _sse({"type": "content_block_stop", "index": i}, "content_block_stop")
                delta_event = {
                    "type": "message_delta",
                    "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                    "usage": {"output_tokens": script.tokens_out},
                }
                yield _sse(delta_event, "message_delta")
                yield _sse({"type": "message_stop"}, "message_stop")
                return
            block = {"type": "content_block_start", "index": 0}
            yield _sse({**block, "content_block": {"type": "text", "text": ""}}, block["type"])
            yield _sse({"type": "ping"}, "ping")
            for i, text in enumerate(script.deltas()):
                if script.drop_after_chunks is not None and i >= script.drop_after_chunks:
                    raise ConnectionAbortedError("fake drop")
                if script.delay_chunks:
                    await asyncio.sleep(script.delay_chunks)
                delta = {"type": "text_delta", "text": text}
                event = {"type": "content_block_delta", "index": 0, "delta": delta}
                yield _sse(event, "content_block_delta")
            yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            delta_event = {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": script.tokens_out},
            }
            yield _sse(delta_event, "message_delta")
            yield _sse({"type": "message_stop"}, "message_stop")

        if not body.get("stream"):
            return JSONResponse({"type": "error", "error": {"message": "stream only"}}, 400)
        return StreamingResponse(events(), media_type="text/event-stream")

    async def _gemini(self, request: Request) -> Response:
        model, _, method = request.path_params["call"].partition(":")
        if method not in ("generateContent", "streamGenerateContent"):
            return JSONResponse({"error": {"code": 404, "message": "no such method"}}, 404)
        script, _body, error = await self._begin(request)
        if error is not None:
            return error
        version = script.model or model

        def response(parts: list[dict[str, Any]], last: bool) -> dict[str, Any]:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
            if last:
                candidate["finishReason"] = "STOP"
            return {
                "candidates": [candidate],
                "usageMetadata": {  # cumulative, as Gemini reports it on every chunk
                    "promptTokenCount": script.tokens_in + script.cache_read,
                    "candidatesTokenCount": script.tokens_out if last else 1,
                    "totalTokenCount": script.tokens_in + script.cache_read + script.tokens_out,
                    "cachedContentTokenCount": script.cache_read,
                },
                "modelVersion": version,
                "responseId": "fake-response",
            }

        if method == "generateContent":
            return JSONResponse(response([{"text": script.text}], last=True))

        async def events() -> AsyncIterator[str]:
            deltas = script.deltas()
            for i, text in enumerate(deltas):
                if script.drop_after_chunks is not None and i >= script.drop_after_chunks:
                    raise ConnectionAbortedError("fake drop")
                if script.delay_chunks:
                    await asyncio.sleep(script.delay_chunks)
                yield _sse(response([{"text": text}], last=i == len(deltas) - 1))

        return StreamingResponse(events(), media_type="text/event-stream")


def _sse(data: dict[str, Any], event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n"
