"""Which turn the embed chat offers to ask again after its process went (app/state/embed_resume)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from reflex.vars.base import Var

from app.state.embed_resume import (
    MARK_SENT_INSTALL_JS,
    PROCESS_ID,
    EmbedResumeMixin,
    interrupted_question,
    mark_sent,
)


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
    # The page's record (mark_sent) names no process: no server ever started the turn.
    pending = json.dumps({"q": "Can I return it?", "w": "w1"})
    assert interrupted_question(pending, "w1", streaming_here=True) == "Can I return it?"
    assert interrupted_question(pending, "w2", streaming_here=False) == ""


# ---- the page's side: what `mark_sent` records, run in node as the browser runs it ------


def _record_in_page(url: str, box: str = "", question: str | None = None) -> dict[str, str]:
    """localStorage after the page sends a question from the chat box (`question` None) or
    from a button carrying it: the install script, then the call site's code, evaluated
    from the compiled expression as Reflex's `_call_script` does."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    spec = mark_sent(None if question is None else Var(_js_expr="q", _var_type=str))
    code = str(spec.args[0][1])
    harness = f"""
    const u = new URL({json.dumps(url)});
    globalThis.window = globalThis;
    globalThis.location = {{pathname: u.pathname, search: u.search}};
    const store = {{}};
    globalThis.localStorage = {{setItem: (k, v) => {{ store[k] = String(v); }}}};
    globalThis.document = {{
      getElementById: (id) => (id === 'cc-input' ? {{value: {json.dumps(box)}}} : null),
    }};
    const q = {json.dumps(question)};
    eval({code});  // before the chat is ready: nothing installed, nothing recorded
    eval({json.dumps(MARK_SENT_INSTALL_JS)});
    eval({code});
    console.log(JSON.stringify(store));
    """
    done = subprocess.run([node, "-e", harness], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_chat_box_question_is_recorded_as_the_page_sends_it() -> None:
    store = _record_in_page(
        "https://app.example/embed/w1/?mode=inline", box="  Can  I\nreturn it? "
    )
    assert json.loads(store["cc_pending"]) == {"q": "Can I return it?", "w": "w1"}
    # and the server reads it back as a turn to offer again
    assert (
        interrupted_question(store["cc_pending"], "w1", streaming_here=True) == "Can I return it?"
    )


def test_starter_chips_and_ask_again_record_their_own_question() -> None:
    store = _record_in_page("https://app.example/embed/w1", box="", question="Do you ship?")
    assert json.loads(store["cc_pending"]) == {"q": "Do you ship?", "w": "w1"}


def test_nothing_is_recorded_for_an_empty_question_or_an_owner_preview() -> None:
    assert _record_in_page("https://app.example/embed/w1", box="   ") == {}
    assert _record_in_page("https://app.example/embed/w1?preview=1", box="Hello") == {}
    assert _record_in_page("https://app.example/embed/w1?a=1&preview=1", question="Hi") == {}
