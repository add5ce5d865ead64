"""Responders: one async interface over OpenAI, Anthropic, Gemini and OpenAI-compatible
servers, plus failover to the offline answerer.

A responder's `stream(req)` yields text deltas, then exactly one `AnswerDone`. The SDK
responders raise `ProviderError` (never an SDK type) when the provider fails, so the
wrappers below stay provider-neutral:

- `FailoverResponder` retries once on timeouts, connection errors, 429 and 5xx, asks the
  per-provider `CircuitBreaker`, and falls back (with a visible notice) to another
  responder, normally the extractive one. It never raises: the visitor always gets an
  answer or a clear notice.
- `GuardedResponder` runs the answer through `LeakGuard` and cuts it if it starts to
  repeat the site owner's system prompt or a secret.

`compose_responder(...)` builds the usual chain; `select_responder(...)` picks the model
and provider from the widget, the tenant default, the tier and the credentials at hand.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import logging
import random
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import anthropic
import httpx
import httpx2
import openai

from app.rag.answer_types import AnswerDone, AnswerEvent, AnswerRequest, Usage
from app.rag.prompting import LeakGuard, PromptParts, build_messages, guard_secrets

log = logging.getLogger(__name__)

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com/v1beta/openai/"
COMPAT_DUMMY_KEY = "not-needed"  # Ollama / vLLM / LM Studio ignore the key; the SDK wants one

NOTICE_UNAVAILABLE = (
    "The AI assistant is unavailable right now, so this answer quotes the documentation."
)
NOTICE_REJECTED = (
    "The AI provider rejected the request (HTTP {status}), so this answer quotes the "
    "documentation. The site owner should check the AI settings."
)
NOTICE_INTERRUPTED = "The AI provider stopped responding, so this answer may be incomplete."
NOTICE_LEAK = "Part of this answer was withheld because it repeated confidential settings."
NOTICE_NO_ANSWER = "The assistant can't answer right now. Please try again in a moment."


class Responder(Protocol):
    provider: str

    def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        """Text deltas, then exactly one AnswerDone (implemented as an async generator)."""
        ...


# ---- errors ------------------------------------------------------------------------------

ErrorKind = Literal["timeout", "connection", "rate_limit", "server", "rejected", "unexpected"]
_RETRYABLE: frozenset[str] = frozenset({"timeout", "connection", "rate_limit", "server"})


class ProviderError(Exception):
    """A provider call that failed. The message never holds the provider's response body
    (an OpenAI 401 body echoes part of the key)."""

    def __init__(
        self,
        kind: ErrorKind,
        *,
        provider: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {kind}" + (f" (HTTP {status})" if status else ""))
        self.kind = kind
        self.provider = provider
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.kind in _RETRYABLE


def _retry_after(headers: Any) -> float | None:
    """Seconds from `retry-after-ms` / `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    try:
        if value := headers.get("retry-after-ms"):
            return max(0.0, float(value) / 1000)
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def _translate(exc: BaseException, provider: str) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError | openai.APITimeoutError | anthropic.APITimeoutError):
        return ProviderError("timeout", provider=provider)
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        return ProviderError("connection", provider=provider)
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        status = exc.status_code
        if status == 429:
            after = _retry_after(exc.response.headers)
            return ProviderError("rate_limit", provider=provider, status=429, retry_after=after)
        # 408 timeout, 409 conflict, 5xx, Anthropic's 529 "overloaded", and error events in
        # an already-open (HTTP 200) stream are the provider's trouble, not ours.
        if status >= 500 or status in (408, 409) or status < 400:
            return ProviderError("server", provider=provider, status=status)
        return ProviderError("rejected", provider=provider, status=status)
    # Raw from the body read, mid-stream; openai rides httpx, anthropic httpx2.
    if isinstance(exc, httpx.TimeoutException | httpx2.TimeoutException):
        return ProviderError("timeout", provider=provider)
    if isinstance(exc, httpx.TransportError | httpx2.TransportError | OSError):  # a cut stream
        return ProviderError("connection", provider=provider)
    return ProviderError("unexpected", provider=provider)


# ---- timeouts and the SDK responders -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    first_token: float = 20.0  # also the longest silence allowed between chunks
    total: float = 45.0  # a whole answer (800 tokens of Sonnet take ~15-25 s)

    def sdk(self) -> openai.Timeout:
        return openai.Timeout(self.first_token, connect=self.connect)

    def anthropic_sdk(self) -> anthropic.Timeout:
        # The two SDKs ride different httpx generations: each needs its own Timeout type.
        return anthropic.Timeout(self.first_token, connect=self.connect)


@dataclass(slots=True)
class _Run:
    """What a provider stream reports besides text."""

    model: str
    usage: Usage = field(default_factory=Usage)


# SDK clients hold connection pools bound to an event loop: one client per (loop, endpoint,
# key), dropped with the loop. Keys are hashed so they don't sit in a dict key.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, ...], Any]] = (
    weakref.WeakKeyDictionary()
)
_clients_lock = threading.Lock()


def _cached_client(
    kind: str, api_key: str, base_url: str | None, timeouts: Timeouts, factory: Callable[[], Any]
) -> Any:
    loop = asyncio.get_running_loop()
    digest = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    key = (kind, base_url or "", digest, repr(timeouts))
    with _clients_lock:
        per_loop = _clients.setdefault(loop, {})
        if key not in per_loop:
            per_loop[key] = factory()
        return per_loop[key]


class _SDKResponder:
    """Deadlines, error translation and the AnswerDone shared by the SDK responders."""

    provider: str

    def __init__(
        self, api_key: str, base_url: str | None, model: str, timeouts: Timeouts | None
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

    def _events(self, req: AnswerRequest, parts: PromptParts, run: _Run) -> AsyncIterator[str]:
        raise NotImplementedError

    async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        run = _Run(model=req.model or self.model)
        if not run.model:
            raise ProviderError("rejected", provider=self.provider)
        loop = asyncio.get_running_loop()
        start = loop.time()
        first_deadline = start + min(self.timeouts.first_token, self.timeouts.total)
        total_deadline = start + self.timeouts.total
        started = False
        # The SDK's read timeout bounds each silence; these deadlines bound the first token
        # (headers included) and the whole answer, which a slow drip could otherwise stretch.
        async with aclosing(self._events(req, build_messages(req), run)) as events:
            try:
                while True:
                    async with asyncio.timeout_at(total_deadline if started else first_deadline):
                        try:
                            delta = await anext(events)
                        except StopAsyncIteration:
                            break
                    if delta:
                        started = True
                        yield delta
            except Exception as exc:
                err = _translate(exc, self.provider)
                if err.kind == "unexpected":
                    log.warning("%s stream failed: %s", self.provider, type(exc).__name__)
                raise err from None  # `from None`: the SDK error text may quote the key
        yield AnswerDone(model=run.model, provider=self.provider, usage=run.usage)


_REASONING_MODEL = re.compile(r"^(o\d|gpt-5)")


class OpenAIResponder(_SDKResponder):
    """Chat Completions, streamed with usage. Also Gemini's and self-hosted servers'
    OpenAI-compatible endpoints (provider "gemini" / "openai_compatible")."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        provider: Literal["openai", "openai_compatible", "gemini"] = "openai",
        model: str = "",
        timeouts: Timeouts | None = None,
    ) -> None:
        if provider == "gemini" and not base_url:
            base_url = GEMINI_BASE_URL
        super().__init__(api_key or COMPAT_DUMMY_KEY, base_url, model, timeouts)
        self.provider = provider

    def _client(self) -> openai.AsyncOpenAI:
        return _cached_client(
            "openai",
            self._api_key,
            self.base_url,
            self.timeouts,
            lambda: openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self.timeouts.sdk(),
                max_retries=0,  # FailoverResponder owns retries
            ),
        )

    def _params(self, req: AnswerRequest, model: str) -> dict[str, Any]:
        params: dict[str, Any] = {}
        reasoning = self.provider == "openai" and bool(_REASONING_MODEL.match(model))
        if not reasoning:  # o-series and gpt-5 accept only the default temperature
            params["temperature"] = req.temperature
        # OpenAI's own API wants max_completion_tokens; compatible servers know max_tokens.
        params["max_completion_tokens" if self.provider == "openai" else "max_tokens"] = (
            req.max_tokens
        )
        return params

    async def _events(
        self, req: AnswerRequest, parts: PromptParts, run: _Run
    ) -> AsyncIterator[str]:
        # One system message: some compatible servers reject or drop a second one.
        messages = [{"role": "system", "content": parts.system_with_context()}, *parts.messages]
        stream = await self._client().chat.completions.create(
            model=run.model,
            messages=messages,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
            **self._params(req, run.model),
        )
        async with stream:
            async for chunk in stream:
                if chunk.model:
                    run.model = chunk.model
                if chunk.usage is not None:
                    run.usage = _openai_usage(chunk.usage)
                for choice in chunk.choices:
                    if choice.delta and choice.delta.content:
                        yield choice.delta.content


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


class AnthropicResponder(_SDKResponder):
    """Messages API, streamed. The system prompt and the sources are separate system
    blocks, each marked for prompt caching (follow-ups on the same sources reuse both)."""

    provider = "anthropic"

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        model: str = "",
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(api_key, base_url, model, timeouts)

    def _client(self) -> anthropic.AsyncAnthropic:
        return _cached_client(
            "anthropic",
            self._api_key,
            self.base_url,
            self.timeouts,
            lambda: anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self.base_url,
                timeout=self.timeouts.anthropic_sdk(),
                max_retries=0,
            ),
        )

    async def _events(
        self, req: AnswerRequest, parts: PromptParts, run: _Run
    ) -> AsyncIterator[str]:
        ephemeral: Any = {"type": "ephemeral"}
        system: Any = [
            {"type": "text", "text": parts.system, "cache_control": ephemeral},
            {"type": "text", "text": parts.context, "cache_control": ephemeral},
        ]
        # No temperature: this SDK generation no longer sends it (the newest models reject it).
        stream = await self._client().messages.create(
            model=run.model,
            max_tokens=req.max_tokens,
            system=system,
            messages=parts.messages,  # type: ignore[arg-type]
            stream=True,
        )
        async with stream:
            async for event in stream:
                if event.type == "message_start":
                    run.model = event.message.model or run.model
                    _merge_anthropic_usage(run.usage, event.message.usage)
                elif event.type == "message_delta":
                    _merge_anthropic_usage(run.usage, event.usage)
                elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                    yield event.delta.text


def _merge_anthropic_usage(usage: Usage, reported: Any) -> None:
    """message_start carries input and cache counts; message_delta the cumulative output
    (and sometimes updated input counts). Later non-null values win."""
    if reported is None:
        return
    if (value := getattr(reported, "input_tokens", None)) is not None:
        usage.tokens_in = value
    if (value := getattr(reported, "output_tokens", None)) is not None:
        usage.tokens_out = value
    if (value := getattr(reported, "cache_read_input_tokens", None)) is not None:
        usage.cache_read_tokens = value
    if (value := getattr(reported, "cache_creation_input_tokens", None)) is not None:
        usage.cache_write_tokens = value


# ---- circuit breaker ---------------------------------------------------------------------


@dataclass(slots=True)
class _Circuit:
    failures: int = 0
    opened_at: float | None = None
    probe_at: float | None = None


class CircuitBreaker:
    """Consecutive-failure breaker, one circuit per key (provider + base URL), in-process.

    closed -> open after `failure_threshold` consecutive failed calls; open for `cooldown`
    seconds (calls go straight to the fallback); then half-open: one probe call at a time
    is let through: success closes the circuit, failure reopens it for another cooldown.
    A probe that never reports frees its slot after a cooldown. A lock (not an asyncio one)
    keeps it safe across threads and event loops; nothing awaits while holding it.
    """

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._circuits: dict[str, _Circuit] = {}

    def state(self, key: str) -> Literal["closed", "open", "half_open"]:
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None or circuit.opened_at is None:
                return "closed"
            return "open" if self._clock() - circuit.opened_at < self.cooldown else "half_open"

    def allow(self, key: str) -> bool:
        with self._lock:
            circuit = self._circuits.get(key)
            if circuit is None or circuit.opened_at is None:
                return True
            now = self._clock()
            if now - circuit.opened_at < self.cooldown:
                return False
            if circuit.probe_at is not None and now - circuit.probe_at < self.cooldown:
                return False  # another caller is probing
            circuit.probe_at = now
            return True

    def record_success(self, key: str) -> None:
        with self._lock:
            self._circuits.pop(key, None)

    def record_failure(self, key: str) -> None:
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            circuit.failures += 1
            if circuit.opened_at is not None or circuit.failures >= self.failure_threshold:
                if circuit.opened_at is None:
                    log.warning("circuit open for %s after %d failures", key, circuit.failures)
                circuit.opened_at = self._clock()
                circuit.probe_at = None


default_breaker = CircuitBreaker()


# ---- failover ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retries: int = 1
    backoff: float = 0.5  # seconds, with up to +100% jitter
    max_retry_after: float = 4.0  # a longer Retry-After skips the retry: fall back now
    retry_timeouts: bool = True  # a timed-out attempt already cost first_token seconds

    def delay(self, err: ProviderError, attempt: int) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None for no retry."""
        if not err.retryable or attempt >= self.retries:
            return None
        if err.kind == "timeout" and not self.retry_timeouts:
            return None
        if err.retry_after is not None:
            return err.retry_after if err.retry_after <= self.max_retry_after else None
        return self.backoff * (2**attempt) * (1 + random.random())


def estimate_usage(req: AnswerRequest, text: str) -> Usage:
    """~4 characters a token: for answers cut off before the provider reported usage."""
    parts = build_messages(req)
    prompt = len(parts.system) + len(parts.context) + sum(len(m["content"]) for m in parts.messages)
    return Usage(tokens_in=prompt // 4, tokens_out=len(text) // 4)


def _breaker_key(responder: Responder) -> str:
    return getattr(responder, "breaker_key", responder.provider)


def _model_of(responder: Responder, req: AnswerRequest) -> str:
    return req.model or getattr(responder, "model", "")


class FailoverResponder:
    """Primary with one retry, guarded by a circuit breaker; the fallback otherwise.

    Failure policy:
    - before any text: timeout / connection / 429 / 5xx -> one retry after a backoff
      (Retry-After honoured up to `max_retry_after`, else no retry), then the breaker
      records a failure and the fallback answers with NOTICE_UNAVAILABLE.
    - 4xx other than 429 (bad key, unknown model): no retry, not a breaker failure (the
      provider is up), fallback with NOTICE_REJECTED naming only the status code.
    - after text was streamed: no restart and no fallback (the visitor already reads an
      answer; repeating it or appending quotes would be confusing). The answer ends with
      NOTICE_INTERRUPTED, usage estimated; the breaker records a failure.
    - breaker open: straight to the fallback, the provider is not called.
    Never raises; if the fallback fails too, the stream ends with NOTICE_NO_ANSWER.
    """

    def __init__(
        self,
        primary: Responder,
        fallback: Responder,
        breaker: CircuitBreaker | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.breaker = breaker or default_breaker
        self.retry = retry or RetryPolicy()
        self.provider = primary.provider
        self.model: str = getattr(primary, "model", "")
        self._sleep = sleep

    async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        key = _breaker_key(self.primary)
        if not self.breaker.allow(key):
            async for event in self._fallback(req, NOTICE_UNAVAILABLE):
                yield event
            return
        attempt = 0
        while True:
            text: list[str] = []
            try:
                async with aclosing(self.primary.stream(req)) as events:
                    async for event in events:
                        if isinstance(event, AnswerDone):
                            self.breaker.record_success(key)
                            yield event
                            return
                        text.append(event)
                        yield event
                raise ProviderError("unexpected", provider=self.primary.provider)  # no Done
            except Exception as exc:
                err = _translate(exc, self.primary.provider)
            log.warning("%s failed: %s (attempt %d)", key, err, attempt + 1)
            if text:
                self.breaker.record_failure(key)
                yield AnswerDone(
                    model=_model_of(self.primary, req),
                    provider=self.primary.provider,
                    usage=estimate_usage(req, "".join(text)),
                    notice=NOTICE_INTERRUPTED,
                )
                return
            delay = self.retry.delay(err, attempt)
            if delay is not None:
                attempt += 1
                await self._sleep(delay)
                continue
            if err.kind == "rejected":
                self.breaker.record_success(key)  # it answered: up, just refusing us
                notice = NOTICE_REJECTED.format(status=err.status or "4xx")
            else:
                self.breaker.record_failure(key)
                notice = NOTICE_UNAVAILABLE
            async for event in self._fallback(req, notice):
                yield event
            return

    async def _fallback(self, req: AnswerRequest, notice: str) -> AsyncIterator[AnswerEvent]:
        streamed = False
        try:
            async with aclosing(self.fallback.stream(req)) as events:
                async for event in events:
                    if isinstance(event, AnswerDone):
                        event.notice = f"{notice} {event.notice}" if event.notice else notice
                        yield event
                        return
                    streamed = True
                    yield event
        except Exception:
            log.exception("fallback responder %s failed", self.fallback.provider)
        yield AnswerDone(
            model="",
            provider=self.fallback.provider,
            usage=Usage(),
            answered=streamed,
            notice=NOTICE_NO_ANSWER if not streamed else NOTICE_INTERRUPTED,
        )


class GuardedResponder:
    """Cuts the answer where it starts repeating the owner's system prompt or a secret."""

    def __init__(self, inner: Responder, secrets: list[str] | None = None) -> None:
        self.inner = inner
        self.provider = inner.provider
        self.model: str = getattr(inner, "model", "")
        self._secrets = [s for s in (secrets or []) if s]

    async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        guard = LeakGuard(guard_secrets(req, self._secrets))
        shown: list[str] = []
        async with aclosing(self.inner.stream(req)) as events:
            async for event in events:
                if isinstance(event, AnswerDone):
                    if tail := guard.finish():
                        yield tail
                    yield event
                    return
                if safe := guard.feed(event):
                    shown.append(safe)
                    yield safe
                if guard.tripped:
                    log.warning("answer cut: it repeated protected text (%s)", self.provider)
                    break  # leaving the `async with` closes the provider stream
        yield AnswerDone(
            model=_model_of(self.inner, req),
            provider=self.provider,
            usage=estimate_usage(req, "".join(shown)),
            answered=bool(shown),
            notice=NOTICE_LEAK if guard.tripped else NOTICE_INTERRUPTED,
        )


def compose_responder(
    primary: Responder | None,
    fallback: Responder,
    breaker: CircuitBreaker | None = None,
    secrets: list[str] | None = None,
) -> Responder:
    """The usual chain: leak guard -> failover(primary, fallback). No primary: fallback."""
    if primary is None:
        return fallback
    return GuardedResponder(FailoverResponder(primary, fallback, breaker), secrets)


# ---- model and provider selection --------------------------------------------------------

Provider = Literal["openai", "anthropic", "gemini", "openai_compatible"]


@dataclass(frozen=True, slots=True)
class ProviderCredentials:
    """Keys and endpoints a tenant may use (filled from settings or tenant secrets)."""

    openai_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    anthropic_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    compat_base_url: str | None = None
    compat_key: str | None = field(default=None, repr=False)
    gemini_key: str | None = field(default=None, repr=False)


# First model whose provider has credentials wins.
TIER_DEFAULT_MODELS: dict[str, tuple[str, ...]] = {
    "free": ("gpt-4o-mini", "gemini-2.5-flash", "claude-haiku-4-5"),
    "paid": ("claude-sonnet-4-5", "gpt-4.1", "gemini-2.5-flash"),
}

_OPENAI_MODEL = re.compile(r"^(gpt-|o\d|chatgpt-)")
_LOCAL_HINT = re.compile(r"^gpt-oss|[:/]")  # "gpt-oss:20b", "org/model" live on local servers


def provider_for(model: str, creds: ProviderCredentials) -> Provider | None:
    """gpt-*/o1..o9 -> openai, claude-* -> anthropic, gemini-* -> gemini; any other name
    goes to the OpenAI-compatible server when one is configured."""
    name = model.strip().lower()
    if name.startswith("claude-"):
        return "anthropic"
    if name.startswith(("gemini-", "models/gemini-")):
        return "gemini"
    if _OPENAI_MODEL.match(name) and not _LOCAL_HINT.search(name):
        return "openai"
    return "openai_compatible" if creds.compat_base_url else None


def _build(
    provider: Provider | None, model: str, creds: ProviderCredentials, timeouts: Timeouts | None
) -> Responder | None:
    if provider == "openai" and creds.openai_key:
        return OpenAIResponder(creds.openai_key, creds.openai_base_url, "openai", model, timeouts)
    if provider == "anthropic" and creds.anthropic_key:
        return AnthropicResponder(creds.anthropic_key, creds.anthropic_base_url, model, timeouts)
    if provider == "gemini" and creds.gemini_key:
        return OpenAIResponder(creds.gemini_key, None, "gemini", model, timeouts)
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
