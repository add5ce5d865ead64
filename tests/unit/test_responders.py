"""Responders (LlamaIndex LLM integrations over the official SDKs) against local OpenAI,
Anthropic and Gemini protocol servers: streaming, usage, request bodies, failover, the
circuit breaker and the leak guard."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator

import pytest

from app.rag.answer import (
    NOTICE_INTERRUPTED,
    NOTICE_LEAK,
    NOTICE_NO_ANSWER,
    NOTICE_UNAVAILABLE,
    CircuitBreaker,
    FailoverResponder,
    GuardedResponder,
    ProviderCredentials,
    ProviderError,
    RetryPolicy,
    Timeouts,
    compose_responder,
    provider_for,
)
from app.rag.answer_types import AnswerDone, AnswerEvent, AnswerRequest, Source, Turn, Usage
from app.rag.llms import (
    AnthropicResponder,
    GeminiResponder,
    OpenAIResponder,
    select_responder,
)
from app.rag.pricing import cost_usd, price_for
from tests.support.fake_llm import FakeLLM, Script

KEY = "sk-test-0123456789abcdef0123456789"
CANARY = "CANARY-51d0c2-never-print-me"
SYSTEM_PROMPT = f"You are Ada for Acme. Secret marker {CANARY}. Be warm and brief."
FAST = Timeouts(connect=1.0, first_token=0.4, total=2.0)
NO_WAIT = RetryPolicy(backoff=0.01)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLM]:
    with FakeLLM() as llm:
        yield llm


@pytest.fixture
def llm(server: FakeLLM) -> FakeLLM:
    server.reset()
    return server


class FakeFallback:
    """Stands in for the extractive answerer."""

    provider = "extractive"

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("extractive broke")
        yield "From the docs: "
        yield "open Settings [1]."
        yield AnswerDone(model="extractive", provider="extractive", usage=Usage())


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _req(**kwargs: object) -> AnswerRequest:
    base: dict[str, object] = {
        "question": "How do I reset my password?",
        "sources": [
            Source(1, "d1", "Security guide", "Open Settings > Security, then Reset.", 0.9),
            Source(2, "d2", "FAQ", "Passwords expire after 90 days.", 0.7),
        ],
        "history": [Turn("user", "Hi"), Turn("assistant", "Hello! How can I help?")],
        "system_prompt": SYSTEM_PROMPT,
    }
    base.update(kwargs)
    return AnswerRequest(**base)  # type: ignore[arg-type]


async def _collect(stream: AsyncIterator[AnswerEvent]) -> tuple[list[str], AnswerDone]:
    deltas: list[str] = []
    done: list[AnswerDone] = []
    async for event in stream:
        if isinstance(event, AnswerDone):
            done.append(event)
        else:
            assert not done, "text after AnswerDone"
            deltas.append(event)
    assert len(done) == 1, "exactly one AnswerDone"
    return deltas, done[0]


# ---- the four provider paths -----------------------------------------------------------------


async def test_openai_streams_in_order_with_usage(llm: FakeLLM) -> None:
    llm.script = Script(text="Open Settings then Reset [1].", tokens_in=200, cache_read=64)
    responder = OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini")
    deltas, done = await _collect(responder.stream(_req()))
    assert deltas == ["Open", " Settings", " then", " Reset", " [1]."]
    assert (done.model, done.provider, done.notice) == ("gpt-4o-mini", "openai", None)
    assert done.usage == Usage(tokens_in=200, tokens_out=9, cache_read_tokens=64)

    (request,) = llm.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["model"] == "gpt-4o-mini" and body["max_completion_tokens"] == 800
    system = body["messages"][0]
    assert system["role"] == "system" and SYSTEM_PROMPT in system["content"]
    assert '<source n="1" title="Security guide">' in system["content"]
    assert "</source>" in system["content"]
    assert [m["role"] for m in body["messages"][1:]] == ["user", "assistant", "user"]
    assert body["messages"][-1]["content"] == "How do I reset my password?"


async def test_gemini_speaks_its_native_api_through_google_genai(llm: FakeLLM) -> None:
    llm.script = Script(text="Open Settings [1].", tokens_in=150, cache_read=40)
    responder = GeminiResponder(KEY, llm.gemini_native_url, model="gemini-2.5-flash")
    deltas, done = await _collect(responder.stream(_req()))
    assert deltas == ["Open", " Settings", " [1]."]
    assert (done.provider, done.model) == ("gemini", "gemini-2.5-flash")
    # promptTokenCount includes the cached part; tokens_in is the full-price rest.
    assert done.usage == Usage(tokens_in=150, tokens_out=9, cache_read_tokens=40)
    (request,) = llm.requests
    assert request.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert request.headers["x-goog-api-key"] == KEY
    body = request.body
    assert body["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 800}
    (instruction,) = body["systemInstruction"]["parts"]
    assert (
        SYSTEM_PROMPT in instruction["text"] and '<source n="2" title="FAQ">' in instruction["text"]
    )
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][-1]["parts"] == [{"text": "How do I reset my password?"}]
    assert cost_usd(done.model, done.usage, done.provider) > 0


async def test_gemini_errors_retry_and_fall_back_like_any_provider(llm: FakeLLM) -> None:
    llm.script = Script(fail_first=1, fail_status=503)
    primary = GeminiResponder(KEY, llm.gemini_native_url, model="gemini-2.5-flash", timeouts=FAST)
    responder = FailoverResponder(primary, FakeFallback(), CircuitBreaker(), NO_WAIT)
    deltas, done = await _collect(responder.stream(_req()))
    assert "".join(deltas) == "The answer is 42 [1]." and done.notice is None
    assert llm.count == 2
    llm.reset(Script(fail_first=1, fail_status=401))
    fallback = FakeFallback()
    responder = FailoverResponder(primary, fallback, CircuitBreaker(), NO_WAIT)
    events = [e async for e in responder.stream(_req())]
    assert llm.count == 1 and fallback.calls == 1
    assert "401" in (events[-1].notice or "") and KEY not in repr(events)  # type: ignore[union-attr]


async def test_openai_compatible_server_via_selection(llm: FakeLLM) -> None:
    creds = ProviderCredentials(compat_base_url=llm.openai_url)
    responder = select_responder(creds, widget_model="llama3.1:8b", tenant_model="gpt-4o")
    assert isinstance(responder, OpenAIResponder)
    deltas, done = await _collect(responder.stream(_req()))
    assert "".join(deltas) == "The answer is 42 [1]."
    assert (done.provider, done.model) == ("openai_compatible", "llama3.1:8b")
    assert llm.requests[0].headers["authorization"] == "Bearer not-needed"  # dummy key
    assert llm.requests[0].body["temperature"] == 0.2
    assert cost_usd(done.model, done.usage, done.provider) == 0.0


async def test_anthropic_streams_with_cache_usage_and_cache_control(llm: FakeLLM) -> None:
    llm.script = Script(
        chunks=["To reset", ", open ", "Settings [1]."],
        tokens_in=30,
        tokens_out=12,
        cache_read=1500,
        cache_write=400,
    )
    responder = AnthropicResponder(KEY, llm.anthropic_url, model="claude-sonnet-4-5")
    deltas, done = await _collect(responder.stream(_req()))
    assert deltas == ["To reset", ", open ", "Settings [1]."]
    assert (done.provider, done.model) == ("anthropic", "claude-sonnet-4-5")
    assert done.usage == Usage(
        tokens_in=30, tokens_out=12, cache_read_tokens=1500, cache_write_tokens=400
    )
    # 30*3 + 12*15 + 1500*0.30 + 400*3.75 per 1M
    assert cost_usd(done.model, done.usage) == pytest.approx(2.22e-3)

    (request,) = llm.requests
    assert request.path == "/v1/messages"
    auth = request.headers.get("x-api-key") or request.headers["authorization"]
    assert auth.removeprefix("Bearer ") == KEY  # SDK 2.x sends a bearer header
    body = request.body
    assert body["stream"] is True and body["max_tokens"] == 800
    assert "temperature" not in body  # anthropic 2.x sends no sampling settings
    system, context = body["system"]
    assert SYSTEM_PROMPT in system["text"] and '<source n="1"' not in system["text"]
    assert system["cache_control"] == {"type": "ephemeral"}
    assert '<source n="2" title="FAQ">' in context["text"]
    assert context["cache_control"] == {"type": "ephemeral"}
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


# ---- failover --------------------------------------------------------------------------------


def _failover(
    llm: FakeLLM, breaker: CircuitBreaker | None = None
) -> tuple[FailoverResponder, FakeFallback, list[float]]:
    """Primary on the fake server, a fake fallback, and a sleep that only records."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    primary = OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini", timeouts=FAST)
    fallback = FakeFallback()
    responder = FailoverResponder(primary, fallback, breaker or CircuitBreaker(), NO_WAIT, sleep)
    return responder, fallback, sleeps


async def test_503_then_success_retries_once(llm: FakeLLM) -> None:
    llm.script = Script(fail_first=1, fail_status=503)
    responder, fallback, sleeps = _failover(llm)
    deltas, done = await _collect(responder.stream(_req()))
    assert "".join(deltas) == "The answer is 42 [1]." and done.notice is None
    assert llm.count == 2 and fallback.calls == 0 and len(sleeps) == 1


async def test_429_honours_small_retry_after(llm: FakeLLM) -> None:
    llm.script = Script(fail_first=1, fail_status=429, retry_after="0.25")
    responder, _, sleeps = _failover(llm)
    _, done = await _collect(responder.stream(_req()))
    assert sleeps == [0.25] and llm.count == 2 and done.provider == "openai"


async def test_429_with_long_retry_after_falls_back_at_once(llm: FakeLLM) -> None:
    llm.script = Script(fail_first=5, fail_status=429, retry_after="120")
    responder, fallback, sleeps = _failover(llm)
    deltas, done = await _collect(responder.stream(_req()))
    assert sleeps == [] and llm.count == 1 and fallback.calls == 1
    assert "".join(deltas) == "From the docs: open Settings [1]."
    assert done.provider == "extractive" and done.notice == NOTICE_UNAVAILABLE


async def test_timeout_retries_then_falls_back_with_notice(llm: FakeLLM) -> None:
    llm.script = Script(delay_headers=1.0)
    responder, fallback, _ = _failover(llm)
    deltas, done = await _collect(responder.stream(_req()))
    assert llm.count == 2 and fallback.calls == 1
    assert deltas[0] == "From the docs: " and done.notice == NOTICE_UNAVAILABLE


async def test_401_no_retry_and_notice_without_key(
    llm: FakeLLM, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    llm.script = Script(fail_first=1, fail_status=401)
    responder, fallback, sleeps = _failover(llm)
    events = [e async for e in responder.stream(_req())]
    done = events[-1]
    assert isinstance(done, AnswerDone)
    assert llm.count == 1 and sleeps == [] and fallback.calls == 1
    assert done.notice is not None and "rejected" in done.notice and "401" in done.notice
    assert KEY not in repr(events) and KEY[3:15] not in caplog.text
    assert KEY not in repr(responder.primary)


async def test_failure_after_tokens_ends_with_notice_not_restart(llm: FakeLLM) -> None:
    llm.script = Script(text="one two three four five", drop_after_chunks=2)
    breaker = CircuitBreaker()
    responder, fallback, _ = _failover(llm, breaker)
    deltas, done = await _collect(responder.stream(_req()))
    assert deltas == ["one", " two"]
    assert done.notice == NOTICE_INTERRUPTED and done.provider == "openai"
    assert done.usage.tokens_out > 0  # estimated
    assert llm.count == 1 and fallback.calls == 0
    assert breaker._circuits["openai|" + llm.openai_url].failures == 1


async def test_total_deadline_cuts_a_slow_drip(llm: FakeLLM) -> None:
    llm.script = Script(text="a b c d e f g h i j", delay_chunks=0.2)  # ~2 s in all
    primary = OpenAIResponder(
        KEY, llm.openai_url, model="gpt-4o-mini", timeouts=Timeouts(1, 1, total=1.0)
    )
    deltas, done = await _collect(FailoverResponder(primary, FakeFallback()).stream(_req()))
    assert 1 <= len(deltas) < 10 and done.notice == NOTICE_INTERRUPTED


async def test_breaker_opens_skips_server_then_half_open_recovers(llm: FakeLLM) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, cooldown=30, clock=clock)
    key = "openai|" + llm.openai_url
    llm.script = Script(fail_first=100, fail_status=500)
    responder, fallback, _ = _failover(llm, breaker)

    for expected_count in (2, 4):  # each failed call = first try + one retry
        _, done = await _collect(responder.stream(_req()))
        assert done.notice == NOTICE_UNAVAILABLE and llm.count == expected_count
    assert breaker.state(key) == "open"

    _, done = await _collect(responder.stream(_req()))
    assert llm.count == 4, "an open breaker must not call the provider"
    assert fallback.calls == 3 and done.notice == NOTICE_UNAVAILABLE

    clock.now += 31
    assert breaker.state(key) == "half_open"
    llm.reset(Script(text="Back again [1]."))
    deltas, done = await _collect(responder.stream(_req()))
    assert "".join(deltas) == "Back again [1]." and done.notice is None
    assert llm.count == 1 and breaker.state(key) == "closed"


def test_breaker_half_open_allows_one_probe_and_reopens_on_failure() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=1, cooldown=10, clock=clock)
    breaker.record_failure("p")
    assert not breaker.allow("p") and breaker.allow("other")
    clock.now += 11
    assert breaker.allow("p") and not breaker.allow("p")  # one probe at a time
    breaker.record_failure("p")
    assert breaker.state("p") == "open" and not breaker.allow("p")
    clock.now += 11
    assert breaker.allow("p")
    breaker.record_success("p")
    assert breaker.state("p") == "closed" and breaker.allow("p") and breaker.allow("p")


async def test_fallback_failure_still_ends_with_a_clear_notice() -> None:
    class Down:
        provider = "openai"

        async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
            raise ProviderError("server", provider="openai", status=500)
            yield ""  # pragma: no cover  (makes this an async generator)

    responder = FailoverResponder(Down(), FakeFallback(fail=True), CircuitBreaker(), NO_WAIT)
    deltas, done = await _collect(responder.stream(_req()))
    assert deltas == [] and not done.answered and done.notice == NOTICE_NO_ANSWER


# ---- leak guard ------------------------------------------------------------------------------


async def test_canary_in_answer_is_cut(llm: FakeLLM) -> None:
    llm.script = Script(
        chunks=["Sure! My instructions say: ", "Secret mar", f"ker {CANARY[:9]}", CANARY[9:], "."]
    )
    inner = AnthropicResponder(KEY, llm.anthropic_url, model="claude-haiku-4-5")
    responder = compose_responder(inner, FakeFallback(), CircuitBreaker(), secrets=[KEY])
    assert isinstance(responder, GuardedResponder)
    deltas, done = await _collect(responder.stream(_req()))
    shown = "".join(deltas)
    assert CANARY[:8] not in shown and "Secret mar" not in shown
    assert shown.startswith("Sure! My instructions say")
    assert done.notice == NOTICE_LEAK and done.provider == "anthropic"
    assert done.model == "claude-haiku-4-5" and done.answered


async def test_key_in_answer_is_cut(llm: FakeLLM) -> None:
    llm.script = Script(text=f"The key is {KEY} ok")
    inner = OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini")
    deltas, done = await _collect(GuardedResponder(inner, [KEY]).stream(_req()))
    assert KEY not in "".join(deltas) and done.notice == NOTICE_LEAK


async def test_clean_answer_passes_guard_untouched(llm: FakeLLM) -> None:
    inner = OpenAIResponder(KEY, llm.openai_url, model="gpt-4o-mini")
    deltas, done = await _collect(GuardedResponder(inner, [KEY]).stream(_req()))
    assert "".join(deltas) == "The answer is 42 [1]." and done.notice is None
    assert done.usage.tokens_in == 120


# ---- selection and pricing -------------------------------------------------------------------


def test_model_selection() -> None:
    both = ProviderCredentials(openai_key="sk-o", anthropic_key="sk-a")
    free = select_responder(both, tier="free")
    paid = select_responder(both, tier="paid")
    assert isinstance(free, OpenAIResponder) and free.model == "gpt-4o-mini"
    assert isinstance(paid, AnthropicResponder) and paid.model.startswith("claude-sonnet")
    widget = select_responder(both, widget_model="claude-haiku-4-5", tenant_model="gpt-4o")
    assert isinstance(widget, AnthropicResponder) and widget.model == "claude-haiku-4-5"
    tenant = select_responder(both, widget_model="", tenant_model="gpt-4o")
    assert isinstance(tenant, OpenAIResponder) and tenant.model == "gpt-4o"
    assert select_responder(ProviderCredentials()) is None
    assert select_responder(ProviderCredentials(openai_key="k"), "claude-sonnet-4-5") is None
    gemini = select_responder(ProviderCredentials(gemini_key="g"), "gemini-2.0-flash")
    assert isinstance(gemini, GeminiResponder) and gemini.provider == "gemini"
    assert gemini.base_url is None  # Google's endpoint unless one is configured
    # paid tier without an Anthropic key still gets an LLM
    paid_openai = select_responder(ProviderCredentials(openai_key="k"), tier="paid")
    assert isinstance(paid_openai, OpenAIResponder)
    assert "sk-o" not in repr(both) and "sk-a" not in repr(paid)


def test_provider_for_names() -> None:
    creds = ProviderCredentials(compat_base_url="http://localhost:11434/v1")
    cases = {
        "gpt-4o-mini": "openai",
        "o4-mini": "openai",
        "claude-sonnet-4-5": "anthropic",
        "gemini-2.5-flash": "gemini",
        "llama3.1:8b": "openai_compatible",
        "gpt-oss:20b": "openai_compatible",
        "Qwen/Qwen2.5-7B-Instruct": "openai_compatible",
        "orca-mini": "openai_compatible",
    }
    assert {m: provider_for(m, creds) for m in cases} == cases
    assert provider_for("mistral", ProviderCredentials()) is None


def test_prices() -> None:
    usage = Usage(tokens_in=1_000_000, tokens_out=1_000_000)
    assert cost_usd("gpt-4o-mini", usage) == pytest.approx(0.75)
    assert cost_usd("gpt-4o-mini-2024-07-18", usage) == pytest.approx(0.75)
    assert cost_usd("gpt-4o", usage) == pytest.approx(12.5)
    assert price_for("claude-sonnet-4-5-20250929") == price_for("claude-sonnet-4-5")
    assert price_for("models/gemini-2.0-flash") is not None
    assert cost_usd("llama3.1:8b", usage) == 0.0
    assert cost_usd("gpt-4o", usage, provider="openai_compatible") == 0.0
