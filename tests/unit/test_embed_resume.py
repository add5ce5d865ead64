"""Which turn the embed chat offers to ask again after its process went (app/state/embed_resume)."""

from __future__ import annotations

import json

from app.state.embed_resume import PROCESS_ID, EmbedResumeMixin, interrupted_question


def test_a_turn_from_another_process_is_interrupted() -> None:
    pending = json.dumps({"q": "Where is my order?", "w": "w1", "p": "other-host:1:abc"})
    assert interrupted_question(pending, "w1", streaming_here=False) == "Where is my order?"
    assert interrupted_question(pending, "w1", streaming_here=True) == "Where is my order?"


def test_a_stream_still_running_in_this_process_is_not() -> None:
    pending = EmbedResumeMixin.pending_for("Where is my order?", "w1")
    assert json.loads(pending)["p"] == PROCESS_ID
    assert interrupted_question(pending, "w1", streaming_here=True) == ""
    # This process restarted its state (or the stream ended without clearing): offered.
    assert interrupted_question(pending, "w1", streaming_here=False) == "Where is my order?"


def test_other_widgets_and_garbage_are_ignored() -> None:
    pending = EmbedResumeMixin.pending_for("Where is my order?", "w1")
    assert interrupted_question(pending, "w2", streaming_here=False) == ""
    for raw in ("", "{", "[]", '{"q": 3, "w": "w1"}', "null"):
        assert interrupted_question(raw, "w1", streaming_here=False) == ""


def test_a_question_the_page_recorded_before_sending_is_offered() -> None:
    # MARK_SENT_JS writes no process: no server ever started the turn.
    pending = json.dumps({"q": "Can I return it?", "w": "w1"})
    assert interrupted_question(pending, "w1", streaming_here=True) == "Can I return it?"
    assert interrupted_question(pending, "w2", streaming_here=False) == ""
