"""The offline answerer: quotes the most relevant sentences of the retrieved sources.

No model is involved, so nothing can be invented: the answer is a short lead-in plus one to
three sentences copied from `Source.text` (whitespace collapsed), each quote followed by
its `[n]`. Identifiers in quotes are set as inline code so markdown cannot turn `__init__`
into bold "init"; a spreadsheet row is quoted as one line built from its own headers and
values (both in `app.rag.extractive_quotes`).

How sentences are scored (lexical only; re-embedding every sentence costs ~0.5 s here):
- Terms are the retrieval BM25 terms (`app.rag.store.bm25_query_sparse`: English stopwords
  and Snowball stemming), so "configuring" matches "configure" exactly as search does.
- Question phrasing ("how long does it take", "can I get") is dropped from the question.
- IDF is computed over the candidate sentences themselves, smoothed with
  `BACKGROUND_SENTENCES` imaginary unrelated ones: a term every sentence shares (the
  product name) says little, a rare one says a lot. A question term found in no sentence
  gets the highest IDF, boosted by `ABSENT_BOOST` ("tea" asked of a coffee shop's pages).
- Headings are context: a sentence's `coverage` is the share of the question's IDF mass
  found in the sentence or in the heading it sits under. An FAQ question ("Do you sell
  decaf?" on its own line) is a heading, never an answer: the answer is the text under the
  best matching question (`_faq_answer`). Spreadsheet rows count their headers as context.
- Answer types: "how long", "how often", "how much"/price, "when", phone and stock
  questions want a sentence holding a duration, a frequency, an amount, a time, a number
  (`_INTENTS`); sentences that have it rank higher, and further quotes must have it too.
- `evidence` = coverage +/- `FIT_CREDIT` for the answer type. It alone decides whether
  there is an answer at all (`MIN_COVERAGE`), so the threshold does not depend on the
  retrieval mode's score scale, and it is the answer's confidence (`answer_confidence`),
  stored as `Message.confidence`. A code identifier the question names ("__init_subclass__")
  must occur in a source as written, or the answer is "don't know".
- The ranking score adds a mild length normalisation (concise sentences first), the
  heading's match, a bonus for the answer type and for the source's retrieval rank.

Tuned on the "tune" split of bench/answer_set (`make bench-answers` reports the rest).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from app.rag.answer_types import AnswerDone, AnswerEvent, AnswerRequest, Source, Usage
from app.rag.chunking import count_tokens
from app.rag.extractive_quotes import literal_markdown, row_sentence
from app.rag.sentences import WHITESPACE, iter_sentences
from app.rag.store import bm25_query_sparse

PROVIDER = "extractive"
LEAD_IN = "From our documentation:"
MIN_COVERAGE = 0.4  # below this evidence (share of the question's IDF mass), "don't know"
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
OWN_WEIGHT = 0.5  # question words in the sentence itself count on top of its heading's
# Question words in the heading above count on top of coverage: in an FAQ, the entry whose
# question matches is the answer even when its text shares no word with the question.
HEADING_WEIGHT = 0.3
FAQ_WEIGHT = 1.0
INTENT_BONUS = 0.6  # the sentence holds the kind of fact asked for (a duration, a price)
# Between streamed sentences: longer than the embed page's 40 ms push batching plus a
# frame, so each sentence gets its own paint; 3-4 sentences add ~0.2 s in all.
SENTENCE_PAUSE_S = 0.06
ABSENT_BOOST = 1.5  # weight factor of question words found in no candidate sentence
FIT_CREDIT = 0.15  # evidence added (or taken) when a quote has (lacks) the fact asked for

_QA = re.compile(r"^\s*(?:Q|Question)\s*:.*?\n\s*(?:A|Answer)\s*:\s*(.+)$", re.S | re.I)
# How questions are phrased, not what they ask about ("how long does it take", "can I
# get"): not in the BM25 stopword list, but counting them would sink every coverage score.
_PHRASING = (
    "long much many get gets got use using need needs want wants make work works way tell "
    "know like possible able find help please thanks thank hi hello anyone someone anything "
    "something take takes happen happens mean means explain describe give exist exists "
    "actually really currently already difference different differ would could should might "
    "shall will can may must come comes often frequently"
)
_ANAPHOR = re.compile(r"^(?:It|This|That|These|Those|They|Then|Also|However|But|Otherwise)\b")

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
    # Terms of the heading or FAQ question the sentence sits under: an answer under
    # "Do you sell decaf?" rarely repeats the question's words.
    context: frozenset[int] = frozenset()
    record: list[tuple[str, str]] | None = None  # (header, value) of a spreadsheet row
    faq: int = -1  # index of the FAQ question (a "?" heading) the sentence answers, if any
    coverage: float = 0.0  # share of the question's IDF mass in the sentence or its context
    own: float = 0.0  # the same, counting the sentence's own words only
    fits: bool = True  # has the kind of fact the question asks for (a duration, a price)
    evidence: float = 0.0  # coverage, +/- FIT_CREDIT when the question asks for a kind of fact
    score: float = 0.0


def _terms(text: str) -> frozenset[int]:
    return frozenset(bm25_query_sparse(text)[0])


_PHRASING_TERMS = _terms(_PHRASING)


# "How hot/heavy/far ...": the adjective names a measurement, which documents state as a
# number and a unit ("93 degrees"), rarely with the adjective itself.
_HOW_MEASURE = re.compile(
    r"\bhow (?:hot|cold|warm|heavy|big|large|small|tall|high|wide|far|deep)\b",
    re.I,
)
_NUM = r"\b\d+(?:[.,]\d+)?\s*"
# Each measured adjective wants its own units: "how heavy" is not answered by "93 degrees".
_MEASURES = (
    (r"hot|cold|warm", rf"{_NUM}(?:\u00b0|degrees?\b)"),
    (r"heavy", rf"{_NUM}(?:kg|g|grams?|kilograms?|lbs?|pounds?|oz|ounces?)\b"),
    (
        r"big|large|small|tall|high|wide|far|deep",
        rf"{_NUM}(?:cm|mm|m|met(?:er|re)s?|km|miles?|inch(?:es)?|ml|l|lit(?:er|re)s?)\b",
    ),
)


def question_terms(question: str) -> frozenset[int]:
    """The question's content terms: BM25 terms minus question phrasing."""
    return _terms(_HOW_MEASURE.sub("how", question)) - _PHRASING_TERMS


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


def _record_fields(line: str) -> list[tuple[str, str]]:
    fields = []
    for part in line.split("; "):
        header, _, value = part.partition(": ")
        fields.append((header.strip(), value.strip()))
    return fields


# (index, sentence, terms, opens_unit, context terms, record fields, faq index) per sentence.
_Parsed = tuple[int, str, frozenset[int], bool, frozenset[int], list[tuple[str, str]] | None, int]


@lru_cache(maxsize=4096)
def _parse(text: str, section: str) -> tuple[_Parsed, ...]:
    """A chunk's candidate sentences, independent of the question: the same chunks come
    back for many questions, so the splitting and term extraction are done once each
    (measured: the larger part of the answerer's own cost per turn)."""
    out: list[_Parsed] = []
    # A chunk cut from the middle of a section still sits under its heading.
    context = _terms(section) if section else frozenset()
    faq = -1
    for i, (a, b, opens, kind) in enumerate(iter_sentences(text, titles=True)):
        sentence = WHITESPACE.sub(" ", text[a:b])
        if kind == "title" or (sentence.endswith("?") and len(sentence) < 200):
            context = _terms(sentence)  # a heading or a question: what follows answers it
            faq = i if sentence.endswith("?") else -1
            continue
        if kind == "record":
            # Values say which row it is; headers (the same on every row) only say
            # what is asked about, so they count as context, like a heading.
            fields = _record_fields(sentence)
            terms = _terms(" ".join(v for _, v in fields))
            headers = _terms(" ".join(h for h, _ in fields))
            out.append((i, sentence, terms, True, headers, fields, -1))
            continue
        if len(sentence.split()) < MIN_WORDS:
            continue
        out.append((i, sentence, _terms(sentence), opens, context, None, faq))
    return tuple(out)


def _candidates(sources: Sequence[Source]) -> list[_Sentence]:
    out: list[_Sentence] = []
    for rank, source in enumerate(sources):
        for i, sentence, terms, opens, context, record, faq in _parse(
            _answer_text(source), source.section or ""
        ):
            out.append(
                _Sentence(
                    source, rank, i, sentence, terms, opens, context,
                    record=list(record) if record is not None else None, faq=faq,
                )
            )  # fmt: skip
    return out


# What a question asks for, and how a sentence that answers it looks. A quote without it
# ("How long does shipping take?" -> a sentence about P.O. boxes) is ranked lower and
# reported with lower confidence.
_NUMBER_WORDS = (
    r"(?:\d+(?:[.,]\d+)?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|thirty)"
)
_DURATION = (
    rf"\b{_NUMBER_WORDS}(?:\s*(?:to|-|\u2013|or)\s*{_NUMBER_WORDS})?\s+(?:business\s+|working\s+)?"
    r"(?:days?|weeks?|hours?|minutes?|months?|years?)\b"
)
_MONEY = r"[$\u20ac\u00a3]\s?\d|\b\d+(?:[.,]\d+)?\s*(?:dollars?|usd|eur|euros?|cents?)\b|\bfree\b"
_CLOCK = (
    r"\b\d{1,2}(?::\d{2})?\s*(?:a\.m\.|p\.m\.|am|pm)"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\bweekdays?\b"
)
_PHONE = r"\+?\d[\d ().-]{6,}\d"
_INTENTS: tuple[tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str] | None], ...] = (
    # (question asks, sentence answers, header of a spreadsheet column that answers)
    (
        re.compile(r"\bhow (?:long|soon|fast|quickly)\b|\bhow many (?:days|weeks|hours)\b", re.I),
        re.compile(_DURATION, re.I),
        None,
    ),
    (
        re.compile(
            r"\b(?:price|prices|priced|cost|costs|fee|fees)\b"
            r"|\bhow much (?:is|are|does|do|will|for)\b",
            re.I,
        ),
        re.compile(_MONEY, re.I),
        re.compile(r"price|cost|usd|eur|\$|amount|fee", re.I),
    ),
    (
        re.compile(r"^\s*when\b|\bwhat time\b|\bopening hours\b", re.I),
        re.compile(f"{_DURATION}|{_CLOCK}", re.I),
        None,
    ),
    (
        re.compile(r"\bhow (?:often|frequently)\b", re.I),
        re.compile(
            r"\bevery\b|\beach\b|\b(?:daily|weekly|monthly|yearly|annually|once|twice)\b"
            r"|\btimes? (?:a|per)\b|\bper (?:day|week|month|year)\b",
            re.I,
        ),
        None,
    ),
    (re.compile(r"\bphone\b|\bcall\b", re.I), re.compile(_PHONE), re.compile("phone", re.I)),
    *(
        (re.compile(rf"\bhow (?:{asks})\b", re.I), re.compile(answers, re.I), None)
        for asks, answers in _MEASURES
    ),
    (
        re.compile(r"\bin stock\b|\bavailable\b", re.I),
        re.compile(r"\b(?:in|out of) stock\b|\bavailable\b|\bsold out\b", re.I),
        re.compile("stock|availab", re.I),
    ),
)


def _intents(question: str) -> list[tuple[re.Pattern[str], re.Pattern[str] | None]]:
    return [(answers, column) for asks, answers, column in _INTENTS if asks.search(question)]


def _fits(c: _Sentence, intents: list[tuple[re.Pattern[str], re.Pattern[str] | None]]) -> bool:
    for answers, column in intents:
        if c.record is not None:
            if column is None or not any(column.search(h) and v for h, v in c.record):
                return False
        elif not answers.search(c.text):
            return False
    return True


def _score(
    cands: list[_Sentence], query: frozenset[int], n_sources: int, question: str
) -> dict[int, float]:
    """Set coverage and score on every candidate; returns the question terms' weights."""
    n = len(cands) + BACKGROUND_SENTENCES
    seen = frozenset().union(*(c.terms | c.context for c in cands))
    idf = {
        # A word of the question found nowhere ("tea" against a coffee shop's pages) is
        # what the question is about more often than not.
        t: math.log(1 + (n - df + 0.5) / (df + 0.5)) * (1.0 if t in seen else ABSENT_BOOST)
        for t in query
        for df in [sum(1 for c in cands if t in c.terms)]
    }
    mass = sum(idf.values()) or 1.0
    avg_len = sum(len(c.terms) for c in cands if c.record is None) / len(cands)
    intents = _intents(question)
    # "cost" in "What does the Kenya AA cost?" names a column, not a row to look up.
    asked = _terms(" ".join(m.group() for a, _, _ in _INTENTS for m in a.finditer(question)))
    for c in cands:
        c.own = sum(idf[t] for t in query & c.terms) / mass
        c.coverage = sum(idf[t] for t in query & (c.terms | c.context)) / mass
        heading = sum(idf[t] for t in query & c.context) / mass
        c.fits = _fits(c, intents)
        c.evidence = c.coverage + (FIT_CREDIT if c.fits else -FIT_CREDIT) * bool(intents)
        if c.record is not None and (not c.own or query - seen - asked):
            # A row answers only when its values name what is asked about, and a lookup of
            # something no source mentions ("the espresso machine") has no row.
            c.evidence = 0.0
        # A row's length is its headers; concise sentences first applies to prose only.
        length = 1.0 if c.record else len(c.terms) / max(avg_len, 1.0)
        length_norm = 1 - LENGTH_B + LENGTH_B * length
        rank_weight = 1 - c.rank / max(n_sources - 1, 1)
        lead = LEAD_BONUS if c.opens_unit else 0.0
        fit = INTENT_BONUS if intents and c.fits else 0.0
        # An FAQ entry that matches "how long does shipping take?" by its heading but
        # holds no duration ("Where do you ship?") gets no heading bonus.
        c.score = (
            (c.coverage + OWN_WEIGHT * c.own) / length_norm
            + (FAQ_WEIGHT if c.faq >= 0 else HEADING_WEIGHT) * heading * c.fits
            + RANK_BONUS * rank_weight
            + lead
            + fit
        )
    return {t: w / mass for t, w in idf.items()}


def _is_duplicate(c: _Sentence, picked: list[_Sentence]) -> bool:
    for p in picked:
        if c.text == p.text or c.text in p.text or p.text in c.text:
            return True
        union = c.terms | p.terms
        if union and len(c.terms & p.terms) / len(union) >= DUPLICATE_JACCARD:
            return True
    return False


# Code names in a question ("__init_subclass__", "str()", "**kwargs"): matched as written,
# since their word pieces ("init", "subclass") also occur in unrelated sentences.
_IDENTIFIER = re.compile(r"(?<![\w*])(?:\*{1,2}[A-Za-z_]\w*|[A-Za-z_]\w*(?:\.\w+)*(?:\(\)|\*)?)")


def _unknown_identifier(question: str, sources: Sequence[Source]) -> bool:
    """Whether the question names a code identifier that no source contains."""
    names = [
        m.group().removesuffix("()")
        for m in _IDENTIFIER.finditer(question)
        if "_" in m.group() or m.group().endswith(("()", "*")) or m.group().startswith("*")
    ]
    names = [n for n in names if any(ch.isalpha() for ch in n)]
    return any(all(n not in s.text for s in sources) for n in names)


def _select(
    cands: list[_Sentence], weights: dict[int, float], min_evidence: float = MIN_COVERAGE
) -> list[_Sentence]:
    """The best sentence above the threshold (the caller checked there is one), then up to
    two more whose score, plus a bonus for question terms not quoted yet ("invoices ... and
    refunds ..."), comes close to the best one's."""
    best = max((c for c in cands if c.evidence >= min_evidence), key=lambda c: c.score)
    if best.faq >= 0:
        return _faq_answer(best, cands)
    picked = [best]
    covered = set(best.terms)
    words = len(best.text.split())
    if best.record is not None:
        # More rows only when they match as well ("Which coffees are light roasts?").
        pool = [c for c in cands if c.record and c is not best and c.own >= best.own]
    else:
        # When the question asks for a kind of fact and the best quote has it, further
        # quotes must have it too ("how long": durations, not the P.O.-box sentence) unless
        # they answer another part of the question.
        pool = [
            c
            for c in cands
            if c.record is None
            and c is not best
            and c.coverage >= MIN_COVERAGE / 2
            and (c.fits or not best.fits or bool(c.terms & weights.keys() - best.terms))
        ]
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


def _faq_answer(best: _Sentence, cands: list[_Sentence]) -> list[_Sentence]:
    """The answer under the matching FAQ question, from its start, within the budget."""
    answer = sorted(
        (c for c in cands if c.source is best.source and c.faq == best.faq), key=lambda c: c.index
    )
    picked: list[_Sentence] = []
    words = 0
    for c in answer:
        size = min(len(c.text.split()), MAX_SENTENCE_WORDS)
        if picked and (len(picked) == MAX_SENTENCES or words + size > MAX_WORDS):
            break
        picked.append(c)
        words += size
    # The quote that scored best leads the answer (it is the one `_compose` puts first).
    return sorted(picked, key=lambda c: c is not best) if best in picked else [best, *picked]


def _gain(c: _Sentence, weights: dict[int, float], covered: set[int]) -> float:
    return c.score + NOVELTY * sum(weights.get(t, 0.0) for t in c.terms - covered)


def _add_context(
    best: _Sentence, cands: list[_Sentence], picked: list[_Sentence], words: int
) -> None:
    """A best sentence like "It expires after 24 hours." needs the one before it."""
    if best.record or not _ANAPHOR.match(best.text) or len(picked) == MAX_SENTENCES:
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


def _compose(
    picked: list[_Sentence],
    query: frozenset[int],
    citations: bool,
    columns: Sequence[re.Pattern[str]] = (),
) -> list[str]:
    """One quote per run of neighbouring sentences of a source; the best sentence's quote
    first, then the rest in source and reading order. A spreadsheet row is one sentence.

    Returns the answer in pieces, one per sentence (the lead-in first), each a valid
    markdown prefix when joined to the ones before it: they are streamed one by one.
    """
    runs: list[list[_Sentence]] = []
    for c in sorted(picked, key=lambda c: (c.rank, c.index)):
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and last.source is c.source
            and c.index == last.index + 1
            and not (c.record or last.record)
        ):
            runs[-1].append(c)
        else:
            runs.append([c])
    runs.sort(key=lambda run: picked[0] not in run)  # stable: the rest keep their order
    pieces = [LEAD_IN]
    for run in runs:
        if run[0].record is not None:
            sentences = [row_sentence(run[0].record, query, columns)]
        else:
            sentences = [literal_markdown(_window(c, query)) for c in run]
        sentences[0] = "\n\n> " + sentences[0]
        sentences[1:] = [" " + x for x in sentences[1:]]
        if citations:
            sentences[-1] += f" [{run[0].source.n}]"
        pieces.extend(sentences)
    return pieces


# ---------------------------------------------------------------------------------
# The responder
# ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ExtractiveResult:
    text: str
    answered: bool
    used: list[Source]
    confidence: float | None = None  # 0..1, see `answer_confidence`; None when not answered
    pieces: list[str] = field(default_factory=list)  # "".join(pieces) == text; streamed

    def __post_init__(self) -> None:
        if not self.pieces:
            # Paragraph by paragraph, separators kept (an owner's Q&A answer, "don't know").
            self.pieces = re.findall(r"\s*\S.*?(?=\n\s*\n|\Z)", self.text, re.S) or [self.text]


def answer_confidence(best: _Sentence) -> float:
    """How likely the quote answers the question, 0..1 (stored as Message.confidence).

    The share of the question's weight the quoted sentence and its heading carry, lowered
    when the question asks for a kind of fact the quote does not hold. Calibrated on the
    tuning split of bench/answer_set so that LOW_CONFIDENCE_SCORE (0.5) separates right
    from wrong answers.
    """
    return round(min(max(best.evidence, 0.0), 1.0), 3)


def extract_answer(req: AnswerRequest, *, min_evidence: float = MIN_COVERAGE) -> ExtractiveResult:
    """The whole answer at once (the responder streams this).

    `min_evidence` is the "don't know" gate; bench/answers.py lowers it to see what would
    have been quoted, to measure how well the confidence ranks those quotes.
    """
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
        return ExtractiveResult(text, True, [top], round(min(max(top.score, 0.0), 1.0), 3))
    query = question_terms(req.retrieval_query or req.question)
    cands = _candidates(sources)
    if not query or not cands:
        return ExtractiveResult(req.unknown_answer, False, [])
    if _unknown_identifier(req.retrieval_query or req.question, sources) and min_evidence > 0:
        return ExtractiveResult(req.unknown_answer, False, [])
    weights = _score(cands, query, len(sources), req.question)
    if max(c.evidence for c in cands) < min_evidence:
        return ExtractiveResult(req.unknown_answer, False, [])
    picked = _select(cands, weights, min(min_evidence, max(c.evidence for c in cands)))
    used = [s for s in sources if any(c.source is s for c in picked)]
    columns = [column for _, column in _intents(req.question) if column is not None]
    pieces = _compose(picked, query, req.citations, columns)
    return ExtractiveResult("".join(pieces), True, used, answer_confidence(picked[0]), pieces)


class ExtractiveResponder:
    """Answers from the retrieved sources alone; never sees or echoes the system prompt.

    The answer is ready at once, but it is streamed sentence by sentence with
    `sentence_pause_s` between sentences, so a visitor sees it arrive: the embed page
    pushes at most one update per `STREAM_BATCH_S` (40 ms), and deltas closer together than
    that would all land in one paint. The first sentence (the lead-in) is not delayed.
    """

    provider = PROVIDER

    def __init__(self, sentence_pause_s: float = SENTENCE_PAUSE_S) -> None:
        self.sentence_pause_s = sentence_pause_s

    async def stream(self, req: AnswerRequest) -> AsyncIterator[AnswerEvent]:
        result = extract_answer(req)
        for i, delta in enumerate(result.pieces):
            if i:
                await asyncio.sleep(self.sentence_pause_s)  # 0 still lets the consumer run
            yield delta
        # "Read" = the question plus the sources the answer quotes (all of each source).
        read = "\n\n".join([req.question, *(s.text for s in result.used)])
        usage = Usage(
            tokens_in=count_tokens(read, special_tokens=False),
            tokens_out=count_tokens(result.text, special_tokens=False),
        )
        yield AnswerDone(
            model=PROVIDER,
            provider=PROVIDER,
            usage=usage,
            answered=result.answered,
            confidence=result.confidence,
        )
