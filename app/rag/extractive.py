"""The offline answerer: quotes the most relevant sentences of the retrieved sources.

No model is involved, so nothing can be invented: the answer is a short lead-in plus one to
three sentences copied from `Source.text` (whitespace collapsed), each followed by its `[n]`.

How sentences are scored (lexical only; re-embedding every sentence costs ~0.5 s here):
- Terms are the retrieval BM25 terms (`app.rag.store.bm25_query_sparse`: English stopwords
  and Snowball stemming), so "configuring" matches "configure" exactly as search does.
- Question phrasing ("how long does it take", "can I get") is dropped from the question.
- IDF is computed over the candidate sentences themselves, smoothed with
  `BACKGROUND_SENTENCES` imaginary unrelated ones: a term every sentence shares (the
  product name) says little, a rare one says a lot. A question term found in no sentence
  gets the highest IDF, which is what makes unrelated questions score low.
- `coverage` = share of the question's IDF mass a sentence contains (0..1). It alone decides
  whether there is an answer at all (`MIN_COVERAGE`), so the threshold does not depend on
  the retrieval mode's score scale.
- The ranking score adds a mild length normalisation (concise sentences first) and a bonus
  for the source's retrieval rank, so ties go to the best source.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

from app.rag.answer_types import AnswerDone, AnswerEvent, AnswerRequest, Source, Usage
from app.rag.chunking import count_tokens
from app.rag.store import bm25_query_sparse

PROVIDER = "extractive"
LEAD_IN = "From our documentation:"
MIN_COVERAGE = 0.3  # below this share of the question's IDF mass, say "don't know"
RELATIVE_KEEP = 0.6  # further sentences must reach this fraction of the best one's score
MAX_SENTENCES = 3
MAX_WORDS = 90  # budget for all quotes together
MAX_SENTENCE_WORDS = 50  # longer "sentences" (tables, run-ons) are quoted as a window
MIN_WORDS = 3  # shorter units are headings or fragments, not answers
LENGTH_B = 0.3  # BM25-style length normalisation strength (0 = off)
RANK_BONUS = 0.15
LEAD_BONUS = 0.05  # topic sentences open paragraphs: a small tie-breaker
NOVELTY = 0.5  # weight of not-yet-quoted question terms when picking further sentences
DUPLICATE_JACCARD = 0.7
# The candidates were retrieved *because* they share the question's terms, so IDF over them
# alone would punish exactly those terms; this many imaginary unrelated sentences smooth it.
BACKGROUND_SENTENCES = 20

# ---------------------------------------------------------------------------------
# Sentence splitting
# ---------------------------------------------------------------------------------

# Words that end with a period without ending the sentence (lowercased, inner dots kept).
_ABBREVIATIONS = frozenset(
    "e.g i.e vs cf al approx ca dr mr mrs ms prof sr jr st inc ltd corp dept fig vol pp "  # noqa: SIM905
    "p.m a.m u.s u.k ph.d resp incl".split()
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u2023\u25e6\u25aa\u2013]|\(?\d{1,3}[.)]|[a-z][.)])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_TABLE_ROW = re.compile(r"^\s*\|")
_TERMINAL = re.compile(r"[.!?:;,\u2026]$")
# A sentence end: terminal punctuation, optional closers, whitespace.
_SENT_END = re.compile(r"[.!?\u2026]+[\"')\]\u201d\u2019]*\s+")
_WS = re.compile(r"\s+")
_QA = re.compile(r"^\s*(?:Q|Question)\s*:.*?\n\s*(?:A|Answer)\s*:\s*(.+)$", re.S | re.I)
# How questions are phrased, not what they ask about ("how long does it take", "can I
# get"): not in the BM25 stopword list, but counting them would sink every coverage score.
_PHRASING = (
    "long much many get gets got use using need needs want wants make work works way tell "
    "know like possible able find help please thanks thank hi hello anyone someone anything "
    "something take takes happen happens mean means explain describe give exist exists "
    "actually really currently"
)
_ANAPHOR = re.compile(r"^(?:It|This|That|These|Those|They|Then|Also|However|But|Otherwise)\b")


def _units(text: str) -> Iterator[tuple[int, int, bool]]:
    """(start, end, is_title) of paragraphs, list items, headings, table rows; code skipped.

    A title is a markdown heading, or a lone short unpunctuated line before a capitalised one
    (how headings look in PDF text). Titles help splitting but are never quoted as answers.
    """
    start: int | None = None
    end = 0
    lines = 0  # lines in the current unit
    prev_line = ""
    in_fence = False
    pos = 0
    for line in text.splitlines(keepends=True):
        line_start, pos = pos, pos + len(line)
        body = line.rstrip("\r\n")
        stripped = body.strip()
        fence = _FENCE.match(body) is not None
        in_fence ^= fence
        if fence or in_fence or not stripped:
            if start is not None:
                yield start, end, False
            start = None
            continue
        heading = _HEADING.match(body)
        marker = _BULLET.match(body) or heading
        title = start is not None and lines == 1 and _looks_like_title(prev_line, stripped)
        if start is None or marker or title or _TABLE_ROW.match(body):
            if start is not None:
                yield start, end, title
            start = line_start + (marker.end() if marker else len(body) - len(body.lstrip()))
            lines = 0
        end = line_start + len(body.rstrip())
        lines += 1
        prev_line = stripped
        if heading or _TABLE_ROW.match(body):
            yield start, end, heading is not None  # never continues on the next line
            start = None
    if start is not None:
        yield start, end, False


def _looks_like_title(prev: str, line: str) -> bool:
    """A short line without punctuation followed by a capitalised line: a title, not a wrap."""
    if not prev:
        return False
    if prev.endswith(":"):
        return True
    return not _TERMINAL.search(prev) and len(prev) < 60 and line[:1].isupper()


def _sentence_ends(unit: str) -> Iterator[int]:
    """Offsets in `unit` where a sentence ends (after its punctuation and closers)."""
    for m in _SENT_END.finditer(unit):
        nxt = unit[m.end() : m.end() + 1]
        if not nxt or nxt.islower():
            continue  # "e.g. the", "3 p.m. today": a lowercase start never opens a sentence
        punct_at = m.start()
        head = unit[max(0, punct_at - 40) : punct_at]  # abbreviations are short
        word = head.split()[-1].lower().lstrip("(\"'") if head.strip() else ""
        if unit[punct_at] == "." and _is_abbreviation(word):
            continue
        yield m.start() + len(m.group().rstrip())


def _is_abbreviation(word: str) -> bool:
    # Initials ("J. Smith") and known abbreviations; "etc." usually does end a sentence.
    return (len(word) == 1 and word.isalpha()) or word in _ABBREVIATIONS


def _sentences(text: str, titles: bool) -> Iterator[tuple[int, int, bool]]:
    """(start, end, opens_unit) per sentence; opens_unit = first of its paragraph or item."""
    for a, b, is_title in _units(text):
        if is_title and not titles:
            continue
        unit = text[a:b]
        cut = 0
        first = True
        for end in [*_sentence_ends(unit), len(unit)]:
            piece = unit[cut:end]
            lead = len(piece) - len(piece.lstrip())
            if piece.strip():
                yield a + cut + lead, a + cut + len(piece.rstrip()), first
                first = False
            cut = end


def split_sentences(text: str, *, titles: bool = True) -> list[tuple[int, int]]:
    """Char spans of the sentences of `text` (stripped; bullets and heading marks excluded).

    `titles=False` leaves out headings and title-like lines.
    """
    return [(a, b) for a, b, _ in _sentences(text, titles)]


# ---------------------------------------------------------------------------------
# Scoring and selection
# ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Sentence:
    source: Source
    rank: int  # the source's retrieval rank, 0 = best
    index: int  # position of the sentence within its source
    text: str  # whitespace-collapsed, verbatim otherwise
    terms: frozenset[int]
    opens_unit: bool = False
    coverage: float = 0.0
    score: float = 0.0


def _terms(text: str) -> frozenset[int]:
    return frozenset(bm25_query_sparse(text)[0])


_PHRASING_TERMS = _terms(_PHRASING)


def question_terms(question: str) -> frozenset[int]:
    """The question's content terms: BM25 terms minus question phrasing."""
    return _terms(question) - _PHRASING_TERMS


def _answer_text(source: Source) -> str:
    """The owner's answer of a Q&A source (stored as "Q: ...\\nA: ..." or as the answer)."""
    if source.kind == "qa":
        m = _QA.match(source.text)
        if m:
            return m.group(1).strip()
    return source.text.strip()


def _ranked_sources(sources: Sequence[Source]) -> list[Source]:
    # Highest retrieval score first; ties keep the caller's order.
    return sorted(sources, key=lambda s: -s.score)


def _candidates(sources: Sequence[Source]) -> list[_Sentence]:
    out: list[_Sentence] = []
    for rank, source in enumerate(sources):
        text = _answer_text(source)
        for i, (a, b, opens) in enumerate(_sentences(text, titles=False)):
            sentence = _WS.sub(" ", text[a:b])
            if len(sentence.split()) < MIN_WORDS:
                continue
            out.append(_Sentence(source, rank, i, sentence, _terms(sentence), opens))
    return out


def _score(cands: list[_Sentence], query: frozenset[int], n_sources: int) -> dict[int, float]:
    """Set coverage and score on every candidate; returns the question terms' weights."""
    n = len(cands) + BACKGROUND_SENTENCES
    idf = {
        t: math.log(1 + (n - df + 0.5) / (df + 0.5))
        for t in query
        for df in [sum(1 for c in cands if t in c.terms)]
    }
    mass = sum(idf.values()) or 1.0
    avg_len = sum(len(c.terms) for c in cands) / len(cands)
    for c in cands:
        c.coverage = sum(idf[t] for t in query & c.terms) / mass
        length_norm = 1 - LENGTH_B + LENGTH_B * len(c.terms) / max(avg_len, 1.0)
        rank_weight = 1 - c.rank / max(n_sources - 1, 1)
        lead = LEAD_BONUS if c.opens_unit else 0.0
        c.score = c.coverage / length_norm + RANK_BONUS * rank_weight + lead
    return {t: w / mass for t, w in idf.items()}


def _is_duplicate(c: _Sentence, picked: list[_Sentence]) -> bool:
    for p in picked:
        if c.text == p.text or c.text in p.text or p.text in c.text:
            return True
        union = c.terms | p.terms
        if union and len(c.terms & p.terms) / len(union) >= DUPLICATE_JACCARD:
            return True
    return False


def _select(cands: list[_Sentence], weights: dict[int, float]) -> list[_Sentence]:
    """The best sentence above the threshold (the caller checked there is one), then up to
    two more whose score, plus a bonus for question terms not quoted yet ("invoices ... and
    refunds ..."), comes close to the best one's."""
    best = max((c for c in cands if c.coverage >= MIN_COVERAGE), key=lambda c: c.score)
    picked = [best]
    covered = set(best.terms)
    words = len(best.text.split())
    pool = [c for c in cands if c is not best and c.coverage >= MIN_COVERAGE / 2]
    while pool and len(picked) < MAX_SENTENCES:
        c = max(pool, key=lambda c: _gain(c, weights, covered))
        if _gain(c, weights, covered) < RELATIVE_KEEP * best.score:
            break
        pool.remove(c)
        size = min(len(c.text.split()), MAX_SENTENCE_WORDS)
        if words + size > MAX_WORDS or _is_duplicate(c, picked):
            continue
        picked.append(c)
        covered |= c.terms
        words += size
    _add_context(best, cands, picked, words)
    return picked


def _gain(c: _Sentence, weights: dict[int, float], covered: set[int]) -> float:
    return c.score + NOVELTY * sum(weights.get(t, 0.0) for t in c.terms - covered)


def _add_context(
    best: _Sentence, cands: list[_Sentence], picked: list[_Sentence], words: int
) -> None:
    """A best sentence like "It expires after 24 hours." needs the one before it."""
    if not _ANAPHOR.match(best.text) or len(picked) == MAX_SENTENCES:
        return
    for c in cands:
        if c.source is best.source and c.index == best.index - 1 and c not in picked:
            if words + len(c.text.split()) <= MAX_WORDS + MAX_SENTENCE_WORDS // 2:
                picked.append(c)
            return


def _window(c: _Sentence, query: frozenset[int]) -> str:
    """A long sentence is quoted as its densest `MAX_SENTENCE_WORDS` words, marked with …"""
    words = c.text.split(" ")
    if len(words) <= MAX_SENTENCE_WORDS:
        return c.text
    hits = [i for i, w in enumerate(words) if _terms(w) & query]
    center = hits[len(hits) // 2] if hits else 0
    start = max(0, min(center - MAX_SENTENCE_WORDS // 2, len(words) - MAX_SENTENCE_WORDS))
    end = start + MAX_SENTENCE_WORDS
    body = " ".join(words[start:end])
    return ("\u2026 " if start else "") + body + (" \u2026" if end < len(words) else "")


def _compose(picked: list[_Sentence], query: frozenset[int], citations: bool) -> str:
    """One quote per run of neighbouring sentences of a source; the best sentence's quote
    first, then the rest in source and reading order."""
    runs: list[list[_Sentence]] = []
    for c in sorted(picked, key=lambda c: (c.rank, c.index)):
        last = runs[-1][-1] if runs else None
        if last is not None and last.source is c.source and c.index == last.index + 1:
            runs[-1].append(c)
        else:
            runs.append([c])
    runs.sort(key=lambda run: picked[0] not in run)  # stable: the rest keep their order
    blocks: list[str] = []
    for run in runs:
        quote = " ".join(_window(c, query) for c in run)
        n = run[0].source.n
        blocks.append(f"> {quote} [{n}]" if citations else f"> {quote}")
    return "\n\n".join([LEAD_IN, *blocks])


# ---------------------------------------------------------------------------------
# The responder
# ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ExtractiveResult:
    text: str
    answered: bool
    used: list[Source]


def extract_answer(req: AnswerRequest) -> ExtractiveResult:
    """The whole answer at once (the responder streams this)."""
    sources = _ranked_sources(req.sources)
    if not sources:
        return ExtractiveResult(req.unknown_answer, False, [])
    top = sources[0]
    text = _answer_text(top)
    if top.kind == "qa" and text:
        # An owner-written answer beats any quote we could assemble; retrieval ranked it
        # first, so it is passed through without a lexical check of its own.
        if req.citations:
            text += f"\n\n[{top.n}]" if text.endswith("```") else f" [{top.n}]"
        return ExtractiveResult(text, True, [top])
    query = question_terms(req.retrieval_query or req.question)
    cands = _candidates(sources)
    if not query or not cands:
        return ExtractiveResult(req.unknown_answer, False, [])
    weights = _score(cands, query, len(sources))
    if max(c.coverage for c in cands) < MIN_COVERAGE:
        return ExtractiveResult(req.unknown_answer, False, [])
    picked = _select(cands, weights)
    used = [s for s in sources if any(c.source is s for c in picked)]
    return ExtractiveResult(_compose(picked, query, req.citations), True, used)


def _deltas(text: str) -> Iterator[str]:
    # Word by word, each with its trailing whitespace, so "".join(deltas) == text.
    yield from re.findall(r"\s*\S+\s*", text) or [text]


class ExtractiveResponder:
    """Answers from the retrieved sources alone; never sees or echoes the system prompt."""

    provider = PROVIDER

    def __init__(self, sentence_pause_s: float = 0.0) -> None:
        self.sentence_pause_s = sentence_pause_s

    async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        result = extract_answer(req)
        for delta in _deltas(result.text):
            yield delta
            await asyncio.sleep(0)  # let the consumer push each delta to the UI
        # "Read" = the question plus the sources the answer quotes (all of each source).
        read = "\n\n".join([req.question, *(s.text for s in result.used)])
        usage = Usage(
            tokens_in=count_tokens(read, special_tokens=False),
            tokens_out=count_tokens(result.text, special_tokens=False),
        )
        yield AnswerDone(model=PROVIDER, provider=PROVIDER, usage=usage, answered=result.answered)
