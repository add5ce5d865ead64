"""The data of one chat turn: what goes in (`TurnInput`), what streams out (`TokenEvent`,
`SourcesEvent`) and what it ends with (`TurnResult`).

The turn itself is the LlamaIndex Workflow in `app.rag.workflow`; persisting its result is
the caller's job (app.services.chat). The two stream events are workflow `Event`s, so the
workflow writes them to its stream (`ctx.write_event_to_stream`) and the services layer,
the API and the embed page read the very same objects.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from workflows.events import Event

from app.rag.answer_types import Source, Turn, Usage

# No retrieval gate by default: hybrid's gate is on the dense score, which would drop exact
# keyword hits ("descale" scores 0.09 with MiniLM). Relevance is judged by the answerers:
# the extractive one by term coverage, the LLMs by their instruction to say "don't know".
DEFAULT_SCORE_THRESHOLD: float | None = None
DEFAULT_TOP_K = 6
MAX_QUESTION_CHARS = 2000
_FOLLOW_UP = re.compile(
    r"\b(it|its|it's|that|this|those|these|they|them|their|he|she|his|her|there|"
    r"the same|what about|and|also|more|else)\b",
    re.IGNORECASE,
)


@dataclass(slots=True)
class WidgetConfig:
    id: str | None
    system_prompt: str = ""
    model: str | None = None
    temperature: float = 0.2
    citations: bool = True
    unknown_answer: str = "Sorry, I couldn't find that in our documentation."
    allowed_domains: list[str] = field(default_factory=list)


@dataclass(slots=True)
class TurnInput:
    tenant_id: str
    widget: WidgetConfig
    question: str
    history: list[Turn] = field(default_factory=list)
    own_base_url: str = ""


class TokenEvent(Event):
    """A piece of the answer as it is generated (before sanitizing)."""

    delta: str

    def __init__(self, delta: str, **params: Any) -> None:
        super().__init__(delta=delta, **params)


class SourcesEvent(Event):
    """The passages the answer cites. Sent once the answer is complete and only when it
    answered: an "I don't know" has no sources."""

    sources: list[Source]

    def __init__(self, sources: list[Source], **params: Any) -> None:
        super().__init__(sources=sources, **params)


@dataclass(slots=True)
class TurnResult:
    answer: str
    sources: list[Source]
    model: str
    provider: str
    usage: Usage
    cost_usd: float
    ttft_ms: int | None
    latency_ms: int
    answered: bool
    query: str
    notice: str | None = None
    cached: bool = False
    qa_pair_id: str | None = None
    confidence: float | None = None  # from AnswerDone; None: the best source's score is used


ChatEvent = TokenEvent | SourcesEvent | TurnResult
QAMatcher = Callable[[str, str | None, str], Awaitable[Source | None]]


def condense_question(history: list[Turn], question: str) -> str:
    """The retrieval query for a turn: a follow-up borrows the previous user question.

    Lexical on purpose: it costs nothing, works offline, and cannot be talked into
    anything. A question is a follow-up when it is short or leans on a pronoun.
    """
    question = question.strip()
    previous = next((t.text for t in reversed(history) if t.role == "user"), None)
    if not previous:
        return question
    words = question.split()
    if len(words) <= 4 or _FOLLOW_UP.search(question):
        return f"{previous.strip()} {question}"[:MAX_QUESTION_CHARS]
    return question
