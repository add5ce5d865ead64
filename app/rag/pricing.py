"""What an answer cost, from a price table kept in code so it is easy to review and edit.

Prices are USD per 1M tokens, public list prices (standard tier, short prompts; long-prompt
surcharges and 1-hour cache writes are not modelled), as checked in November 2026; update
them here when a provider changes its prices.

`Usage.tokens_in` counts only input tokens billed at the full input rate: the responders
report cache reads and cache writes separately (OpenAI's `prompt_tokens` includes its
cached tokens; the OpenAI responder subtracts them), so the cost is a plain sum.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.rag.answer_types import Usage


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cache_read: float = 0.0
    cache_write: float = 0.0  # Anthropic's 5-minute cache write; OpenAI/Gemini have none


# Keys are model ids or families: a dated snapshot ("claude-sonnet-4-5-20250929",
# "gpt-4o-mini-2024-07-18") uses the longest key it starts with.
PRICES: dict[str, Price] = {
    # OpenAI (cached input = "cached input" price)
    "gpt-4o-mini": Price(0.15, 0.60, cache_read=0.075),
    "gpt-4o": Price(2.50, 10.00, cache_read=1.25),
    "gpt-4.1": Price(2.00, 8.00, cache_read=0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, cache_read=0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, cache_read=0.025),
    "gpt-5": Price(1.25, 10.00, cache_read=0.125),
    "gpt-5-mini": Price(0.25, 2.00, cache_read=0.025),
    "gpt-5-nano": Price(0.05, 0.40, cache_read=0.005),
    "o3": Price(2.00, 8.00, cache_read=0.50),
    "o3-mini": Price(1.10, 4.40, cache_read=0.55),
    "o4-mini": Price(1.10, 4.40, cache_read=0.275),
    "gpt-5.2": Price(1.75, 14.00, cache_read=0.175),
    "gpt-5.4": Price(2.50, 15.00, cache_read=0.25),
    "gpt-5.4-mini": Price(0.75, 4.50, cache_read=0.075),
    # Anthropic (5-minute cache write = 1.25x input, cache read = 0.1x input)
    "claude-sonnet-5-5": Price(2.00, 10.00, cache_read=0.20, cache_write=2.50),
    "claude-sonnet-5": Price(2.00, 10.00, cache_read=0.20, cache_write=2.50),
    "claude-sonnet-4-6": Price(3.00, 15.00, cache_read=0.30, cache_write=3.75),
    "claude-sonnet-4-5": Price(3.00, 15.00, cache_read=0.30, cache_write=3.75),
    "claude-sonnet-4": Price(3.00, 15.00, cache_read=0.30, cache_write=3.75),
    "claude-3-7-sonnet": Price(3.00, 15.00, cache_read=0.30, cache_write=3.75),
    "claude-haiku-5-5": Price(0.10, 0.50, cache_read=0.01, cache_write=0.125),  # prompts <=100k
    "claude-haiku-4-5": Price(1.00, 5.00, cache_read=0.10, cache_write=1.25),
    "claude-3-5-haiku": Price(0.80, 4.00, cache_read=0.08, cache_write=1.00),
    "claude-3-haiku": Price(0.25, 1.25, cache_read=0.03, cache_write=0.30),
    "claude-opus-4-8": Price(5.00, 25.00, cache_read=0.50, cache_write=6.25),
    "claude-opus-4-7": Price(5.00, 25.00, cache_read=0.50, cache_write=6.25),
    "claude-opus-4-6": Price(5.00, 25.00, cache_read=0.50, cache_write=6.25),
    "claude-opus-4-5": Price(5.00, 25.00, cache_read=0.50, cache_write=6.25),
    "claude-opus-4-1": Price(15.00, 75.00, cache_read=1.50, cache_write=18.75),
    "claude-opus-4": Price(15.00, 75.00, cache_read=1.50, cache_write=18.75),
    # Google Gemini (paid tier, text input)
    "gemini-2.5-flash": Price(0.30, 2.50, cache_read=0.03),
    "gemini-2.5-flash-lite": Price(0.10, 0.40, cache_read=0.01),
    "gemini-2.5-pro": Price(1.25, 10.00, cache_read=0.125),
    "gemini-2.0-flash": Price(0.10, 0.40, cache_read=0.025),
    "gemini-2.0-flash-lite": Price(0.075, 0.30),
}

# Self-hosted servers (Ollama, vLLM, LM Studio) cost nothing per token, whatever the name.
FREE_PROVIDERS = frozenset({"openai_compatible", "extractive"})


def _family(model: str) -> str:
    name = model.strip().lower().removeprefix("models/")  # Gemini sometimes says models/...
    return name.rsplit("/", 1)[-1]  # "openai/gpt-4o" style ids from routers


def price_for(model: str) -> Price | None:
    name = _family(model)
    if name in PRICES:
        return PRICES[name]
    # Longest family the name starts with, followed by a separator ("-2024..", "-latest").
    best: str | None = None
    for key in PRICES:
        if re.match(re.escape(key) + r"(?:[-@:.]|$)", name) and (
            best is None or len(key) > len(best)
        ):
            best = key
    return PRICES[best] if best else None


def cost_usd(model: str, usage: Usage, provider: str | None = None) -> float:
    """Cost of one answer; unknown and self-hosted models cost 0."""
    if provider in FREE_PROVIDERS:
        return 0.0
    price = price_for(model)
    if price is None:
        return 0.0
    total = (
        usage.tokens_in * price.input
        + usage.tokens_out * price.output
        + usage.cache_read_tokens * price.cache_read
        + usage.cache_write_tokens * (price.cache_write or price.input)
    )
    return round(total / 1_000_000, 8)
