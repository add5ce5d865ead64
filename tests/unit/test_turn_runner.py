"""DetachedTurn: the turn runs to its end whatever the reader does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.rag.chat import TokenEvent
from app.services.turn_runner import DetachedTurn, ReaderTooSlowError, finish_running_turns


def _turn(n: int, done: list[int], fail_first: bool = False) -> AsyncIterator[TokenEvent]:
    async def gen() -> AsyncIterator[TokenEvent]:
        if fail_first:
            raise LookupError("unknown widget")
        for i in range(n):
            await asyncio.sleep(0)
            yield TokenEvent(str(i))
        done.append(n)  # stands for "saved and metered"

    return gen()


async def test_reader_that_leaves_does_not_stop_the_turn() -> None:
    done: list[int] = []
    turn = await DetachedTurn.start(_turn(50, done))
    events = turn.events()
    assert (await anext(events)).delta == "0"
    await events.aclose()
    await asyncio.wait_for(turn.task, 5)
    assert done == [50]


async def test_set_up_errors_raise_from_start() -> None:
    with pytest.raises(LookupError):
        await DetachedTurn.start(_turn(3, [], fail_first=True))


async def test_slow_reader_is_cut_off_and_the_turn_finishes() -> None:
    done: list[int] = []
    turn = await DetachedTurn.start(_turn(100, done), max_queued=10)
    await asyncio.wait_for(turn.task, 5)  # never waits for the reader
    assert done == [100]
    with pytest.raises(ReaderTooSlowError):
        async for _ in turn.events():
            pass


async def test_reader_gets_every_event_in_order() -> None:
    turn = await DetachedTurn.start(_turn(20, []))
    assert [e.delta async for e in turn.events()] == [str(i) for i in range(20)]


async def test_shutdown_waits_for_turns_whose_reader_left() -> None:
    async def slow() -> AsyncIterator[TokenEvent]:
        yield TokenEvent("a")
        await asyncio.sleep(0.3)
        done.append(1)
        yield TokenEvent("b")

    done: list[int] = []
    turn = await DetachedTurn.start(slow())
    await turn.events().aclose()  # the client hung up after the first token
    assert await finish_running_turns(5) == 0
    assert done == [1]


async def test_shutdown_gives_up_at_the_deadline() -> None:
    async def stuck() -> AsyncIterator[TokenEvent]:
        yield TokenEvent("a")
        await asyncio.sleep(30)
        yield TokenEvent("b")

    turn = await DetachedTurn.start(stuck())
    assert await finish_running_turns(0.1) == 1
    turn.task.cancel()
