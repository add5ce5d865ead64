"""Intents without an LLM: keyword rules first, then embedding similarity to example phrases.

A widget in `intent` mode answers only through intents (a canned reply or an action); in
`hybrid` mode a message that scores below the threshold goes on to the LLM. Rules are kept
few and precise (they win outright); everything else is decided by the nearest example
phrase, so owners extend an intent by adding examples, not patterns.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from app.rag.intent_text import keyword_pattern, normalize

# Best on the tune split of bench/intent_set after the rules were revised (bench/intents.py
# prints the sweep); reported on the blind holdout v2.
DEFAULT_THRESHOLD = 0.6
MAX_INTENT_WORDS = 30  # intents are short requests; a longer message goes to the LLM


class Embedder(Protocol):
    def embed_texts(self, texts: list[str]) -> list[list[float]]: ...
    def embed_query(self, text: str) -> list[float]: ...


@dataclass(frozen=True)
class Intent:
    name: str
    examples: tuple[str, ...]
    rules: tuple[str, ...] = ()  # regexes, case-insensitive; a match decides outright
    whole_message: bool = False  # rules must cover the whole message (greetings, thanks)
    reply: str = ""  # canned reply; empty when an action handles it
    action: str | None = None  # e.g. "order_status", "search_products", "handoff"
    keywords: tuple[str, ...] = ()  # owner-typed words or phrases; a whole-word match decides


@dataclass(frozen=True)
class IntentMatch:
    intent: str | None  # None: no intent (out of scope)
    score: float
    via: Literal["rule", "similarity", "none"]
    runner_up: str | None = None


def _words(*alternatives: str) -> str:
    return r"\b(?:" + "|".join(alternatives) + r")\b"


_HELLO = (
    r"(?:hi+|hello+|helo|hey+|hiya|howdy|yo|sup|greetings|hola|bonjour|hallo|salut|ciao"
    r"|good (?:morning|afternoon|evening|day)|morning|evening)"
)
_THANKS = (
    r"(?:thanks?(?: you)?(?: so much| a lot| again| kindly)?|thank u|thx|ty|tysm"
    r"|cheers(?: mate)?|merci|danke|gracias|much appreciated|appreciate it|many thanks)"
)
_FILLER = r"(?:ok(?:ay)?|great|perfect|awesome|brilliant|nice|cool|super)"
# What may follow a greeting and still leave it a greeting ("hey there, hope you're well").
_PLEASANTRY = (
    r"(?:how are (?:you|u)(?: doing)?(?: today)?|hope (?:you'?re|you are|all is) (?:well|good|ok)"
    r"|(?:is )?any(?:one|body) (?:there|here|around|available|online)"
    r"|(?:is )?(?:this|the) (?:chat|bot|thing) (?:working|on|live)"
    r"|i (?:need|could use) (?:some |a little )?help|can (?:you|u|someone) help(?: me)?"
    r"|to you|nice to meet you|what'?s up|how'?s it going)"
)
# Things visitors ask for that are not products (so "I want a refund" is not a search).
_NOT_PRODUCTS = (
    r"(?:refund|return|exchange|discount|coupon|promo|voucher|code|receipt|invoice|password"
    r"|account|login|human|person|agent|operator|manager|callback|call|word|quote|answer"
    r"|help|question|problem|complaint|job|opening|hours|policy|warranty|shipping|delivery"
    r"|order|information|info|update|news|way|new password|chance|moment|minute)"
)
_WHO = r"(?:there|all|team|bot|everyone|everybody|folks|guys|friends|chat|you)"

DEFAULT_INTENTS: tuple[Intent, ...] = (
    Intent(
        "talk_to_person",
        examples=(
            "I want to talk to a human",
            "can I speak to a real person",
            "connect me to a support agent",
            "get me a customer service representative",
            "I need help from your staff",
            "live agent please",
            "this bot is useless, put me through to someone",
            "can somebody from the team help me",
            "escalate to a manager",
            "I'd prefer to chat with a person",
            "is a human available",
            "I have a complaint and want to talk to someone",
            "hand me over to your support team",
            "put a person on",
            "contact a staff member",
            "I need to speak with someone in charge",
            "can I get someone on the phone",
        ),
        rules=(
            _words("talk", "speak", "chat", "connect", "transfer", "put me through", "get me")
            + r".{0,30}"
            + _words(
                "human",
                "person",
                "agent",
                "operator",
                "representative",
                "someone",
                "somebody",
                "staff",
                "manager",
                "customer (?:service|support)",
                "support",
            ),
            r"^\s*(?:an? |real )?(?:human|agent|operator|representative)(?: please)?[\s!.?]*$",
            _words("escalate", "call me back", "callback"),
            _words("real", "actual", "live") + r"\s+" + _words("person", "human", "agent"),
            _words("want", "need", "get", "prefer", "give me", "is there", "have")
            + r".{0,20}"
            + _words("an? human", "a person", "an? agent", "an? operator", "staff member"),
            r"\bany(?:one|body)\s+(?:from|in|on)\s+(?:the|your)\s+(?:team|staff|support)\b",
            _words("human", "person", "agent", "someone")
            + r"\s+on the\s+"
            + _words("line", "phone"),
        ),
        action="handoff",
    ),
    Intent(
        "order_status",
        examples=(
            "where is my order",
            "track my package",
            "what is the status of my order",
            "my delivery has not arrived",
            "has my order been shipped",
            "when will my parcel arrive",
            "order number 1234 status",
            "I still haven't received my purchase",
            "any update on my order",
            "my box never came",
            "is my parcel lost",
            "the courier has not delivered my order",
            "I bought something last week, when does it come",
            "my tracking shows no movement",
            "did my order go out yet",
            "how long until my order gets here",
            "I'm waiting for my delivery",
        ),
        rules=(
            _words("order", "package", "parcel", "shipment", "delivery", "purchase")
            + r".{0,40}"
            + _words(
                "status",
                "arrived?",
                "shipped",
                "dispatched",
                "late",
                "delivered",
                "received",
                "on its way",
                "update",
                "track(?:ing)?",
            ),
            _words("where(?:'?s| is)", "track(?:ing)?", "status of", "check")
            + r".{0,20}"
            + _words("order", "package", "parcel", "shipment", "delivery"),
            # An order named by its number: "order #1234", "order number 55", "my order 7781".
            r"\b(?:order|parcel|package)\s*(?:#|no\.?\s*|number\s*)\s*[A-Za-z]{0,3}\d{2,}",
            r"\bmy\s+order\s+#?[A-Za-z]{0,3}\d{3,}",
            _words("what happened to", "any news (?:on|about)", "news on")
            + r".{0,20}"
            + _words("order", "package", "parcel", "delivery", "shipment", "stuff", "purchase"),
            _words("order", "package", "parcel", "shipment", "delivery", "purchase")
            + r".{0,30}"
            + _words("left", "leave", "come", "coming", "arrive", "arriving", "sent", "late"),
            r"\bwhere(?:'?s| is| are)\s+my\s+(?:stuff|things|items?|goods|order|package|parcel)\b",
        ),
        action="order_status",
    ),
    Intent(
        "opening_hours",
        examples=(
            "what are your opening hours",
            "when are you open",
            "what time do you close",
            "are you open on weekends",
            "store hours",
            "are you open on holidays",
            "when is the shop open tomorrow",
            "what are your hours today",
            "are you open right now",
            "when do you open in the morning",
            "closing time",
            "which days are you open",
            "what time does the shop open on monday",
            "are you closed on sundays",
            "hours of business",
        ),
        rules=(
            _words("opening (?:hours|times)", "business hours", "store hours", "shop hours"),
            _words("are you", "is the (?:store|shop)", "when do you", "what time do you")
            + r".{0,12}"
            + _words("open", "close", "closed"),
            r"\bwhen can (?:i|we) (?:reach|contact|call|visit|talk to|chat with)"
            r" (?:you|the (?:team|shop|store|office))\b",
            r"\b(?:until|till) what time\b",
            r"\b(?:your|ur|the (?:shop|store)'?s?) hours\b",
            _words("when", "what time")
            + r".{0,30}"
            + _words("support", "customer service", "you", "store", "shop", "office", "team")
            + r".{0,15}"
            + _words("open", "close", "closed", "available", "start"),
        ),
        reply="",  # filled from the workspace's opening hours
    ),
    Intent(
        "product_search",
        examples=(
            "do you have backpacks",
            "I'm looking for a jacket",
            "show me your mugs",
            "any shoes under 50 dollars",
            "do you sell water bottles",
            "I want to buy a laptop bag",
            "recommend a gift",
            "what caps do you have in stock",
            "I need a new coat for winter",
            "which bags are available",
            "I'm after some hiking boots",
            "something for the beach",
            "what products do you have for kids",
            "browse your t-shirts",
            "do you have this in blue",
            "I'm shopping for a birthday present",
            "what's in your outdoor range",
            "a cheap notebook please",
        ),
        rules=(
            _words(
                "show me",
                "looking for",
                "find me",
                "search for",
                "i want to buy",
                "i'd like to buy",
                "recommend(?: me)? an?",
            )
            + r"\s+\w",
            r"\b(?:under|below|less than|cheaper than)\s*[$€£]?\s*\d",
            _words("do you (?:sell|stock|carry)", "have you got", "got any") + r"\s+\w",
            r"\bwhat\b.{1,30}\bdo you (?:sell|carry|stock)\b",
            r"\b(?:are|is) (?:in stock|on sale|on offer|in the sale)\b",
            r"\b(?:any|some) \w+(?: \w+)? (?:in stock|on sale|in the sale)\b",
            r"\b(?:do you have|have you got|are there) (?:any|some) (?!" + _NOT_PRODUCTS + r")\w+",
            r"\b(?:i'?d like|i would like|i want|i need|i'?m after)(?: to (?:see|buy|get|order))?"
            r" (?:an?|some|your|new) (?!" + _NOT_PRODUCTS + r")\w+",
            r"\bdo you have (?!an?\b|the\b|your\b|any\b|some\b|"
            + _NOT_PRODUCTS
            + r")(?:\w+ ){0,2}\w+s\b",
            r"^\s*any(?:thing)? (?:good )?for \w+",
        ),
        action="search_products",
    ),
    Intent(
        "thanks",
        examples=(
            "thank you",
            "thanks a lot",
            "cheers",
            "much appreciated",
            "great, thanks",
            "you've been a great help",
            "that solved it, thank you",
            "I appreciate your help",
            "thanks, that's everything",
            "very helpful, thank you",
            "you're a star",
        ),
        rules=(
            rf"^\s*(?:{_FILLER}[\s,!.]*)?{_THANKS}[\s,!.:)]*(?:bye)?[\s!.]*$",
            # "Thanks for the quick answer", "that's helpful, thanks!": short, no question.
            rf"^(?=[^?]*$)(?=(?:\S+\s+){{0,7}}\S+\s*$)"
            rf"(?:(?:{_FILLER}[\s,!.]*)?{_THANKS}\b.*|.*\b{_THANKS}[\s!.:)]*)$",
        ),
        whole_message=True,
        reply="You're welcome! Anything else I can help with?",
    ),
    Intent(
        "greeting",
        examples=(
            "hello",
            "hi there",
            "good morning",
            "hey, how are you?",
            "hello, anyone here?",
            "good evening",
            "hi, are you there?",
            "hey there bot",
            "greetings to you",
            "hello, I have a question",
            "hi team",
            "is anybody there",
        ),
        rules=(rf"^\s*{_HELLO}(?:,? {_WHO})*[\s,!.:)?]*(?:{_PLEASANTRY}[\s,!.:)?]*)?$",),
        whole_message=True,
        reply="Hello! How can I help you today?",
    ),
)


@dataclass
class _Index:
    names: list[str] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.float32))


class IntentClassifier:
    """Classifies a visitor message into one of `intents`, or none (score below threshold)."""

    def __init__(
        self,
        intents: Sequence[Intent],
        embedder: Embedder,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        names = [i.name for i in intents]
        if len(set(names)) != len(names):
            raise ValueError("intent names must be unique")
        self.intents = tuple(intents)
        self.embedder = embedder
        self.threshold = threshold
        self._rules = [
            (i.name, [re.compile(r, re.IGNORECASE) for r in i.rules], i.whole_message)
            for i in self.intents
        ] + [
            (i.name, [keyword_pattern(k) for k in i.keywords if k.strip()], False)
            for i in self.intents
            if i.keywords
        ]
        self._index: _Index | None = None
        self._lock = threading.Lock()

    def _examples(self) -> _Index:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    pairs = [(i.name, e) for i in self.intents for e in i.examples if e.strip()]
                    vectors = (
                        _unit(np.asarray(self.embedder.embed_texts([e for _, e in pairs])))
                        if pairs
                        else np.zeros((0, 1), dtype=np.float32)
                    )
                    self._index = _Index([n for n, _ in pairs], vectors)
        return self._index

    def rule_match(self, text: str) -> str | None:
        """The first intent (in the given order) whose rule matches."""
        for name, patterns, whole in self._rules:
            for pattern in patterns:
                if (pattern.fullmatch(text) if whole else pattern.search(text)) is not None:
                    return name
        return None

    def scores(self, text: str) -> dict[str, float]:
        """Each intent's best cosine similarity to the message."""
        index = self._examples()
        if not index.names:
            return {}
        query = _unit(np.asarray([self.embedder.embed_query(text)]))[0]
        sims = index.vectors @ query
        best: dict[str, float] = {}
        for name, sim in zip(index.names, sims.tolist(), strict=True):
            best[name] = max(best.get(name, -1.0), sim)
        return best

    def classify(self, message: str) -> IntentMatch:
        words = message.split()
        text = normalize(" ".join(words))
        if not text or len(words) > MAX_INTENT_WORDS:
            return IntentMatch(None, 0.0, "none")
        ruled = self.rule_match(text)
        if ruled is not None:
            return IntentMatch(ruled, 1.0, "rule")
        ranked = sorted(self.scores(text).items(), key=lambda kv: -kv[1])
        if not ranked:
            return IntentMatch(None, 0.0, "none")
        (name, score), runner_up = ranked[0], ranked[1][0] if len(ranked) > 1 else None
        score = round(float(score), 4)
        if score < self.threshold:
            return IntentMatch(None, score, "none", runner_up=name)
        return IntentMatch(name, score, "similarity", runner_up=runner_up)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = vectors.astype(np.float32, copy=False)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
