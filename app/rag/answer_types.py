"""Plain data shared by the responders (`app.rag.answer`), the extractive answerer and the
chat turn (`app.rag.chat`). No SDK or framework types cross this boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(slots=True)
class Source:
    """One retrieved passage as the answer cites it: `[n]` in the text maps to `n` here."""

    n: int
    document_id: str
    title: str
    text: str
    score: float
    page: int | None = None
    section: str | None = None
    chunk_index: int = 0
    kind: Literal["chunk", "qa"] = "chunk"
    url: str | None = None  # a crawled page: the citation links there


@dataclass(slots=True)
class Turn:
    role: Literal["user", "assistant"]
    text: str


@dataclass(slots=True)
class AnswerRequest:
    question: str
    sources: list[Source]
    history: list[Turn] = field(default_factory=list)
    system_prompt: str = ""
    unknown_answer: str = "Sorry, I couldn't find that in our documentation."
    model: str = ""
    temperature: float = 0.2
    max_tokens: int = 800
    citations: bool = True
    # The standalone query the sources were retrieved with (a follow-up condensed with
    # history); the extractive answerer matches sentences against it.
    retrieval_query: str = ""


@dataclass(slots=True)
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0


@dataclass(slots=True)
class AnswerDone:
    """The last event of a stream: what produced the answer and what it cost."""

    model: str
    provider: str
    usage: Usage
    answered: bool = True
    notice: str | None = None  # e.g. "The AI provider is unavailable; showing quotes instead."
    # How likely the answer is right, 0..1, when the responder can tell (the extractive
    # one can); None = unknown, and the turn falls back to its best source's score.
    confidence: float | None = None


# A responder's stream yields text deltas, then exactly one AnswerDone.
AnswerEvent = str | AnswerDone
