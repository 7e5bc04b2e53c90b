"""The wallboard's deltas (`web.supervisor.board`) and its feed (`web.supervisor.feed`): one
build per change for all viewers, only what changed, a snapshot again for a viewer that fell
behind."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from web.supervisor.board import Board, BoardDelta, BoardError, apply, diff
from web.supervisor.feed import VIEWER_QUEUE, WallboardFeed

BEFORE: Board = {
    "queues": {"support": {"waiting": 1, "oldest": 100.0, "agents": {"available": 1}},
               "sales": {"waiting": 0, "oldest": None}},
    "agents": {"ana": {"state": "available", "since": 90.0, "call": None},
               "bob": {"state": "break", "reason": "lunch", "since": 80.0}},
    "calls": {},
}


def test_a_delta_holds_only_the_changed_fields_rows_and_removals() -> None:
    after = copy.deepcopy(BEFORE)
    after["queues"]["support"].update(waiting=0, oldest=None)
    after["agents"]["ana"].update(state="on_call", since=120.0, call="c1")
    del after["agents"]["bob"]["reason"]
    after["agents"]["bob"]["state"] = "available"
    after["calls"]["c1"] = {"agent": "ana", "phase": "connected"}
    del after["queues"]["sales"]
    delta = diff(BEFORE, after)
    assert delta.changed == {
        "agents": {"ana": {"state": "on_call", "since": 120.0, "call": "c1"},
                   "bob": {"state": "available", "reason": None}},
        "calls": {"c1": {"agent": "ana", "phase": "connected"}},
        "queues": {"support": {"waiting": 0, "oldest": None}},
    }
    assert delta.removed == {"queues": ["sales"]}
    # Applying it gives the new board (a None field is an absent one, as on the page).
    got = apply(BEFORE, delta)
    assert got["agents"]["bob"] == {"state": "available", "since": 80.0}
    assert got["queues"] == {"support": {"agents": {"available": 1}, "waiting": 0}}
    assert got["calls"] == after["calls"]
    assert BEFORE["agents"]["bob"]["reason"] == "lunch"  # the old board is left alone


def test_no_change_is_no_delta_and_a_bad_removal_is_refused() -> None:
    assert not diff(BEFORE, copy.deepcopy(BEFORE))
    with pytest.raises(BoardError):
        apply(BEFORE, BoardDelta({}, {"calls": ["nope"]}))


class Source:
    def __init__(self) -> None:
        self.board: Board = copy.deepcopy(BEFORE)

    async def __call__(self) -> Board:
        return copy.deepcopy(self.board)


async def test_the_feed_builds_once_per_change_for_every_viewer_and_sends_deltas() -> None:
    source = Source()
    feed = WallboardFeed(source, refresh=30.0, settle=0.01, wall=lambda: 1_700_000_000.5)
    await feed.start()
    try:
        async with feed.watch() as one, feed.watch() as two:
            first = [await one.next(), await two.next()]
            assert [m["type"] for m in first] == ["snapshot", "snapshot"]
            assert first[0]["board"] == BEFORE and first[0]["seq"] == first[1]["seq"] == 0
            assert first[0]["now"] == 1_700_000_000.5  # the server's clock, for the page's
            builds = feed.builds
            source.board["agents"]["ana"]["state"] = "reserved"
            feed.poke()
            feed.poke()  # a burst of events makes one build
            got = [await asyncio.wait_for(v.next(), 5) for v in (one, two)]
            assert got[0] == got[1] == {
                "type": "delta", "seq": 1, "changed": {"agents": {"ana": {"state": "reserved"}}},
                "removed": {}}
            assert feed.builds == builds + 1
            # A poke with nothing changed sends nothing.
            feed.poke()
            await asyncio.sleep(0.1)
            source.board["queues"]["sales"]["waiting"] = 2
            feed.poke()
            nxt = await asyncio.wait_for(one.next(), 5)
            assert nxt["seq"] == 2 and nxt["changed"] == {"queues": {"sales": {"waiting": 2}}}
    finally:
        await feed.close()


async def test_a_viewer_that_falls_behind_gets_a_snapshot_not_a_pile_of_deltas() -> None:
    source = Source()
    feed = WallboardFeed(source, refresh=30.0, settle=0.0)
    await feed.start()
    try:
        async with feed.watch() as slow:
            await slow.next()
            for n in range(VIEWER_QUEUE + 5):
                source.board["queues"]["sales"]["waiting"] = n + 1
                feed.poke()
                await _until(lambda n=n: feed.builds >= n + 2)
            message: dict[str, Any] = await slow.next()
            assert message["type"] == "snapshot"
            assert message["board"]["queues"]["sales"]["waiting"] == VIEWER_QUEUE + 5
            assert slow.dropped == VIEWER_QUEUE
    finally:
        await feed.close()


async def _until(check: Any) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("not reached")


async def test_close_ends_the_feed_even_when_a_poke_lands_with_the_cancel() -> None:
    # At a server's stop the desks closing poke the feed just before it is closed; on Python
    # 3.11 wait_for then swallowed the cancel and the stop hung for ever.
    async def board() -> Board:
        return {"queues": {}}

    loop = asyncio.get_running_loop()
    for _ in range(20):
        feed = WallboardFeed(board, refresh=60.0)
        await feed.start()
        await asyncio.sleep(0)  # the loop waits for a poke
        feed.poke()
        began = loop.time()
        closing = asyncio.ensure_future(feed.close())
        await asyncio.wait({closing}, timeout=5.0)  # a hang waits out the 60 s refresh
        assert closing.done(), f"close() still waiting after {loop.time() - began:.1f} s"
