"""EXTRACTIVE_PAUSE_MS: the offline answerer's pacing between streamed sentences."""

from __future__ import annotations

import time

from app.rag.answer_types import AnswerDone, AnswerRequest, Source
from app.rag.llm_extractive import ExtractiveLLMResponder
from app.services.chat import ChatService, build_workflow
from app.settings import Settings

SOURCES = [Source(1, "d1", "Shipping", "Orders ship within 3 to 5 business days.", 0.9)]
REQ = AnswerRequest(question="How long does shipping take?", sources=SOURCES)


async def _timed(pause_s: float) -> tuple[int, float]:
    started = time.perf_counter()
    events = [e async for e in ExtractiveLLMResponder(pause_s).stream(REQ)]
    assert isinstance(events[-1], AnswerDone) and events[-1].answered
    return sum(isinstance(e, str) for e in events), time.perf_counter() - started


async def test_pause_is_applied_between_pieces_and_zero_sends_them_at_once() -> None:
    pieces, paced = await _timed(0.25)
    assert pieces >= 2  # a lead-in and the quote: at least one pause
    assert paced >= 0.25 * (pieces - 1)
    pieces_fast, fast = await _timed(0.0)
    assert pieces_fast == pieces
    assert fast < 0.2


def test_setting_defaults_to_60_ms_and_feeds_the_chat_service(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("EXTRACTIVE_PAUSE_MS", raising=False)
    assert Settings().extractive_pause_ms == 60
    monkeypatch.setenv("EXTRACTIVE_PAUSE_MS", "0")
    from app.settings import reset_settings_cache

    reset_settings_cache()
    try:
        service = ChatService(build_workflow())
        assert service.fallback.sentence_pause_s == 0.0
    finally:
        monkeypatch.delenv("EXTRACTIVE_PAUSE_MS")
        reset_settings_cache()
