"""Sentence splitting for the offline answerer (app/rag/extractive.py): a chunk's text as
units (paragraphs, list items, headings and title-like lines, table rows, "Header: value"
records) and the sentences inside them, as character spans into the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A line ending in "?" up to this long, followed by text, reads as a question heading.
MAX_QUESTION_TITLE_CHARS = 150

# Words that end with a period without ending the sentence (lowercased, inner dots kept).
_ABBREVIATIONS = frozenset(
    "e.g i.e vs cf al approx ca dr mr mrs ms prof sr jr st inc ltd corp dept fig vol pp "  # noqa: SIM905
    "p.m a.m u.s u.k ph.d resp incl".split()
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_BULLET = re.compile(r"^\s*(?:[-*+\u2022\u2023\u25e6\u25aa\u2013]|\(?\d{1,3}[.)]|[a-z][.)])\s+")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")
_TABLE_ROW = re.compile(r"^\s*\|")
_ENDS_SENTENCE = re.compile(r"[.!?][\"')\]\u201d\u2019]*$")
_TERMINAL = re.compile(r"[.!?:;,\u2026]$")
# A sentence end: terminal punctuation, optional closers, whitespace.
_SENT_END = re.compile(r"[.!?\u2026]+[\"')\]\u201d\u2019]*\s+")
WHITESPACE = re.compile(r"\s+")
# A spreadsheet row as parsing writes it: "Header: value; Header: value" (two fields or more).
_RECORD = re.compile(r"^[^:;\n]{1,80}: [^;\n]*(?:; [^:;\n]{1,80}: [^;\n]*)+$")


def _units(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of paragraphs, list items, headings, table rows; code skipped.

    kind is "title" for a markdown heading, a lone short unpunctuated line before a
    capitalised one (how headings look in PDF text) or a question on its own line before
    its answer (an FAQ heading); "record" for a "Header: value; Header: value" line (how
    spreadsheet rows are parsed); "text" otherwise. Titles are context, never answers.
    """
    start: int | None = None
    end = 0
    lines = 0  # lines in the current unit
    prev_line = ""
    prev_span = (0, 0)  # of prev_line
    prev_before_end = 0  # end of the line before prev_line
    sentence_ended_before_prev = False  # the line before prev_line ended a sentence
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
                yield start, end, "text"
            start = None
            continue
        if _RECORD.match(stripped):
            if start is not None:
                yield start, end, "text"
            lead = len(body) - len(body.lstrip())
            yield line_start + lead, line_start + len(body.rstrip()), "record"
            start = None
            continue
        heading = _HEADING.match(body)
        marker = _BULLET.match(body) or heading
        title = start is not None and lines == 1 and _looks_like_title(prev_line, stripped)
        if (
            start is not None
            and lines >= 2
            and sentence_ended_before_prev
            and not marker
            and _looks_like_title(prev_line, stripped)
        ):
            # PDF text has no blank line between a paragraph and the next heading.
            yield start, prev_before_end, "text"
            start, lines, title = prev_span[0], 1, True
        if start is None or marker or title or _TABLE_ROW.match(body):
            if start is not None:
                yield start, end, "title" if title else "text"
            start = line_start + (marker.end() if marker else len(body) - len(body.lstrip()))
            lines = 0
        prev_before_end = end
        sentence_ended_before_prev = lines >= 1 and _ENDS_SENTENCE.search(prev_line) is not None
        end = line_start + len(body.rstrip())
        lines += 1
        prev_line = stripped
        prev_span = (line_start + len(body) - len(body.lstrip()), end)
        if heading or _TABLE_ROW.match(body):
            yield start, end, "title" if heading else "text"  # never continues on the next line
            start = None
    if start is not None:
        yield start, end, "text"


def _looks_like_title(prev: str, line: str) -> bool:
    """A short line without punctuation followed by a capitalised line: a title, not a wrap."""
    if not prev:
        return False
    if prev.endswith(":"):
        return True
    if prev.endswith("?") and len(prev) <= MAX_QUESTION_TITLE_CHARS:
        return line[:1].isupper() or line[:1].isdigit()  # an FAQ question, its answer below
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


def iter_sentences(text: str, titles: bool) -> Iterator[tuple[int, int, bool, str]]:
    """(start, end, opens_unit, kind) per sentence; opens_unit = first of its paragraph or
    item; kind as in `_units` (a record or a title is one "sentence")."""
    for a, b, kind in _units(text):
        if kind == "title" and not titles:
            continue
        if kind != "text":
            yield a, b, True, kind
            continue
        unit = text[a:b]
        cut = 0
        first = True
        for end in [*_sentence_ends(unit), len(unit)]:
            piece = unit[cut:end]
            lead = len(piece) - len(piece.lstrip())
            if piece.strip():
                yield a + cut + lead, a + cut + len(piece.rstrip()), first, kind
                first = False
            cut = end


def split_sentences(text: str, *, titles: bool = True) -> list[tuple[int, int]]:
    """Char spans of the sentences of `text` (stripped; bullets and heading marks excluded).

    `titles=False` leaves out headings and title-like lines.
    """
    return [(a, b) for a, b, _, _ in iter_sentences(text, titles)]
