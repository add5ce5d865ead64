"""When a visitor should be passed to a person: the widget's rules and the detectors.

Rules live in `Widget.escalation` (a JSON dict, validated by `clean_rules`). Asking for a
person in words is caught by a small multilingual phrase list first (cheap, exact), then
by embedding similarity to a few example requests with the same embedder the Q&A matcher
uses (paraphrases the list misses: "can a real human help me?").
"""

from __future__ import annotations

import threading
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

BUTTON_MODES = ("off", "always", "after_first")
LEAD_FIELDS = ("name", "email", "message")
DEFAULT_CONSENT = "I agree to be contacted about my question."
MAX_STREAK = 10
# MiniLM cosine between a request for a person and the closest example: paraphrases the
# phrase list misses score 0.55-0.8; product questions, even ones that mention people or
# staff ("how many people fit in the tent", "do you have staff in Paris"), stay below 0.45
# (tests/unit/test_escalation.py).
HUMAN_SIMILARITY = 0.55
MAX_DETECT_CHARS = 200


@dataclass(frozen=True, slots=True)
class EscalationRules:
    button: str = "off"  # off | always | after_first (the first answer)
    phrases: bool = True  # asking for a person in words
    low_confidence_n: int = 0  # N "I don't know"/low-confidence answers in a row; 0 = off
    thumbs_down: bool = False
    reply_minutes: int = 5  # "A person will reply here, usually within N minutes"
    lead_consent: str = DEFAULT_CONSENT
    lead_fields: list[str] = field(default_factory=lambda: list(LEAD_FIELDS))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class EscalationError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def clean_rules(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Validated rules as stored on the widget (unknown keys refused; {} = defaults)."""
    raw = dict(raw or {})
    if not raw:
        return {}
    known = set(EscalationRules.__dataclass_fields__)
    unknown = set(raw) - known
    if unknown:
        raise EscalationError(f"Unknown escalation settings: {', '.join(sorted(unknown))}.")
    base = EscalationRules()
    button = str(raw.get("button", base.button))
    if button not in BUTTON_MODES:
        raise EscalationError("The button is off, always or after the first answer.", "button")
    try:
        streak = int(raw.get("low_confidence_n", base.low_confidence_n))
        minutes = int(raw.get("reply_minutes", base.reply_minutes))
    except (TypeError, ValueError) as exc:
        raise EscalationError("Use whole numbers.", "low_confidence_n") from exc
    if not 0 <= streak <= MAX_STREAK:
        raise EscalationError(f"Between 0 (off) and {MAX_STREAK} answers.", "low_confidence_n")
    if not 1 <= minutes <= 24 * 60:
        raise EscalationError("Between 1 and 1440 minutes.", "reply_minutes")
    fields = [f for f in LEAD_FIELDS if f in list(raw.get("lead_fields", base.lead_fields))]
    if "email" not in fields:
        fields.insert(0, "email")  # a lead nobody can answer is no lead
    consent = " ".join(str(raw.get("lead_consent", base.lead_consent) or "").split())[:300]
    return EscalationRules(
        button=button,
        phrases=bool(raw.get("phrases", base.phrases)),
        low_confidence_n=streak,
        thumbs_down=bool(raw.get("thumbs_down", base.thumbs_down)),
        reply_minutes=minutes,
        lead_consent=consent or DEFAULT_CONSENT,
        lead_fields=fields,
    ).as_dict()


def rules_of(stored: dict[str, Any] | None) -> EscalationRules:
    try:
        return EscalationRules(**clean_rules(stored))
    except EscalationError:
        return EscalationRules()


def button_visible(rules: EscalationRules, answers_so_far: int) -> bool:
    return rules.button == "always" or (rules.button == "after_first" and answers_so_far > 0)


def low_confidence_streak(answers: list[tuple[bool, float | None]], n: int, floor: float) -> bool:
    """True when the last `n` answers (oldest first: answered, confidence) were all
    "I don't know" or below `floor`."""
    if n <= 0 or len(answers) < n:
        return False
    return all((not ok) or conf is None or conf < floor for ok, conf in answers[-n:])


# ---- asking for a person in words -----------------------------------------------------------

# Lower-case, accents stripped (see _fold). Kept short and specific: "help" alone is not it.
PHRASES: tuple[str, ...] = (
    # English
    "talk to a human",
    "speak to a human",
    "talk to a person",
    "speak to a person",
    "talk to someone",
    "speak to someone",
    "real person",
    "real human",
    "human agent",
    "live agent",
    "live person",
    "customer service representative",
    "talk to an agent",
    "speak to an agent",
    "talk to support",
    "contact a human",
    # French
    "parler a un humain",
    "parler a une personne",
    "parler a quelqu'un",
    "parler a un conseiller",
    "parler a un agent",
    "vrai humain",
    "une vraie personne",
    # German
    "mit einem menschen",
    "echten menschen",
    "mit einem mitarbeiter",
    "mit jemandem sprechen",
    # Spanish
    "hablar con una persona",
    "hablar con un humano",
    "hablar con alguien",
    "hablar con un agente",
    "persona real",
    # Italian
    "parlare con una persona",
    "parlare con un operatore",
    "parlare con qualcuno",
    "operatore umano",
    # Portuguese
    "falar com uma pessoa",
    "falar com um humano",
    "falar com alguem",
    "atendente humano",
    # Dutch
    "met een mens",
    "met een medewerker",
)

EXAMPLES: tuple[str, ...] = (
    "I want to talk to a human",
    "Can I speak to a real person please?",
    "Connect me with a customer support agent",
    "I need to talk to someone from your team",
    "Let me chat with a live agent",
    "Put me through to one of your employees",
    "I want to speak with customer service",
)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("\u2019", "'"))
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def matches_phrase(text: str) -> bool:
    folded = _fold(text)
    return any(phrase in folded for phrase in PHRASES)


class HumanRequestDetector:
    """Phrase list, then cosine similarity to EXAMPLES with the Q&A matcher's embedder."""

    def __init__(self, embedder: Any, threshold: float = HUMAN_SIMILARITY) -> None:
        self.embedder = embedder
        self.threshold = threshold
        self._examples: np.ndarray | None = None
        self._lock = threading.Lock()

    def _example_matrix(self) -> np.ndarray:
        with self._lock:
            if self._examples is None:
                vectors = np.asarray(self.embedder.embed_texts(list(EXAMPLES)), dtype=np.float32)
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                self._examples = vectors / np.where(norms == 0, 1.0, norms)
            return self._examples

    def similarity(self, text: str) -> float:
        query = np.asarray(self.embedder.embed_query(text), dtype=np.float32)
        query = query / (np.linalg.norm(query) or 1.0)
        return float(np.max(self._example_matrix() @ query))

    def asks_for_human(self, text: str) -> bool:
        if matches_phrase(text):
            return True
        if self.embedder is None or len(text) > MAX_DETECT_CHARS:
            return False
        return self.similarity(text) >= self.threshold
