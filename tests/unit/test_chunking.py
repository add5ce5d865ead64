"""Chunking: exact token budget for all-MiniLM-L6-v2, coverage, overlap, metadata."""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import re
import statistics
from pathlib import Path

import pytest

from app.rag.chunking import (
    DEFAULT_MAX_CHARS,
    MAX_SEQ_LENGTH,
    chunk_document,
    count_tokens,
    embedding_text,
    get_tokenizer,
)
from app.rag.types import Chunk, ParsedDocument, Section

# shared/ sits beside the project's root (in CI too); SCIFACT_DIR overrides it.
CORPUS = (
    Path(
        os.environ.get("SCIFACT_DIR")
        or Path(__file__).resolve().parents[3] / "shared" / "datasets" / "scifact-mini"
    )
    / "corpus.jsonl"
)


def _doc(*texts: str, **section_kw: object) -> ParsedDocument:
    return ParsedDocument(kind="text", sections=[Section(t, **section_kw) for t in texts])


def _chunk(doc: ParsedDocument, **kw: object) -> list[Chunk]:
    return chunk_document(doc, tenant_id="t1", document_id="d1", title="Doc", **kw)


def _rebuild(text: str, chunks: list[Chunk]) -> str:
    """The section text the chunks cover, checking each chunk is a contiguous slice of it."""
    out, covered = "", None
    for c in chunks:
        a, b = c.extra["char_start"], c.extra["char_end"]
        assert c.text == text[a:b]
        if covered is None:
            out, covered = text[a:b], b
        else:
            assert not text[covered:a].strip(), "gap between consecutive chunks: text lost"
            assert b > covered, "chunk makes no progress"
            out += text[covered:b]
            covered = b
    return out


def _overlap_ratio(text: str, prev: Chunk, nxt: Chunk) -> float:
    piece = text[nxt.extra["char_start"] : prev.extra["char_end"]]
    overlap = count_tokens(piece, special_tokens=False) if piece.strip() else 0
    return overlap / (prev.token_count - 2)


@pytest.fixture(scope="module")
def scifact() -> list[tuple[str, list[Chunk]]]:
    if not CORPUS.exists():
        from tests.conftest import service_missing

        service_missing(f"scifact-mini corpus not found at {CORPUS}")  # a failure in CI
    out = []
    with CORPUS.open() as handle:
        for line in handle:  # all 1,284 documents: about 2 s
            row = json.loads(line)
            text = row["title"] + " " + row["text"]  # as the dataset README indexes them
            chunks = chunk_document(
                _doc(text), tenant_id="t", document_id=row["_id"], title=row["title"]
            )
            out.append((text, chunks))
    return out


def test_count_tokens_includes_special_tokens_and_is_not_capped_at_128() -> None:
    assert count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    assert count_tokens("hello world", special_tokens=False) == 2
    # tokenizer.json ships with truncation/padding at 128: counting must ignore both.
    assert count_tokens("word " * 300) == 302
    assert get_tokenizer() is get_tokenizer()


def test_scifact_zero_truncation_and_no_text_lost(scifact: list[tuple[str, list[Chunk]]]) -> None:
    all_chunks = [c for _, chunks in scifact for c in chunks]
    assert len(scifact) >= 300 and len(all_chunks) > len(scifact)
    # Re-count every chunk independently with the model's own tokenizer (specials included).
    encodings = get_tokenizer().encode_batch([embedding_text(c) for c in all_chunks])
    recount = [len(e.ids) for e in encodings]
    assert max(recount) <= MAX_SEQ_LENGTH
    assert [c.token_count for c in all_chunks] == recount
    for text, chunks in scifact:
        assert [c.index for c in chunks] == list(range(len(chunks)))
        assert _rebuild(text, chunks) == text.strip()
        words = set(text.split())
        assert words <= {w for c in chunks for w in c.text.split()}


def test_scifact_chunks_are_full_and_sentence_aligned(
    scifact: list[tuple[str, list[Chunk]]],
) -> None:
    non_final = [c for _, chunks in scifact for c in chunks[:-1]]
    assert statistics.mean(c.token_count for c in non_final) > 0.75 * MAX_SEQ_LENGTH
    # Cut at sentence ends, not mid-sentence, when a document spans several chunks.
    ends = sum(bool(re.search(r"[.!?][\"')\]]*$", c.text)) for c in non_final)
    assert ends / len(non_final) > 0.95


def test_scifact_overlap_is_about_one_eighth(scifact: list[tuple[str, list[Chunk]]]) -> None:
    ratios = [
        _overlap_ratio(text, a, b)
        for text, chunks in scifact
        for a, b in itertools.pairwise(chunks)
    ]
    assert len(ratios) > 500
    assert 0.10 <= statistics.mean(ratios) <= 0.15
    assert min(ratios) > 0.05 and max(ratios) < 0.20


def test_metadata_indexes_and_empty_sections_skipped() -> None:
    doc = ParsedDocument(
        kind="pdf",
        sections=[
            Section("Intro text. " * 5, page=1, section="Intro"),
            Section("   \n\n  ", page=2, section="Blank"),
            Section("", page=3),
            Section("Long body sentence number x. " * 120, page=4, section="Body"),
        ],
    )
    chunks = chunk_document(doc, tenant_id="ten", document_id="doc", title="The Title")
    assert len(chunks) >= 3
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert (chunks[0].page, chunks[0].section, chunks[0].extra["section_index"]) == (1, "Intro", 0)
    assert {c.page for c in chunks} == {1, 4}
    assert all(c.section == "Body" for c in chunks[1:])
    assert all((c.tenant_id, c.document_id, c.title) == ("ten", "doc", "The Title") for c in chunks)
    assert len({c.id for c in chunks}) == len(chunks)
    assert all(c.token_count == count_tokens(c.text) <= MAX_SEQ_LENGTH for c in chunks)
    assert chunk_document(_doc("", "  "), tenant_id="t", document_id="d", title="") == []


def test_small_section_is_one_chunk() -> None:
    [chunk] = _chunk(_doc("  Just one short line.  "))
    assert chunk.text == "Just one short line."
    assert chunk.token_count == count_tokens("Just one short line.")


@pytest.mark.parametrize(
    "blob",
    [
        "a" * 5000,  # one 5000-char word: a single [UNK] per piece for BERT
        base64.b64encode(random.Random(7).randbytes(15_000)).decode(),  # dense, + and /
        "\u4e2d\u6587\u6d4b\u8bd5" * 800,  # CJK without punctuation: one token per character
        "-" * 3000,  # punctuation only: one token per character
    ],
    ids=["long-word", "base64", "cjk", "punctuation"],
)
def test_unbroken_text_is_hard_split_never_truncated(blob: str) -> None:
    text = f"Before the blob. {blob} After the blob."
    chunks = _chunk(_doc(text))
    assert len(chunks) > 1
    assert all(c.token_count == count_tokens(c.text) <= MAX_SEQ_LENGTH for c in chunks)
    assert all(len(c.text) <= DEFAULT_MAX_CHARS for c in chunks)
    assert _rebuild(text, chunks) == text


def test_long_sentence_without_punctuation_splits_at_words() -> None:
    text = " ".join(f"word{i}" for i in range(2000))
    chunks = _chunk(_doc(text))
    assert all(c.token_count <= MAX_SEQ_LENGTH for c in chunks)
    assert _rebuild(text, chunks) == text
    tokens = set(text.split())
    assert all(set(c.text.split()) <= tokens for c in chunks)  # no word cut in half


def test_paragraph_boundaries_preferred() -> None:
    paragraph = "This sentence belongs to a paragraph about one topic only. " * 9
    text = "\n\n".join(f"P{i}. {paragraph.strip()}" for i in range(6))
    chunks = _chunk(_doc(text))
    # Every cut falls at the end of a paragraph (each holds ~110 tokens, two fit a chunk).
    for c in chunks[:-1]:
        assert text[c.extra["char_end"] :].startswith("\n\nP")


def test_reserve_tokens_and_custom_limits() -> None:
    text = "A fairly ordinary sentence with several words in it. " * 200
    chunks = _chunk(_doc(text), reserve_tokens=40)
    assert max(c.token_count for c in chunks) <= MAX_SEQ_LENGTH - 40
    small = _chunk(_doc(text), max_tokens=64, overlap=0.0)
    assert max(c.token_count for c in small) <= 64
    assert "".join(c.text + " " for c in small).strip() == text.strip()
    with pytest.raises(ValueError):
        _chunk(_doc(text), max_tokens=10)


def test_atom_larger_than_budget_is_split_by_safety_net() -> None:
    # A 90-character word is ~40 word-pieces: more than a 20-token budget can hold.
    word = "".join(random.Random(3).choice("bcdfghjklmnpqrstvwxz0123456789") for _ in range(90))
    text = f"Some words first. {word} and after."
    chunks = _chunk(_doc(text), max_tokens=20)
    assert all(c.token_count == count_tokens(c.text) <= 20 for c in chunks)
    assert len(chunks) > 3 and word in "".join(c.text for c in chunks)
