"""Run a chat turn to completion whatever its reader does.

An HTTP client that disconnects mid-answer cancels (or closes) the response generator. Had
that generator driven `ChatService.stream` itself, the turn would stop where it was: the
provider's tokens are spent, yet neither the answer nor its usage and cost get recorded.
So the turn runs in a task of its own and hands its events to the reader through a bounded
queue; a reader that goes away only detaches, and the task still saves and meters the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeVar

from app.rag.answer import RetryPolicy, Timeouts
from app.services.chat import ChatRequest, ChatService, ServiceEvent, TurnSaved

log = logging.getLogger("chatconnect.chat")

# The provider timeouts already bound a turn (each attempt `Timeouts.total`, retried once,
# then the offline fallback); this outer limit only catches a turn stuck elsewhere (a lock).
TURN_LIMIT_S = Timeouts().total * (RetryPolicy().retries + 1) + 30.0
# Events a reader may fall behind by: far above any answer's token count, a few hundred KB
# at most. The turn never waits for its reader; a reader this far behind is cut off.
QUEUE_EVENTS = 4096

# Strong references to running turns: the event loop keeps only weak ones, and a turn
# whose reader left must not be garbage-collected mid-way.
_running: set[asyncio.Task[Any]] = set()
_T = TypeVar("_T")


class ReaderTooSlowError(RuntimeError):
    """The reader fell QUEUE_EVENTS events behind; the turn itself carried on."""


@dataclass(slots=True)
class _Failed:
    error: BaseException


class _End:
    pass


_END = _End()
_Item = ServiceEvent | _Failed | _End


class DetachedTurn:
    """One `ChatService.stream(...)` driven by its own task; `events()` reads it."""

    def __init__(
        self,
        stream: AsyncIterator[ServiceEvent],
        *,
        limit_s: float = TURN_LIMIT_S,
        max_queued: int = QUEUE_EVENTS,
    ) -> None:
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(max_queued)
        self._detached = False
        self._ended = False
        self._first: ServiceEvent | None = None
        self.task = _keep(asyncio.create_task(self._run(stream, limit_s), name="chat-turn"))

    @classmethod
    async def start(cls, stream: AsyncIterator[ServiceEvent], **kw: float | int) -> DetachedTurn:
        """Start the turn and wait for its first event, so set-up errors (unknown widget,
        rate limit, budget) raise here, before any byte of a response is sent."""
        turn = cls(stream, **kw)  # type: ignore[arg-type]
        try:
            turn._first = await turn._next()
        except BaseException:
            turn.detach()
            raise
        return turn

    async def _run(self, stream: AsyncIterator[ServiceEvent], limit_s: float) -> None:
        try:
            async with asyncio.timeout(limit_s), contextlib.aclosing(stream):  # type: ignore[type-var]
                async for event in stream:
                    self._push(event)
        except Exception as exc:
            if self._detached:  # nobody else will report it
                log.warning("chat turn failed after its reader left: %r", exc)
            self._push(_Failed(exc))
        else:
            self._push(_END)

    def _push(self, item: _Item) -> None:
        if self._detached:
            return
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            # Never wait for a reader: a stalled one would hold the provider stream open
            # past its deadlines. Cut the reader off with an error instead.
            self.detach()
            self._queue.put_nowait(_Failed(ReaderTooSlowError("The client read too slowly.")))

    def detach(self) -> None:
        """The reader is gone: drop what is queued and queue nothing more."""
        self._detached = True
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _next(self) -> ServiceEvent | None:
        item = await self._queue.get()
        if isinstance(item, _Failed):
            raise item.error
        if isinstance(item, _End):
            self._ended = True
            return None
        return item

    async def events(self) -> AsyncIterator[ServiceEvent]:
        """The turn's events in order (the first one included); raises the turn's error.
        Closing or cancelling this iterator detaches the reader, not the turn."""
        try:
            if self._first is not None:
                first, self._first = self._first, None
                yield first
            while not self._ended and (event := await self._next()) is not None:
                yield event
        finally:
            self.detach()


async def ask_detached(service: ChatService, req: ChatRequest) -> TurnSaved:
    """`service.ask(req)` that completes and records the turn even if the caller is
    cancelled (its HTTP client went away)."""
    task = _keep(
        asyncio.create_task(asyncio.wait_for(service.ask(req), TURN_LIMIT_S), name="chat-ask")
    )
    task.add_done_callback(_log_orphan_failure)
    return await asyncio.shield(task)


def _keep(task: asyncio.Task[_T]) -> asyncio.Task[_T]:
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


def _log_orphan_failure(task: asyncio.Task[TurnSaved]) -> None:
    # Retrieving the exception also keeps asyncio from warning that nobody did.
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.debug("chat turn ended with %r", exc)


async def finish_running_turns(timeout_s: float) -> int:
    """At shutdown, give turns whose readers already left time to finish and be recorded.

    Returns how many were still running at the deadline (they are cancelled with the loop).
    """
    tasks = [task for task in _running if not task.done()]
    if not tasks:
        return 0
    _, pending = await asyncio.wait(tasks, timeout=timeout_s)
    if pending:
        log.warning("shutdown: %d chat turn(s) still running were not recorded", len(pending))
    return len(pending)
