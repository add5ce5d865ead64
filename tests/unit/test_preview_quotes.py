"""`quoted_sentence`: which sentence of a cited chunk the answer quotes (Test retrieval)."""

from __future__ import annotations

from app.services.retrieval_preview import quoted_sentence

CHUNK = (
    "Brewing\nUse 15 grams of coffee for 250 ml of water. Descale the machine every two "
    "months with citric acid. The drip tray holds 900 ml!"
)


def test_verbatim_quote_with_citation_markers_and_markdown() -> None:
    answer = "**Descale the machine every two months with citric acid.** [1]"
    assert (
        quoted_sentence(answer, CHUNK) == "Descale the machine every two months with citric acid."
    )


def test_paraphrase_picks_the_best_covered_sentence() -> None:
    answer = "You should descale the machine with citric acid about every two months [2]."
    assert (
        quoted_sentence(answer, CHUNK) == "Descale the machine every two months with citric acid."
    )


def test_unrelated_answer_quotes_nothing() -> None:
    assert quoted_sentence("Sorry, I couldn't find that in our documentation.", CHUNK) is None
    assert quoted_sentence("", CHUNK) is None
