"""Escalation rules, the phrase list, low-confidence streaks and opening hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.services import presence
from app.services.escalation import (
    EscalationError,
    button_visible,
    clean_rules,
    low_confidence_streak,
    matches_phrase,
    rules_of,
)


@pytest.mark.parametrize(
    "text",
    [
        "Can I talk to a human please",
        "I want a REAL person!",
        "Je voudrais parler à un conseiller",
        "Kann ich mit einem Menschen sprechen?",
        "Quiero hablar con una persona",
        "Posso parlare con un operatore?",
        "Quero falar com alguém",
        "Kan ik met een medewerker praten?",
        "I\u2019d like to speak to someone",
    ],
)
def test_phrases_in_several_languages(text: str) -> None:
    assert matches_phrase(text)


@pytest.mark.parametrize(
    "text", ["How many people fit in the tent?", "Is it human-safe?", "Help", "Who is the CEO?"]
)
def test_ordinary_questions_are_not_requests(text: str) -> None:
    assert not matches_phrase(text)


def test_rules_are_validated_and_defaulted() -> None:
    assert rules_of({}).button == "off" and rules_of(None).phrases
    clean = clean_rules({"button": "after_first", "low_confidence_n": "3", "lead_fields": ["name"]})
    assert clean["low_confidence_n"] == 3 and clean["lead_fields"] == ["email", "name"]
    for bad in ({"button": "sometimes"}, {"low_confidence_n": 11}, {"reply_minutes": 0}, {"x": 1}):
        with pytest.raises(EscalationError):
            clean_rules(bad)
    assert rules_of({"button": "sometimes"}).button == "off"  # a bad stored value: defaults


def test_button_modes() -> None:
    assert not button_visible(rules_of({"button": "off"}), 3)
    assert button_visible(rules_of({"button": "always"}), 0)
    after = rules_of({"button": "after_first"})
    assert not button_visible(after, 0) and button_visible(after, 1)


def test_low_confidence_streak() -> None:
    weak, unknown, good = (True, 0.2), (False, None), (True, 0.9)
    assert low_confidence_streak([good, weak, unknown], 2, 0.5)
    assert not low_confidence_streak([weak, good], 2, 0.5)
    assert not low_confidence_streak([weak], 2, 0.5)
    assert not low_confidence_streak([weak, weak], 0, 0.5)


def test_opening_hours_follow_the_time_zone() -> None:
    hours = presence.clean_hours(
        {"timezone": "America/New_York", "days": {"mon": ["09:00", "17:00"]}}
    )
    # Monday 2026-12-07 14:30 UTC = 09:30 in New York (EST): open; 13:30 UTC = 08:30: closed.
    assert presence.is_open(hours, datetime(2026, 12, 7, 14, 30, tzinfo=UTC))
    assert not presence.is_open(hours, datetime(2026, 12, 7, 13, 30, tzinfo=UTC))
    assert not presence.is_open(hours, datetime(2026, 12, 8, 14, 30, tzinfo=UTC))  # Tuesday
    assert presence.is_open({}, datetime(2026, 12, 8, 3, 0, tzinfo=UTC))
    assert presence.describe_hours(hours) == "Mon 09:00-17:00 (America/New_York)"
    for bad in (
        {"timezone": "Mars/Base", "days": {"mon": ["09:00", "17:00"]}},
        {"timezone": "UTC", "days": {"mon": ["17:00", "09:00"]}},
        {"timezone": "UTC", "days": {"funday": ["09:00", "17:00"]}},
        {"timezone": "UTC", "days": {"mon": ["9am", "17:00"]}},
    ):
        with pytest.raises(presence.HoursError):
            presence.clean_hours(bad)
