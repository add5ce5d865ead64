"""The intent classifier's logic (rules, order, threshold) with a deterministic embedder."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from app.rag.intents import DEFAULT_INTENTS, Intent, IntentClassifier


class BagOfWords:
    """Each word hashed to one of 64 axes: similar wording, similar vector."""

    calls = 0

    def _vec(self, text: str) -> list[float]:
        v = np.zeros(64, dtype=np.float32)
        for word in text.lower().split():
            v[int(hashlib.sha1(word.strip("?!.,").encode()).hexdigest(), 16) % 64] += 1
        return v.tolist()

    def embed_texts(self, texts: list[str]) -> list[list[float]]:
        BagOfWords.calls += 1
        return [self._vec(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vec(text)


@pytest.fixture
def classifier() -> IntentClassifier:
    return IntentClassifier(DEFAULT_INTENTS, BagOfWords())


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hello", "greeting"),
        ("Good morning!", "greeting"),
        ("Bonjour", "greeting"),
        ("thanks!", "thanks"),
        ("ok thanks bye", "thanks"),
        ("Thanks for the quick answer", "thanks"),
        ("where is my order 1234?", "order_status"),
        ("can you check the status of my parcel", "order_status"),
        ("I want to speak to a human", "talk_to_person"),
        ("agent", "talk_to_person"),
        ("are you open on sunday?", "opening_hours"),
        ("what are your opening hours", "opening_hours"),
        ("show me backpacks under $120", "product_search"),
        ("do you sell gift cards", "product_search"),
    ],
)
def test_rules_decide_clear_requests(classifier: IntentClassifier, text: str, intent: str) -> None:
    match = classifier.classify(text)
    assert (match.intent, match.via, match.score) == (intent, "rule", 1.0)


def test_task_intents_win_over_pleasantries(classifier: IntentClassifier) -> None:
    # Greeting and thanks rules need the whole message: a request after "hi" is the request.
    assert classifier.classify("hi, where is my order?").intent == "order_status"
    assert classifier.classify("thanks, can I talk to a person now?").intent == "talk_to_person"
    assert classifier.classify("Thank you, but what are your opening hours?").intent == (
        "opening_hours"
    )


def test_questions_for_the_knowledge_base_are_not_intents(classifier: IntentClassifier) -> None:
    for text in ("what is your return policy?", "how long does shipping take to Canada"):
        match = classifier.classify(text)
        assert match.via != "rule", text


def test_similarity_decides_above_the_threshold_only() -> None:
    intents = [Intent("refund", examples=("I want my money back",))]
    strict = IntentClassifier(intents, BagOfWords(), threshold=0.99)
    loose = IntentClassifier(intents, BagOfWords(), threshold=0.3)
    assert strict.classify("I want my money back").intent == "refund"  # identical: cosine 1
    near = loose.classify("I want my money back please")
    assert (near.intent, near.via) == ("refund", "similarity") and 0.3 <= near.score < 1
    far = strict.classify("I want my money back please")
    assert (far.intent, far.via, far.runner_up) == (None, "none", "refund")


def test_examples_are_embedded_once() -> None:
    BagOfWords.calls = 0
    classifier = IntentClassifier(DEFAULT_INTENTS, BagOfWords())
    for text in ("something vague", "another vague thing", "and a third"):
        classifier.classify(text)
    assert BagOfWords.calls == 1


def test_empty_and_oversized_messages() -> None:
    classifier = IntentClassifier(DEFAULT_INTENTS, BagOfWords())
    assert classifier.classify("   ").intent is None
    long = "where is my order? " + "I have been waiting and waiting. " * 6
    assert classifier.classify(long).intent is None  # a long message is for the LLM


def test_intent_names_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        IntentClassifier([Intent("a", ("x",)), Intent("a", ("y",))], BagOfWords())


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("wheres my oder", "order_status"),  # chat spelling and a one-letter typo
        ("what happened to order 7781", "order_status"),
        ("has my package left the warehouse", "order_status"),
        ("please get a human on the line", "talk_to_person"),
        ("is anyone from the team available", "talk_to_person"),
        ("when can I reach you by chat", "opening_hours"),
        ("which mugs are in stock", "product_search"),
        ("do you have yoga mats", "product_search"),
        ("hey there, hope you're well", "greeting"),
        ("super, thanks for that", "thanks"),
    ],
)
def test_rules_after_tuning(classifier: IntentClassifier, text: str, intent: str) -> None:
    match = classifier.classify(text)
    assert (match.intent, match.via) == (intent, "rule")


@pytest.mark.parametrize(
    "text",
    [
        "I want a refund",
        "do you have a return policy?",
        "I need a new password",
        "can I order 100 mugs for my company",
        "I think so",
        "is it there yet",
    ],
)
def test_service_requests_are_not_product_or_other_rules(
    classifier: IntentClassifier, text: str
) -> None:
    assert classifier.classify(text).via != "rule", text


def test_normalisation_fixes_typos_of_signal_words_only() -> None:
    from app.rag.intent_text import normalize

    assert normalize("Where\u2019s my ordr, pls") == "where's my order, please"
    assert normalize("hi there, I think it's yours") == "hi there, i think it's yours"
    assert normalize("parcle") == "parcel"
