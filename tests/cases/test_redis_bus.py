"""The event bus across nodes (`cases.redis_bus`) on the real Redis server: two buses on one
prefix are two nodes. A case event published on one reaches the other's subscriber, once; a
node's own subscriber gets it once (not again through Redis); a node-local topic stays home;
a node stops listening when its last subscriber leaves; junk on the channel and a Redis that
is gone never reach or fail a publisher."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from cases.events import Payload, Subscription
from cases.redis_bus import RedisBus
from tests.helpers.redis_server import REDIS_URL, new_prefix, require_redis


@contextlib.asynccontextmanager
async def two_nodes() -> AsyncIterator[tuple[RedisBus, RedisBus, str]]:
    await require_redis()
    prefix = new_prefix()
    a = RedisBus.from_url(REDIS_URL, prefix=prefix, node_id="a")
    b = RedisBus.from_url(REDIS_URL, prefix=prefix, node_id="b")
    await a.start()
    await b.start()
    try:
        yield a, b, prefix
    finally:
        await a.close()
        await b.close()


async def next_of(sub: Subscription, within: float = 3.0) -> Payload:
    async def first() -> Payload:
        async for payload in sub:
            return payload
        raise AssertionError("the subscription ended")

    return await asyncio.wait_for(first(), within)


async def nothing_more(sub: Subscription, within: float = 0.5) -> None:
    with pytest.raises(TimeoutError):
        await next_of(sub, within)


async def test_a_case_event_reaches_the_other_node_once_and_its_own_once() -> None:
    async with two_nodes() as (a, b, _):
        async with b.subscribe("case:7") as far, a.subscribe("case:7") as near:
            await a.publish("case:7", {"type": "segment", "n": 1})
            assert await next_of(far) == {"type": "segment", "n": 1}
            assert await next_of(near) == {"type": "segment", "n": 1}
            await b.publish("case:7", {"type": "note", "n": 2})
            assert await next_of(near) == {"type": "note", "n": 2}
            assert await next_of(far) == {"type": "note", "n": 2}
            await nothing_more(far)
            await nothing_more(near)
        assert b.received == 1 and a.received == 1


async def test_events_of_another_case_and_node_local_topics_stay_away() -> None:
    async with (two_nodes() as (a, b, _), b.subscribe("case:7") as seven,
                b.subscribe("messages") as feed):
        await a.publish("case:8", {"n": 8})
        await a.publish("messages", {"n": "text router feed"})  # node-local
        await a.publish("case:7", {"n": 7})
        assert await next_of(seven) == {"n": 7}
        await nothing_more(feed)


async def test_a_node_stops_listening_when_its_last_subscriber_leaves() -> None:
    async with two_nodes() as (a, b, prefix):
        probe = Redis.from_url(REDIS_URL)
        try:
            channel = prefix + "case:9"
            async with b.subscribe("case:9"), b.subscribe("case:9"):
                [(_, count)] = await probe.pubsub_numsub(channel)
                assert count == 1  # one channel per node, however many local viewers
            await asyncio.sleep(0.2)
            [(_, count)] = await probe.pubsub_numsub(channel)
            assert count == 0
            async with b.subscribe("case:9") as again:
                await a.publish("case:9", {"n": "back"})
                assert await next_of(again) == {"n": "back"}
        finally:
            await probe.aclose()


async def test_junk_on_the_channel_is_ignored_and_the_reader_goes_on() -> None:
    async with two_nodes() as (a, b, prefix):
        probe = Redis.from_url(REDIS_URL)
        try:
            async with b.subscribe("case:3") as sub:
                for junk in (b"not json", b'{"n": "x"}', b'{"n": "x", "p": [1]}', b"\xff\xfe"):
                    await probe.publish(prefix + "case:3", junk)
                await a.publish("case:3", {"n": "real"})
                assert await next_of(sub) == {"n": "real"}
                await nothing_more(sub)
        finally:
            await probe.aclose()


async def test_a_redis_that_is_gone_fails_no_publisher_and_local_viewers_still_see() -> None:
    # Nothing listens on port 1: every Redis command fails at once.
    bus = RedisBus.from_url("redis://127.0.0.1:1/0", node_id="alone")
    async with bus.subscribe("case:1") as sub:  # not started: local delivery only
        await bus.publish("case:1", {"n": 1})
        assert await next_of(sub) == {"n": 1}
    assert bus.failed == 1
    await bus.close()
