"""The in-process event bus: delivery, bounded queues that drop the oldest, unsubscribe."""

from __future__ import annotations

import asyncio

import pytest

from cases.events import EventBus, InProcessBus


async def test_delivers_to_every_subscriber_of_the_topic_only() -> None:
    bus = InProcessBus()
    async with bus.subscribe("case:1") as a, bus.subscribe("case:1") as b, bus.subscribe("case:2") as c:
        await bus.publish("case:1", {"n": 1})
        assert await anext(aiter(a)) == {"n": 1}
        assert await anext(aiter(b)) == {"n": 1}
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(aiter(c)), 0.05)


async def test_slow_subscriber_loses_the_oldest_and_it_is_counted() -> None:
    bus = InProcessBus()
    async with bus.subscribe("t", maxsize=4) as slow, bus.subscribe("t", maxsize=100) as fast:
        for n in range(10):
            await bus.publish("t", {"n": n})  # never blocks, however far behind `slow` is
        got = [(await anext(aiter(slow)))["n"] for _ in range(4)]
        assert got == [6, 7, 8, 9]
        assert slow.dropped == 6
        assert fast.dropped == 0
        assert bus.dropped == 6 and bus.published == 10


async def test_waiting_subscriber_wakes_on_publish() -> None:
    bus = InProcessBus()
    async with bus.subscribe("t") as sub:
        waiter = asyncio.create_task(anext(aiter(sub)))
        await asyncio.sleep(0)
        await bus.publish("t", {"x": 1})
        assert await asyncio.wait_for(waiter, 1) == {"x": 1}


async def test_unsubscribes_on_exit_even_on_error() -> None:
    bus = InProcessBus()
    with pytest.raises(RuntimeError):
        async with bus.subscribe("t"):
            assert bus.subscriber_count("t") == 1
            raise RuntimeError("consumer failed")
    assert bus.subscriber_count("t") == 0
    await bus.publish("t", {"after": True})  # nobody listening: fine


async def test_iterating_before_entering_is_an_error() -> None:
    bus = InProcessBus()
    with pytest.raises(RuntimeError, match="async with"):
        await anext(aiter(bus.subscribe("t")))


def test_in_process_bus_satisfies_the_protocol() -> None:
    bus: EventBus = InProcessBus()
    assert bus is not None
