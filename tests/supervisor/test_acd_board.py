"""The wallboard read from a running ACD (`centralita.wallboard.AcdBoard`, on the routing test
rig's fake clock): a caller waiting, then answered, then gone; the board stays the same while
nothing happens (the times on it are when things began, not seconds that tick), today's
figures are read again only after something changed, and the history has the call per queue,
agent and hour."""

from __future__ import annotations

from centralita.wallboard import AcdBoard
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
