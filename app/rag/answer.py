"""The responder interface and what wraps every answerer: errors, retry, circuit breaker,
failover to the offline answerer, and the leak guard.

A responder's `stream(req)` yields text deltas, then exactly one `AnswerDone`. The LLM
responders (`app.rag.llms`: LlamaIndex LLM integrations for OpenAI, Anthropic, Gemini and
OpenAI-compatible servers) raise `ProviderError` (never an SDK type) when the provider
fails, so the wrappers below stay provider-neutral:

- `FailoverResponder` retries once on timeouts, connection errors, 429 and 5xx, asks the
  per-provider `CircuitBreaker`, and falls back (with a visible notice) to another
  responder, normally the extractive one. It never raises: the visitor always gets an
  answer or a clear notice.
- `GuardedResponder` runs the answer through `LeakGuard` and cuts it if it starts to
  repeat the site owner's system prompt or a secret.

`compose_responder(...)` builds the usual chain; `provider_for(...)` says which provider
serves a model name (`app.rag.llms.select_responder` builds the responder).
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import re
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import aiohttp
import anthropic
import httpx
import httpx2
import openai
from google.genai import errors as genai_errors

from app.rag.answer_types import AnswerDone, AnswerEvent, AnswerRequest, Usage
from app.rag.prompting import LeakGuard, build_messages, guard_secrets

log = logging.getLogger(__name__)

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


def translate_error(exc: BaseException, provider: str) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError | openai.APITimeoutError | anthropic.APITimeoutError):
        return ProviderError("timeout", provider=provider)
    if isinstance(exc, openai.APIConnectionError | anthropic.APIConnectionError):
        return ProviderError("connection", provider=provider)
    status: int | None = None
    headers: Any = None
    if isinstance(exc, openai.APIStatusError | anthropic.APIStatusError):
        status, headers = exc.status_code, exc.response.headers
    elif isinstance(exc, genai_errors.APIError):  # Gemini's native API (google-genai)
        status, headers = exc.code, getattr(exc.response, "headers", None)
    if status is not None:
        if status == 429:
            after = _retry_after(headers)
            return ProviderError("rate_limit", provider=provider, status=429, retry_after=after)
        # 408 timeout, 409 conflict, 5xx, Anthropic's 529 "overloaded", and error events in
        # an already-open (HTTP 200) stream are the provider's trouble, not ours.
        if status >= 500 or status in (408, 409) or status < 400:
            return ProviderError("server", provider=provider, status=status)
        return ProviderError("rejected", provider=provider, status=status)
    # Raw from the body read, mid-stream; openai rides httpx, anthropic httpx2, google-genai
    # aiohttp (its timeouts are TimeoutErrors, caught above).
    if isinstance(exc, httpx.TimeoutException | httpx2.TimeoutException):
        return ProviderError("timeout", provider=provider)
    transport = httpx.TransportError | httpx2.TransportError | aiohttp.ClientError | OSError
    if isinstance(exc, transport):  # a refused connection, a cut stream
        return ProviderError("connection", provider=provider)
    return ProviderError("unexpected", provider=provider)


# ---- timeouts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float = 5.0
    first_token: float = 20.0  # also the longest silence allowed between chunks
    total: float = 45.0  # a whole answer (800 tokens of Sonnet take ~15-25 s)


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
                err = translate_error(exc, self.primary.provider)
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
    gemini_base_url: str | None = None


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
