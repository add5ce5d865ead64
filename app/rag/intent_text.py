"""Text normalisation for intent matching: chat spellings and one-letter typos of the words
the intent rules and examples turn on ("wheres my oder" -> "where's my order"), and owner
keywords as whole-word patterns. Pure functions, no model."""

from __future__ import annotations

import re

_SLANG = {
    "u": "you", "ur": "your", "r": "are", "pls": "please", "plz": "please", "wat": "what",
    "wheres": "where's", "whats": "what's", "whens": "when's", "im": "i'm", "thnx": "thanks",
    "thanx": "thanks", "thnks": "thanks", "ty": "thank you", "hrs": "hours", "pkg": "package",
    "hii": "hi", "heyy": "hey",
}  # fmt: skip
# Words the rules and examples turn on: a token one edit away (not a real word listed in
# _NEAR_MISSES) is read as the word ("parcle" -> "parcel").
_SIGNAL_WORDS = (
    "order", "orders", "where", "status", "parcel", "package", "delivery", "delivered",
    "shipped", "tracking", "human", "person", "agent", "operator", "representative",
    "someone", "somebody", "opening", "hours", "closed", "thanks", "thank", "hello",
    "please", "recommend", "arrived", "received", "manager", "support", "speak",
    "shipment", "purchase", "available", "customer", "service", "weekend", "holiday",
)  # fmt: skip
_NEAR_MISSES = frozenset(
    [
        "older",
        "odder",
        "border",
        "there",
        "here",
        "were",
        "whee",
        "statue",
        "stats",
        "yours",
        "ours",
        "tours",
        "pours",
        "think",
        "shank",
        "thane",
        "hells",
        "hallo",
        "cello",
        "jello",
        "pleas",
        "plead",
        "speck",
        "sneak",
        "spear",
        "steak",
        "trace",
        "truck",
        "trick",
        "shopped",
        "whipped",
        "chipped",
        "closet",
        "closes",
        "cooking",
        "booking",
        "hooking",
        "locking",
        "managed",
        "persons",
        "agents",
        "argent",
        "parcels",
        "packages",
        "services",
        "customers",
        "holidays",
        "weekends",
    ]
)


def _one_edit(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance exactly 1 (a substitution, insertion, deletion or swap)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )  # fmt: skip
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _fix(token: str) -> str:
    core = token.strip("?!.,:;)(\"'")
    low = core.lower()
    if low in _SLANG:
        return token.replace(core, _SLANG[low])
    if len(low) < 4 or low in _NEAR_MISSES or low in _SIGNAL_WORDS or not low.isalpha():
        return token
    near = [w for w in _SIGNAL_WORDS if len(w) >= 5 and _one_edit(low, w)]
    return token.replace(core, near[0]) if len(near) == 1 else token


def normalize(text: str) -> str:
    """Lower case, straight apostrophes, chat spellings and typos of signal words fixed."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    return " ".join(_fix(t) for t in text.split())


def keyword_pattern(phrase: str) -> re.Pattern[str]:
    """A literal word or phrase (spaces match any whitespace), on word boundaries."""
    words = [re.escape(w) for w in phrase.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)
