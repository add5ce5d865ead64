"""How the offline answerer writes what it quotes (`app.rag.extractive`).

- `literal_markdown`: quoted text as markdown that shows exactly its characters: identifiers
  such as `__init__`, `**kwargs` or `d[key]` become inline code instead of bold or links.
- `row_sentence`: a spreadsheet row as one readable line from its own headers and values,
  the columns the question names first, amounts in a currency column written as money.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from app.rag.store import bm25_query_sparse


def _named(header: str, query: frozenset[int]) -> bool:
    """The question names this column (terms as `extractive.question_terms`: BM25's)."""
    return not query.isdisjoint(bm25_query_sparse(header)[0])


# ---------------------------------------------------------------------------------
# Quoting as written
# ---------------------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(`+)[^`]+?\1")
# Characters that markdown would read as emphasis, links, escapes or HTML.
_MARKUP_CHARS = re.compile(r"[_*\[\]~\\<>]")
_LEADING = "(\"'\u201c\u2018"
_TRAILING = ".,;:!?\"'\u201d\u2019"


def literal_markdown(text: str) -> str:
    """Quoted text as markdown that shows exactly these characters.

    Identifiers such as __init__, **kwargs, except* or d[key] would otherwise turn into
    bold text or links; they are set as inline code, which shows them unchanged (and
    stays readable unrendered). Code spans already in the text are kept as they are.
    """
    out: list[str] = []
    pos = 0
    for m in _CODE_SPAN.finditer(text):
        out.append(_literal_words(text[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_literal_words(text[pos:]))
    return "".join(out)


def _literal_words(text: str) -> str:
    return re.sub(r"\S+", lambda m: _literal_word(m.group()), text)


def _literal_word(word: str) -> str:
    if "://" in word or word.lower().startswith("www.") or "`" in word:
        return word  # URLs are the sanitizer's business; stray backticks stay as they are
    lead = len(word) - len(word.lstrip(_LEADING))
    core = word[lead:]
    tail = len(core)
    while tail and (
        core[tail - 1] in _TRAILING
        or (core[tail - 1] == ")" and core[:tail].count(")") > core[:tail].count("("))
    ):
        tail -= 1
    core, rest = core[:tail], core[tail:]
    if not _MARKUP_CHARS.search(core) or not any(ch.isalnum() for ch in core):
        return word
    return f"{word[:lead]}`{core}`{rest}"


# ---------------------------------------------------------------------------------
# Spreadsheet rows
# ---------------------------------------------------------------------------------

_NAME_HEADERS = frozenset({"name", "product", "product name", "item", "title", "description"})
_CURRENCY = (("usd", "$"), ("$", "$"), ("eur", "\u20ac"), ("\u20ac", "\u20ac"), ("gbp", "\u00a3"))
_MONEY_HEADER = re.compile(r"price|cost|amount|fee|usd|eur|gbp|[$\u20ac\u00a3]", re.I)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def row_sentence(
    fields: list[tuple[str, str]],
    query: frozenset[int],
    columns: Sequence[re.Pattern[str]] = (),
) -> str:
    """A spreadsheet row as one line: "Decaf Colombia — Price (USD): $14.50; Roast: ...".

    Built from the row's own headers and values only; the columns the question names come
    first, amounts in a currency column are written as money.
    """
    present = [(h, v) for h, v in fields if v]
    name_at = next(
        (i for i, (h, _) in enumerate(present) if h.lower() in _NAME_HEADERS),
        next((i for i, (_, v) in enumerate(present) if not _NUMBER.match(v) and " " in v), None),
    )
    name = present[name_at][1] if name_at is not None else ""
    rest = [f for i, f in enumerate(present) if i != name_at]
    # Stable sort: the columns the question names or asks about ("how much": the price)
    # first, the others in the sheet's order.
    rest.sort(key=lambda f: not (_named(f[0], query) or any(p.search(f[0]) for p in columns)))
    parts = [f"{h}: {_cell(h, v)}" for h, v in rest]
    body = "; ".join(parts)
    line = f"{name} \u2014 {body}" if name and body else name or body
    return literal_markdown(line + ("" if line.endswith(".") else "."))


def _cell(header: str, value: str) -> str:
    if not (_MONEY_HEADER.search(header) and _NUMBER.match(value)):
        return value
    symbol = next((sym for key, sym in _CURRENCY if key in header.lower()), "")
    amount = f"{float(value):,.2f}" if "." in value or symbol else value
    return f"{symbol}{amount}"
