"""Bounded chat traffic against the in-process API, and the database checks after a fault."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine, func
from sqlmodel import select

from app.db import session_scope
from app.models import Conversation, Message, UsageDaily

QUESTIONS = (
    "How hot does the Aurora 3000 heat water",
    "How often should I descale the machine",
    "How much does the drip tray hold",
)


@dataclass
class Outcome:
    phase: str
    status: int
    elapsed_s: float
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Traffic:
    """`clients` loops posting /api/v1/chat until `stop()`; `phase` labels each outcome."""

    http: httpx.AsyncClient
    key: str
    widget: str
    clients: int = 3
    timeout_s: float = 15.0
    phase: str = "before"
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._loop(n)) for n in range(self.clients)]

    async def stop(self) -> list[Outcome]:
        self._stop.set()
        await asyncio.gather(*self._tasks)
        return self.outcomes

    def ok(self, phase: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == 200 and phase in (None, o.phase)]

    async def until(self, count: int, phase: str, timeout_s: float = 30) -> None:
        """Wait until `count` turns of `phase` have succeeded."""
        deadline = time.monotonic() + timeout_s
        while len(self.ok(phase)) < count:
            assert time.monotonic() < deadline, f"fewer than {count} turns succeeded in {phase}"
            await asyncio.sleep(0.05)

    async def _loop(self, n: int) -> None:
        i = 0
        while not self._stop.is_set():
            question = f"{QUESTIONS[(n + i) % len(QUESTIONS)]} (client {n}, try {i})?"
            phase, started = self.phase, time.monotonic()
            try:
                response = await asyncio.wait_for(
                    self.http.post(
                        "/api/v1/chat",
                        json={"widget_id": self.widget, "message": question},
                        headers={"Authorization": f"Bearer {self.key}"},
                    ),
                    self.timeout_s,
                )
                status, headers = response.status_code, dict(response.headers)
                body = response.json() if response.content else {}
            except TimeoutError:
                status, headers, body = 0, {}, {"error": "hang"}
            self.outcomes.append(Outcome(phase, status, time.monotonic() - started, body, headers))
            i += 1
            await asyncio.sleep(0.02)  # paced, so the loop never starves the server's loop


def check_database(engine: Engine, answered: list[Outcome]) -> None:
    """Every turn that answered 2xx is stored, and nothing is stored half-way."""
    with session_scope(engine) as s:
        messages = list(s.exec(select(Message)))
        conversations = {c.id: c for c in s.exec(select(Conversation))}
        usage_messages = s.exec(select(func.coalesce(func.sum(UsageDaily.messages), 0))).one()
        usage_conversations = s.exec(
            select(func.coalesce(func.sum(UsageDaily.conversations), 0))
        ).one()
    by_id = {m.id: m for m in messages}
    for outcome in answered:
        saved = by_id.get(outcome.body["message_id"])
        assert saved is not None, f"a 2xx turn is missing from the database: {outcome.body}"
        assert saved.role == "assistant" and saved.text == outcome.body["answer"]
        assert saved.conversation_id == outcome.body["conversation_id"]
    per_conversation: dict[str, list[str]] = {}
    for m in sorted(messages, key=lambda m: m.created_at):
        per_conversation.setdefault(m.conversation_id, []).append(m.role)
    for conversation_id, roles in per_conversation.items():
        assert roles == ["user", "assistant"] * (len(roles) // 2), roles  # whole turns only
        assert conversations[conversation_id].message_count == len(roles)
    assert usage_messages == len(messages)  # usage counted exactly the stored turns
    assert usage_conversations == len(per_conversation)
    empty = [c for c in conversations if c not in per_conversation]
    assert not empty, f"{len(empty)} conversation(s) started but never got a turn"
