"""The wallboard read from a running ACD (`centralita.wallboard.AcdBoard`, on the routing test
rig's fake clock): a caller waiting, then answered, then gone; the board stays the same while
nothing happens (the times on it are when things began, not seconds that tick), today's
figures are read again only after something changed, and the history has the call per queue,
agent and hour. A call's sentiment arrives on its row as a change of that field alone, and
its case is let go when the call ends."""

from __future__ import annotations

import asyncio
from typing import Any

from cases.events import InProcessBus
from centralita.wallboard import AcdBoard
from centralita.wallboard_sentiment import CallSentiment
from tests.routing.acd_rig import WALL0, Factory, agent, make_rig, queue
from web.supervisor.board import diff
from web.supervisor.feed import WallboardFeed

__all__ = ["make_rig"]  # the rig's fixture


class Watching:
    def __init__(self) -> None:
        self.on: dict[str, dict[str, str]] = {}

    def supervisors(self, call_id: str) -> dict[str, str]:
        return dict(self.on.get(call_id, {}))


async def test_the_board_follows_a_call_and_keeps_still_in_between(make_rig: Factory) -> None:
    rig = await make_rig([queue("help", wrapup=5.0)], [agent("a1", "help")],
                         answer={"a1": 0}, step=0.5)
    monitors = Watching()
    board = AcdBoard(rig.acd, None, monitors)
    feed = WallboardFeed(board.board)
    board.attach(feed)

    await rig.at(1)
    await rig.arrive("c1", "help", caller="+15550100", talk=30)
    waiting = await board.board()
    assert waiting["queues"]["help"]["waiting"] == 1
    assert waiting["queues"]["help"]["oldest"] == WALL0 + 1
    assert waiting["agents"]["a1"]["state"] == "offline"
    assert waiting["calls"] == {}
    reads = board.figure_reads

    await rig.at(8)
    assert not diff(waiting, await board.board())  # seven seconds later: nothing to send
    assert board.figure_reads == reads

    await rig.at(10)
    await rig.login("a1")
    await rig.at(11)
    talking = await board.board()
    delta = diff(waiting, talking)
    assert delta.changed["queues"]["help"]["waiting"] == 0
    assert delta.changed["queues"]["help"]["answered"] == 1
    assert delta.changed["agents"]["a1"]["state"] == "on_call"
    assert delta.changed["agents"]["a1"]["call"] == "c1"
    assert talking["calls"]["c1"]["agent"] == "a1"
    assert talking["calls"]["c1"]["caller"] == "+15550100"
    assert talking["calls"]["c1"]["since"] == WALL0 + 10
    assert talking["calls"]["c1"]["supervisors"] == {}
    monitors.on["c1"] = {"sue": "whisper"}
    assert diff(talking, await board.board()).changed == {
        "calls": {"c1": {"supervisors": {"sue": "whisper"}}}}
    monitors.on.clear()
    assert board.figure_reads > reads

    await rig.at(45)  # talked 30 s, then 5 s of wrap-up
    done = await board.board()
    assert diff(talking, done).removed == {"calls": ["c1"]}
    assert done["agents"]["a1"]["state"] == "available"

    figures = await board.history(None, None)
    assert figures["queues"]["help"]["answered"] == 1
    assert figures["queues"]["help"]["asa"] == 9.0
    assert figures["agents"]["a1"]["answered"] == 1
    assert list(figures["hours"]) == ["help 2023-11-14T22Z"]
    assert list(figures["days"]) == ["help 2023-11-14"]
    assert figures["days"]["help 2023-11-14"]["answered"] == 1


async def test_text_channels_show_per_queue_and_an_agents_conversations(
    make_rig: Factory,
) -> None:
    from dataclasses import replace

    from tests.routing.text_rig import TextRig

    rig = await make_rig([queue("help", channels=("voice", "chat", "sms"))],
                         [replace(agent("ana", "help"), max_concurrent=3,
                                  capacity={"voice": 1, "chat": 2})], step=0.5)
    text = TextRig(rig)
    try:
        board = AcdBoard(rig.acd, None)
        await rig.at(2)
        await text.write(1, "chat", who="visitor:abc")  # nobody logged in: it waits
        waiting = await board.board()
        assert set(waiting["channels"]) == {"help/chat", "help/sms"}
        chat = waiting["channels"]["help/chat"]
        assert (chat["queue"], chat["channel"], chat["waiting"], chat["offered"]) == (
            "help", "chat", 1, 1)
        assert chat["oldest"] == round(WALL0 + 2)
        assert waiting["channels"]["help/sms"]["waiting"] == 0
        await rig.at(6)
        assert not diff(waiting, await board.board())  # its wait is counted by the page

        await rig.login("ana")
        await text.take("ana")
        taken = await board.board()
        assert taken["channels"]["help/chat"]["waiting"] == 0
        assert taken["agents"]["ana"]["conversations"] == 1
    finally:
        await text.close()


class Cases:
    """The case store as the sentiment follower reads it: call c1 is interaction 11."""

    async def find_interaction_by_call(self, call_id: str) -> tuple[int, None] | None:
        return (11, None) if call_id == "c1" else None

    async def timeline(self, case_id: int) -> dict[str, Any]:
        return {"interactions": [{"id": 11, "segments": []}]}


async def test_a_calls_sentiment_comes_on_its_row_and_is_dropped_when_it_ends(
    make_rig: Factory,
) -> None:
    rig = await make_rig([queue("help", wrapup=5.0)], [agent("a1", "help")],
                         answer={"a1": 0}, step=0.5)
    rig.cases.case_for["c1"] = 7
    bus = InProcessBus()
    board = AcdBoard(rig.acd, None)
    feed = WallboardFeed(board.board)
    pokes: list[int] = []
    board.sentiment = CallSentiment(Cases(), bus, lambda: pokes.append(1))
    board.attach(feed)
    try:
        await rig.at(1)
        await rig.login("a1")
        await rig.arrive("c1", "help", talk=30)
        await rig.at(3)
        talking = await board.board()
        assert "sentiment" not in talking["calls"]["c1"]
        for _ in range(50):  # the follower subscribes (a task of its own)
            if bus.subscriber_count("case:7"):
                break
            await asyncio.sleep(0.01)
        assert bus.subscriber_count("case:7") == 1

        await bus.publish("case:7", {"type": "segment", "case_id": 7, "segment": {
            "id": 1, "interaction_id": 11, "speaker": "caller", "start": 2.5,
            "sentiment": -0.6, "topics": ["delivery"]}})
        await bus.publish("case:7", {"type": "segment", "case_id": 7, "segment": {
            "id": 2, "interaction_id": 99, "speaker": "caller", "start": 2.6,  # another call
            "sentiment": 0.9, "topics": []}})
        for _ in range(50):
            if pokes:
                break
            await asyncio.sleep(0.01)
        assert pokes
        angry = await board.board()
        assert diff(talking, angry).changed == {"calls": {"c1": {"sentiment": {
            "label": "negative", "score": -0.6, "count": 1, "topics": ["delivery"],
            "trend": [{"speaker": "caller", "start": 2.5, "sentiment": -0.6}]}}}}

        await rig.at(45)  # the call ended: routing's event lets the case go
        for _ in range(50):
            if not bus.subscriber_count("case:7"):
                break
            await asyncio.sleep(0.01)
        assert bus.subscriber_count("case:7") == 0
        assert "c1" not in (await board.board())["calls"]
    finally:
        await board.sentiment.close()
