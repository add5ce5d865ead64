"""Answers from LlamaIndex LLM integrations, behind the responder interface.

Every answerer is a LlamaIndex `LLM` object wrapped in an `LLMResponder`:

- `OpenAIResponder`: `llama_index.llms.openai.OpenAI` (OpenAI's API), or
  `llama_index.llms.openai_like.OpenAILike` for OpenAI-compatible servers (Ollama, vLLM,
  LM Studio);
- `AnthropicResponder`: `CachingAnthropic`, a subclass of `llama_index.llms.anthropic.
  Anthropic` that sends the system prompt and the sources as two cached system blocks and
  reports the cache read/write token counts;
- `GeminiResponder`: `llama_index.llms.google_genai.GoogleGenAI` (Gemini's native API);
- `ExtractiveLLMResponder` (`app.rag.llm_extractive`): `ExtractiveLLM`, a `CustomLLM` over
  the offline answerer.

`LLMResponder.stream(req)` builds the chat messages from `app.rag.prompting`, streams
`llm.astream_chat(...)`, enforces the first-token and total deadlines, reads the usage each
integration reports (tokens in/out, cached) and the model name, and translates failures into
`ProviderError`. Retry, circuit breaker, fallback and the leak guard wrap it
(`app.rag.answer`). The LLM object itself is `responder.llm`: tools go through it
(`await responder.llm.achat_with_tools(tools, user_msg=...)`), as for any LlamaIndex
`FunctionCallingLLM`.

Plugging another LlamaIndex LLM: subclass `LLMResponder`, set `provider`, return the LLM
from `_make_llm()`, and read its usage in `_read()` (see the README).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import typing
import weakref
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

import llama_index.llms.anthropic.utils as _anthropic_utils
from google.genai import types as genai_types
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import LLM
from llama_index.llms.anthropic import Anthropic
from llama_index.llms.google_genai import GoogleGenAI
from llama_index.llms.openai import OpenAI
from llama_index.llms.openai_like import OpenAILike

from app.rag.answer import (
    TIER_DEFAULT_MODELS,
    Provider,
    ProviderCredentials,
    ProviderError,
    Responder,
    Timeouts,
    provider_for,
    translate_error,
)
from app.rag.answer_types import AnswerDone, AnswerEvent, AnswerRequest, Usage
from app.rag.prompting import PromptParts, build_messages

log = logging.getLogger(__name__)

COMPAT_DUMMY_KEY = "not-needed"  # Ollama / vLLM / LM Studio ignore the key; the SDK wants one
# Metadata the integrations ask for (a context window, an output budget). Passing them
# keeps constructors from calling the provider (GoogleGenAI looks the model up otherwise).
CONTEXT_WINDOW = 128_000
MAX_OUTPUT_TOKENS = 800
_EPHEMERAL = {"type": "ephemeral"}


@dataclass(slots=True)
class LLMRun:
    """What a provider stream reports besides text."""

    model: str
    usage: Usage = field(default_factory=Usage)
    answered: bool = True
    confidence: float | None = None  # the extractive answerer's own; LLMs report none


# LLM objects hold SDK clients whose connection pools are bound to an event loop: one object
# per (loop, provider, endpoint, key, model, timeouts), dropped with the loop. Keys are
# hashed so they don't sit in a dict key.
_llms: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], LLM]] = (
    weakref.WeakKeyDictionary()
)
_llms_lock = threading.Lock()
_no_loop: dict[tuple[str, ...], LLM] = {}


def cached_llm(key: tuple[str, ...], factory: Callable[[], LLM]) -> LLM:
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    with _llms_lock:
        per_loop = _llms.setdefault(loop, {}) if loop is not None else _no_loop
        if key not in per_loop:
            per_loop[key] = factory()
        return per_loop[key]


class LLMResponder:
    """A LlamaIndex LLM behind the responder interface (see the module docstring)."""

    provider: str = "llm"

    def __init__(
        self,
        model: str,
        *,
        api_key: str = "",
        base_url: str | None = None,
        timeouts: Timeouts | None = None,
    ) -> None:
        self._api_key = api_key
        self.base_url = base_url
        self.model = model
        self.timeouts = timeouts or Timeouts()

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(provider={self.provider!r}, model={self.model!r})"

    @property
    def breaker_key(self) -> str:
        return f"{self.provider}|{self.base_url or 'default'}"

    # ---- what a subclass provides ------------------------------------------------------

    def _make_llm(self) -> LLM:
        raise NotImplementedError

    def _messages(self, parts: PromptParts) -> list[ChatMessage]:
        # One system message: some compatible servers reject or drop a second one.
        return [
            ChatMessage(role=MessageRole.SYSTEM, content=parts.system_with_context()),
            *(ChatMessage(role=m["role"], content=m["content"]) for m in parts.messages),
        ]

    def _call_kwargs(self, req: AnswerRequest) -> dict[str, Any]:
        return {"temperature": req.temperature, "max_tokens": req.max_tokens}

    def _read(self, chunk: ChatResponse, run: LLMRun) -> None:
        """Take usage and the reported model from a streamed chunk (integration-specific)."""

    # ---- shared ------------------------------------------------------------------------

    @property
    def llm(self) -> LLM:
        """The LlamaIndex LLM object (one per event loop), e.g. for tool calls."""
        digest = hashlib.sha256(self._api_key.encode()).hexdigest()[:16]
        key = (type(self).__name__, self.provider, self.base_url or "", digest, self.model)
        return cached_llm((*key, repr(self.timeouts)), self._make_llm)

    async def _deltas(self, req: AnswerRequest, run: LLMRun) -> AsyncIterator[str]:
        messages = self._messages(build_messages(req))
        stream = await self.llm.astream_chat(messages, **self._call_kwargs(req))
        async with aclosing(stream) as chunks:  # type: ignore[type-var]
            async for chunk in chunks:
                self._read(chunk, run)
                if chunk.delta:
                    yield chunk.delta

    async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        # The LLM object is made for one model: the responder's (from the selection),
        # else the request's.
        self.model = self.model or req.model
        run = LLMRun(model=self.model)
        if not run.model:
            raise ProviderError("rejected", provider=self.provider)
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_deadline = start + min(self.timeouts.first_token, self.timeouts.total)
        total_deadline = start + self.timeouts.total
        started = False
        # The SDK's read timeout bounds each silence; these deadlines bound the first token
        # (headers included) and the whole answer, which a slow drip could otherwise stretch.
        async with aclosing(self._deltas(req, run)) as deltas:
            try:
                while True:
                    async with asyncio.timeout_at(total_deadline if started else first_deadline):
                        try:
                            delta = await anext(deltas)
                        except StopAsyncIteration:
                            break
                    if delta:
                        started = True
                        yield delta
            except Exception as exc:
                err = translate_error(exc, self.provider)
                if err.kind == "unexpected":
                    log.warning("%s stream failed: %s", self.provider, type(exc).__name__)
                raise err from None  # `from None`: the SDK error text may quote the key
        yield AnswerDone(
            model=run.model,
            provider=self.provider,
            usage=run.usage,
            answered=run.answered,
            confidence=run.confidence,
        )


# ---- OpenAI and OpenAI-compatible servers --------------------------------------------------


class OpenAIChat(OpenAI):
    """LlamaIndex's OpenAI LLM, also for model names its table does not list yet.

    The stock class looks every name up in a table to fill `metadata` and raises for unknown
    ones ("gpt-4.1-2026-01-01"); the Chat Completions API itself accepts them.
    """

    @property
    def metadata(self) -> LLMMetadata:
        try:
            return super().metadata
        except ValueError:
            return LLMMetadata(
                context_window=CONTEXT_WINDOW,
                num_output=self.max_tokens or -1,
                is_chat_model=True,
                is_function_calling_model=True,
                model_name=self.model,
            )

    @classmethod
    def class_name(cls) -> str:
        return "chatconnect_openai_llm"


def _is_reasoning(model: str) -> bool:
    """o-series and gpt-5 accept only the default temperature."""
    name = model.lower()
    return (name[:1] == "o" and name[1:2].isdigit()) or name.startswith("gpt-5")


class OpenAIResponder(LLMResponder):
    """Chat Completions, streamed with usage: OpenAI (`OpenAIChat`) or an OpenAI-compatible
    server (`OpenAILike`: Ollama, vLLM, LM Studio)."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        provider: Literal["openai", "openai_compatible"] = "openai",
        model: str = "",
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(
            model, api_key=api_key or COMPAT_DUMMY_KEY, base_url=base_url, timeouts=timeouts
        )
        self.provider = provider

    def _make_llm(self) -> LLM:
        common: dict[str, Any] = {
            "model": self.model,
            "api_key": self._api_key,
            "api_base": self.base_url,
            "max_retries": 0,  # FailoverResponder owns retries
            "timeout": self.timeouts.first_token,  # per read; stream() bounds the whole
            "reuse_client": True,
            "additional_kwargs": {"stream_options": {"include_usage": True}},
        }
        if self.provider == "openai":
            reasoning = _is_reasoning(self.model)
            return OpenAIChat(temperature=1.0 if reasoning else 0.2, **common)
        return OpenAILike(
            is_chat_model=True,
            is_function_calling_model=True,
            context_window=CONTEXT_WINDOW,
            **common,
        )

    def _call_kwargs(self, req: AnswerRequest) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.provider != "openai" or not _is_reasoning(self.model):
            kwargs["temperature"] = req.temperature
        # OpenAI's own API wants max_completion_tokens; compatible servers know max_tokens.
        budget = "max_completion_tokens" if self.provider == "openai" else "max_tokens"
        kwargs[budget] = req.max_tokens
        return kwargs

    def _read(self, chunk: ChatResponse, run: LLMRun) -> None:
        raw = chunk.raw
        if model := getattr(raw, "model", None):
            run.model = model
        if (usage := getattr(raw, "usage", None)) is not None:
            run.usage = _openai_usage(usage)


def _openai_usage(usage: Any) -> Usage:
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details else 0
    prompt = usage.prompt_tokens or 0
    # prompt_tokens includes the cached ones; Usage.tokens_in is the full-price part only.
    return Usage(
        tokens_in=max(0, prompt - cached),
        tokens_out=usage.completion_tokens or 0,
        cache_read_tokens=cached,
    )


# ---- Anthropic -----------------------------------------------------------------------------


def _message_param(**fields: Any) -> dict[str, Any]:
    return dict(fields)


# llama-index-llms-anthropic 0.12.3 (the latest release) builds each message with
# `MessageParam(role=..., content=...)`: a TypedDict in anthropic 1.x, which anthropic 2.x
# (pinned here) turned into a Union of TypedDicts, and a Union cannot be called. A TypedDict
# call only ever made a plain dict, so the integration's module gets exactly that. Applied
# only while the SDK's name is a Union; tests/unit/test_llms.py fails when it is obsolete.
if typing.get_origin(_anthropic_utils.MessageParam) is typing.Union:
    _anthropic_utils.MessageParam = _message_param  # type: ignore[misc,assignment]
    _anthropic_utils.BetaMessageParam = _message_param  # type: ignore[misc,assignment]


class _StreamWithStartUsage:
    """The SDK's event stream, with message_start's usage carried into message_delta.

    The integration reads usage from message_delta only, while input and cache counts
    arrive in message_start (message_delta repeats them only on newer API versions)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[Any]:
        start: Any = None
        try:
            async for event in self._stream:
                if event.type == "message_start":
                    start = event.message.usage
                elif event.type == "message_delta" and start is not None and event.usage:
                    for name in (
                        "input_tokens",
                        "cache_read_input_tokens",
                        "cache_creation_input_tokens",
                    ):
                        if getattr(event.usage, name, None) is None:
                            setattr(event.usage, name, getattr(start, name, None))
                yield event
        finally:
            await self._stream.close()  # also when the reader stops early


class _Messages:
    """`client.messages` as the integration calls it, adapted to the pinned SDK."""

    def __init__(self, messages: Any) -> None:
        self._messages = messages

    def __getattr__(self, name: str) -> Any:
        return getattr(self._messages, name)

    async def create(self, **kwargs: Any) -> Any:
        # The integration always passes its `temperature`; anthropic 2.x's `create` no
        # longer takes one (the newest models reject sampling settings), so it is dropped.
        kwargs.pop("temperature", None)
        result = await self._messages.create(**kwargs)
        return _StreamWithStartUsage(result) if kwargs.get("stream") else result


class _Client:
    def __init__(self, client: Any) -> None:
        self._client = client
        self.messages = _Messages(client.messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


class CachingAnthropic(Anthropic):
    """LlamaIndex's Anthropic LLM with prompt caching on the system blocks.

    The stock integration joins all system messages into one plain string, so nothing in
    the system prompt can be cached. Here each system message becomes its own text block,
    marked `cache_control: ephemeral` (the owner's prompt, then the sources: follow-ups on
    the same sources reuse both), and the stream reports the cache read/write counts.
    Its SDK client is wrapped (`_Client`) to fit the pinned anthropic 2.x SDK.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._aclient = _Client(self._aclient)

    @classmethod
    def class_name(cls) -> str:
        return "chatconnect_anthropic_llm"

    @staticmethod
    def _split_system(
        messages: Sequence[ChatMessage],
    ) -> tuple[list[dict[str, Any]], list[ChatMessage]]:
        blocks = [
            {"type": "text", "text": m.content or "", "cache_control": dict(_EPHEMERAL)}
            for m in messages
            if m.role == MessageRole.SYSTEM and (m.content or "").strip()
        ]
        return blocks, [m for m in messages if m.role != MessageRole.SYSTEM]

    def _with_system(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> Any:
        blocks, rest = self._split_system(messages)
        if blocks:  # `system` accepts blocks; the integration would send one joined string
            kwargs["extra_body"] = {**kwargs.get("extra_body", {}), "system": blocks}
        return rest

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        rest = self._with_system(messages, kwargs)
        return await super().astream_chat(rest, **kwargs)

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        rest = self._with_system(messages, kwargs)
        return await super().achat(rest, **kwargs)


class AnthropicResponder(LLMResponder):
    """Messages API through `CachingAnthropic`: the system prompt and the sources are two
    cached system blocks."""

    provider = "anthropic"

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "",
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(model, api_key=api_key, base_url=base_url, timeouts=timeouts)

    def _make_llm(self) -> LLM:
        return CachingAnthropic(
            model=self.model,
            api_key=self._api_key,
            base_url=self.base_url,
            max_tokens=MAX_OUTPUT_TOKENS,
            max_retries=0,
            timeout=self.timeouts.first_token,
        )

    def _messages(self, parts: PromptParts) -> list[ChatMessage]:
        return [
            ChatMessage(role=MessageRole.SYSTEM, content=parts.system),
            ChatMessage(role=MessageRole.SYSTEM, content=parts.context),
            *(ChatMessage(role=m["role"], content=m["content"]) for m in parts.messages),
        ]

    def _call_kwargs(self, req: AnswerRequest) -> dict[str, Any]:
        return {"max_tokens": req.max_tokens}  # no temperature: see `_Messages.create`

    def _read(self, chunk: ChatResponse, run: LLMRun) -> None:
        raw = chunk.raw if isinstance(chunk.raw, dict) else {}
        if raw.get("type") != "message_delta" or raw.get("usage") is None:
            return
        usage = raw["usage"]
        run.usage = Usage(
            tokens_in=getattr(usage, "input_tokens", None) or 0,
            tokens_out=getattr(usage, "output_tokens", None) or 0,
            cache_read_tokens=getattr(usage, "cache_read_input_tokens", None) or 0,
            cache_write_tokens=getattr(usage, "cache_creation_input_tokens", None) or 0,
        )


# ---- Gemini --------------------------------------------------------------------------------


class GeminiResponder(LLMResponder):
    """Gemini's native API (generateContent / streamGenerateContent) through GoogleGenAI."""

    provider = "gemini"

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "",
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(model, api_key=api_key, base_url=base_url, timeouts=timeouts)

    def _make_llm(self) -> LLM:
        http = genai_types.HttpOptions(
            base_url=self.base_url,  # None: Google's endpoint
            timeout=int(self.timeouts.total * 1000),  # milliseconds; stream() is stricter
        )
        return GoogleGenAI(
            model=self.model,
            api_key=self._api_key,
            http_options=http,
            max_retries=0,
            max_tokens=MAX_OUTPUT_TOKENS,
            context_window=CONTEXT_WINDOW,  # with max_tokens: no model lookup at start
            file_mode="inline",
        )

    def _call_kwargs(self, req: AnswerRequest) -> dict[str, Any]:
        config = {"temperature": req.temperature, "max_output_tokens": req.max_tokens}
        return {"generation_config": config}

    def _read(self, chunk: ChatResponse, run: LLMRun) -> None:
        raw = chunk.raw if isinstance(chunk.raw, dict) else {}
        usage = raw.get("usage_metadata")
        if not usage:
            return
        cached = usage.get("cached_content_token_count") or 0
        run.usage = Usage(
            tokens_in=max(0, (usage.get("prompt_token_count") or 0) - cached),
            tokens_out=usage.get("candidates_token_count") or 0,
            cache_read_tokens=cached,
        )


# ---- model and provider selection ----------------------------------------------------------


def _build(
    provider: Provider | None, model: str, creds: ProviderCredentials, timeouts: Timeouts | None
) -> LLMResponder | None:
    if provider == "openai" and creds.openai_key:
        return OpenAIResponder(creds.openai_key, creds.openai_base_url, "openai", model, timeouts)
    if provider == "anthropic" and creds.anthropic_key:
        return AnthropicResponder(creds.anthropic_key, creds.anthropic_base_url, model, timeouts)
    if provider == "gemini" and creds.gemini_key:
        return GeminiResponder(creds.gemini_key, creds.gemini_base_url, model, timeouts)
    if provider == "openai_compatible" and creds.compat_base_url:
        key = creds.compat_key or COMPAT_DUMMY_KEY
        return OpenAIResponder(key, creds.compat_base_url, "openai_compatible", model, timeouts)
    return None


def select_responder(
    creds: ProviderCredentials,
    widget_model: str | None = None,
    tenant_model: str | None = None,
    tier: str = "free",
    timeouts: Timeouts | None = None,
) -> Responder | None:
    """The responder for a widget's turn, or None (the caller answers extractively).

    The widget's model overrides the tenant default. A chosen model whose provider has no
    credentials gives None rather than silently switching to another vendor's model.
    Without a chosen model, the tier's defaults are tried in order.
    """
    model = (widget_model or "").strip() or (tenant_model or "").strip()
    if model:
        return _build(provider_for(model, creds), model, creds, timeouts)
    for candidate in TIER_DEFAULT_MODELS.get(tier, TIER_DEFAULT_MODELS["free"]):
        responder = _build(provider_for(candidate, creds), candidate, creds, timeouts)
        if responder is not None:
            return responder
    return None
