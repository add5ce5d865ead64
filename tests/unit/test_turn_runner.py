"""DetachedTurn: the turn runs to its end whatever the reader does."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.rag.chat import TokenEvent
from app.services.turn_runner import DetachedTurn, ReaderTooSlowError


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
