"""Locust users for bench/load.py (run by it in a process of their own: `python -m locust -f`).

Never imports the app: it only speaks the wire protocols a real client speaks.

- `WidgetVisitor`: the embedded chat page's own transport. Reflex's socket.io endpoint
  `/_event` (websocket, namespace `/_event`), a session token in the query string and
  the page's boot event (`hydrate_and_load`, which runs the page's on_load
  `EmbedState.load`) in the CONNECT packet, exactly as the compiled frontend does
  (reflex_base/.templates/web/utils/state.js; frames checked against Chromium's).
  A question is the `EmbedState.submit` event the chat form sends; the turn is over when
  the state deltas pushed back show `streaming` false again with the answer appended to
  `messages` (or a banner: counted as an error).
- `ApiJson` / `ApiStream`: POST /api/v1/chat (JSON) and /api/v1/chat/stream (SSE, read
  until `event: done`) with a widget-scoped API key, keeping the conversation id.

Every user waits LOAD_PACING ("20,40": uniform seconds) between its questions. Each turn
is timed from sending the question to the complete answer (client-observed, loopback).
At the end every turn (finish time, transport, ms, ok, error) is written to LOAD_OUT as
JSON lines. LOAD_STEPS ("users:seconds,...") makes it a step-load ramp (LoadTestShape);
LOAD_TURNS_PER_VISITOR > 0 makes a visitor leave after that many questions and a new
one (new token, new conversation) take its place. LOAD_ASK=0 (with LOAD_WEIGHTS=1,0,0):
visitors only open the chat and stay connected (memory per connected visitor).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import time
import uuid

import gevent
import socketio
from gevent.event import Event as GEvent
from locust import HttpUser, LoadTestShape, User, task

STATE = os.environ.get("LOAD_EMBED_STATE", "")  # EmbedState.get_full_name()
ROOT_STATE = STATE.split(".", 1)[0]
NAMESPACE = "/_event"  # Reflex's socket.io namespace, on the path of the same name
WIDGET_ID = os.environ.get("LOAD_WIDGET_ID", "")
API_KEY = os.environ.get("LOAD_API_KEY", "")
OUT = os.environ.get("LOAD_OUT", "")
LOW, HIGH = (float(x) for x in os.environ.get("LOAD_PACING", "20,40").split(","))
TURN_TIMEOUT_S = float(os.environ.get("LOAD_TURN_TIMEOUT_S", "60"))
TURNS_PER_VISITOR = int(os.environ.get("LOAD_TURNS_PER_VISITOR", "0"))
ASK = os.environ.get("LOAD_ASK", "1") == "1"  # 0: visitors open the chat and only read
WEIGHTS = [int(x) for x in os.environ.get("LOAD_WEIGHTS", "8,1,1").split(",")]

with open(os.environ["LOAD_QUESTIONS"], encoding="utf-8") as _fh:
    QUESTIONS: list[str] = json.load(_fh)
_next_question = itertools.count()
# Each record is appended to OUT (one JSON line) as it happens: a locust that hangs while
# stopping (a socket that never closes) and has to be ended still leaves every turn.
_OUT_FILE = open(OUT, "w", encoding="utf-8", buffering=1) if OUT else None  # noqa: SIM115


def question() -> str:
    """Every question once per run (a numbered variant after the list runs out): the
    answer cache never hides the work."""
    i = next(_next_question)
    q = QUESTIONS[i % len(QUESTIONS)]
    return q if i < len(QUESTIONS) else f"{q} ({i // len(QUESTIONS)})"


def pacing(user: User) -> float:
    return random.uniform(LOW, HIGH)


def arrive() -> None:
    """Visitors arrive spread over one mean pacing interval, not all in the first second."""
    gevent.sleep(random.uniform(0, (LOW + HIGH) / 2))


def first_question() -> None:
    """A visitor reads the page a while before asking, as between questions: so the
    users' questions are spread as in the steady state from the start."""
    gevent.sleep(random.uniform(0, (LOW + HIGH) / 2))


def record(env, kind: str, started: float, error: str = "", length: int = 0) -> None:  # type: ignore[no-untyped-def]
    ms = (time.perf_counter() - started) * 1000
    row = (time.time(), kind, round(ms, 2), not error, error[:200])
    if _OUT_FILE is not None:
        _OUT_FILE.write(json.dumps(row) + "\n")
    env.events.request.fire(
        request_type="TURN",
        name=kind,
        response_time=ms,
        response_length=length,
        exception=RuntimeError(error) if error else None,
        context={},
    )


def _strip(name: str) -> str:
    return name.removesuffix("_rx_state_")


class WidgetVisitor(User):
    """One visitor on the embedded chat page (/embed/<widget_id>), over its websocket."""

    weight = WEIGHTS[0]
    wait_time = pacing

    def on_start(self) -> None:
        arrive()
        self._connect()
        first_question()

    def on_stop(self) -> None:
        self._disconnect()

    def _connect(self) -> None:
        self.state: dict[str, object] = {}
        self.changed = GEvent()
        self.turns = 0
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("event", self._on_update, namespace=NAMESPACE)
        path = f"/embed/{WIDGET_ID}"
        self.router_data = {
            "pathname": path,
            "asPath": f"{path}?mode=inline",
            "query": {"mode": "inline", "widget_id": WIDGET_ID},
        }
        boot = {"name": f"{ROOT_STATE}.hydrate_and_load", "payload": {}}
        boot["router_data"] = self.router_data
        started = time.perf_counter()
        try:
            self.sio.connect(
                f"{self.host}?token={uuid.uuid4()}",
                # websocket-client sends the page's Origin (the app's own) by itself.
                auth={"event": boot},
                transports=["websocket"],
                socketio_path="/_event",
                namespaces=[NAMESPACE],
                wait_timeout=30,
            )
            self._wait(lambda: self.state.get("status") in ("ready", "unavailable"), 30)
            if self.state.get("status") != "ready":
                raise RuntimeError(f"chat page status {self.state.get('status')!r}")
        except Exception as exc:
            record(self.environment, "ws connect", started, f"{type(exc).__name__}: {exc}")
            self._disconnect()
            self.sio = None
            return
        record(self.environment, "ws connect", started)

    def _disconnect(self) -> None:
        sio = getattr(self, "sio", None)
        if sio is not None:
            # Leaving anyway: errors are ignored and a close that hangs is given up on.
            with contextlib.suppress(Exception), gevent.Timeout(5, False):
                sio.disconnect()

    def _on_update(self, update: dict) -> None:
        for substate, changes in (update.get("delta") or {}).items():
            if substate == STATE:
                self.state.update({_strip(k): v for k, v in changes.items()})
        for event in update.get("events") or []:
            # A first visit: the page is asked for its localStorage (app/state/embed_resume.py)
            # before a visitor id is minted; a browser answers with the script's result.
            if event.get("name") == "_call_script" and "cc_visitor" in str(event.get("payload")):
                empty = json.dumps({"v": "", "c": "", "p": ""})
                self.sio.emit(
                    "event",
                    {"name": f"{STATE}.load_stored", "payload": {"raw": empty},
                     "router_data": self.router_data},
                    namespace=NAMESPACE,
                )  # fmt: skip
        self.changed.set()

    def _wait(self, done, timeout_s: float) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout_s
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer in {timeout_s:.0f} s")
            self.changed.clear()
            self.changed.wait(min(left, 1.0))

    def _send(self, handler: str, payload: dict) -> None:
        event = {"name": f"{STATE}.{handler}", "payload": payload, "router_data": self.router_data}
        self.sio.emit("event", event, namespace=NAMESPACE)

    @task
    def ask(self) -> None:
        if self.sio is None or (TURNS_PER_VISITOR and self.turns >= TURNS_PER_VISITOR):
            self._disconnect()  # this visitor leaves; a new one opens the chat
            self._connect()
            if self.sio is None:
                return
        if not ASK:
            return
        before = len(self.state.get("messages") or [])
        self.state["banner"] = ""
        started = time.perf_counter()
        try:
            q = question()
            # As the page sends them: the typed draft, then the form (encodeFormDataArgs).
            self._send("set_draft", {"value": q})
            form = [["question", q], ["cc_input", q]]
            self._send("submit", {"form_data": {"__reflex_form_data__": form}})

            def done() -> bool:
                if self.state.get("banner"):
                    raise RuntimeError(f"banner: {self.state['banner']}")
                messages = self.state.get("messages") or []
                return not self.state.get("streaming") and len(messages) >= before + 2

            self._wait(done, TURN_TIMEOUT_S)
            answer = (self.state.get("messages") or [{}])[-1]
            if answer.get("role") != "assistant" or not answer.get("text"):
                raise RuntimeError("no answer appended")
        except Exception as exc:
            record(self.environment, "ws turn", started, f"{type(exc).__name__}: {exc}")
            self._disconnect()
            self.sio = None  # reconnect as a new visitor next time
            return
        self.turns += 1
        record(self.environment, "ws turn", started)


class _ApiUser(HttpUser):
    abstract = True
    wait_time = pacing

    def on_start(self) -> None:
        arrive()
        first_question()
        self.conversation_id: str | None = None
        self.turns = 0
        self.headers = {"Authorization": f"Bearer {API_KEY}"}

    def body(self) -> dict:
        if TURNS_PER_VISITOR and self.turns >= TURNS_PER_VISITOR:
            self.conversation_id, self.turns = None, 0
        self.turns += 1
        return {
            "widget_id": WIDGET_ID,
            "message": question(),
            "conversation_id": self.conversation_id,
        }


class ApiJson(_ApiUser):
    weight = WEIGHTS[1]
    abstract = WEIGHTS[1] == 0

    @task
    def ask(self) -> None:
        body = self.body()
        started = time.perf_counter()
        try:
            with self.client.post(
                "/api/v1/chat",
                json=body,
                headers=self.headers,
                timeout=TURN_TIMEOUT_S,
                name="/api/v1/chat",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:120]}")
                data = response.json()
                if not data.get("answer"):
                    raise RuntimeError("empty answer")
                self.conversation_id = data["conversation_id"]
        except Exception as exc:
            record(self.environment, "api json turn", started, f"{type(exc).__name__}: {exc}")
            return
        record(self.environment, "api json turn", started)


class ApiStream(_ApiUser):
    weight = WEIGHTS[2]
    abstract = WEIGHTS[2] == 0

    @task
    def ask(self) -> None:
        body = self.body()
        started = time.perf_counter()
        try:
            with self.client.post(
                "/api/v1/chat/stream",
                json=body,
                headers=self.headers,
                timeout=TURN_TIMEOUT_S,
                stream=True,
                name="/api/v1/chat/stream",
                catch_response=True,
            ) as response:
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}")
                event, finished = "", False
                for line in response.iter_lines(decode_unicode=True):
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event in ("done", "error"):
                        data = json.loads(line[6:])
                        if event == "error":
                            raise RuntimeError(f"SSE error: {data.get('detail')}")
                        self.conversation_id = data["conversation_id"]
                        finished = True
                        break
                if not finished:
                    raise RuntimeError("stream ended without done")
        except Exception as exc:
            record(self.environment, "api sse turn", started, f"{type(exc).__name__}: {exc}")
            return
        record(self.environment, "api sse turn", started)


if os.environ.get("LOAD_STEPS"):

    class StepLoad(LoadTestShape):
        """users:seconds,... : hold each user count for its seconds, then stop."""

        steps = [
            (int(users), float(seconds))
            for users, seconds in (s.split(":") for s in os.environ["LOAD_STEPS"].split(","))
        ]

        def tick(self):  # type: ignore[no-untyped-def]
            elapsed, end = self.get_run_time(), 0.0
            for users, seconds in self.steps:
                end += seconds
                if elapsed < end:
                    return users, max(users, 50)
            return None
