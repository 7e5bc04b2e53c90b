"""`AgentSession` with fakes: who is bridged to whom, who is held, muted, hung up, as the agent
holds, mutes, sends digits, transfers, consults and completes or cancels (the real bridge and
browsers are in tests/e2e/test_desk_calls.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from media.player import AudioSource
from routing.channels import NotConnected
from routing.model import AgentConfig
from routing.session import (
    LOST_AGENT_CAUSE,
    AgentSession,
    Phase,
    SessionEnd,
    SessionError,
    Target,
)
from voice.call import Call, Direction

MUSIC = object()


class Leg:
    def __init__(self) -> None:
        self.digits: list[str] = []

    def ring(self) -> None: ...

    async def answer(self) -> None: ...

    async def hold(self) -> None: ...

    async def unhold(self) -> None: ...

    def hangup(self) -> None: ...

    def play(self, source: AudioSource | None, on_done: Any = None) -> None: ...

    def send_dtmf(self, digits: str) -> None:
        self.digits.append(digits)

    def leg_media(self) -> None:
        return None


def answered(name: str) -> Call:
    call = Call(name, Direction.INBOUND, Leg(), caller=name)
    call.connected()
    return call


class Bridge:
    def __init__(self, log: list[str], a: Call, b: Call, names: tuple[str, str]) -> None:
        self.log = log
        self.pair = (a.id, b.id)
        self.held: set[str] = set()
        self.muted: set[str] = set()
        self.live = True
        log.append(f"bridge {a.id}+{b.id}")

    def set_muted(self, party: str, muted: bool) -> None:
        (self.muted.add if muted else self.muted.discard)(party)

    def hold(self, party: str, music: AudioSource | None) -> None:
        assert music is MUSIC
        self.held.add(party)

    def resume(self, party: str) -> None:
        self.held.discard(party)

    def stop(self) -> None:
        self.live = False
        self.log.append(f"stop {self.pair[0]}+{self.pair[1]}")


class Rig:
    def __init__(self, consult_outcome: str = "answer", rejoin_grace: float = 5.0) -> None:
        self.log: list[str] = []
        self.bridges: list[Bridge] = []
        self.left: list[str] = []
        self.caller = answered("caller")
        self.ana = AgentConfig("ana")
        self.bob = AgentConfig("bob")
        self.ana_call = answered("ana-call")
        self.bob_call = answered("bob-call")
        self.consult_outcome = consult_outcome
        self.consult_ring = asyncio.Event()
        self.session = AgentSession(
            self.caller, self.ana, self.ana_call, bridge=self.bridge, music=lambda: MUSIC,  # type: ignore[arg-type,return-value]
            now=lambda: 0.0, consult_dialer=self.dial, on_agent_left=self.agent_left,
            context={"queue": "support"}, rejoin_grace=rejoin_grace,
        )

    def bridge(self, a: Call, b: Call, names: tuple[str, str]) -> Bridge:
        bridge = Bridge(self.log, a, b, names)
        self.bridges.append(bridge)
        return bridge

    async def dial(self, agent: AgentConfig, for_call: Call) -> Call | NotConnected:
        await self.consult_ring.wait()
        if self.consult_outcome == "answer":
            return self.bob_call
        return NotConnected("no-answer")

    async def agent_left(self, agent: AgentConfig) -> None:
        self.left.append(agent.id)

    @property
    def live(self) -> Bridge:
        [bridge] = [b for b in self.bridges if b.live]
        return bridge


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def start(rig: Rig) -> asyncio.Task[SessionEnd]:
    task = asyncio.create_task(rig.session.run())
    await settle()
    return task


async def test_hold_mute_dtmf_then_the_caller_hangs_up() -> None:
    rig = Rig()
    task = await start(rig)
    assert rig.session.view()["queue"] == "support"
    rig.session.hold(True)
    assert rig.live.held == {"caller"} and rig.session.phase is Phase.HELD
    with pytest.raises(SessionError, match="held"):
        rig.session.dtmf("1")
    rig.session.hold(False)
    rig.session.mute(True)
    assert rig.live.held == set() and rig.live.muted == {"agent"}
    rig.session.dtmf("12#")
    assert rig.caller.leg.digits == ["12#"]  # type: ignore[attr-defined]
    rig.caller.ended("remote")
    end = await task
    assert end.hung_up_by == "caller" and end.transfer is None
    assert rig.ana_call.end_cause == "caller-left"
    assert not any(b.live for b in rig.bridges)


async def test_agent_hangs_up_and_the_caller_is_hung_up() -> None:
    rig = Rig()
    task = await start(rig)
    rig.session.hangup()
    end = await task
    assert end.hung_up_by == "agent" and rig.caller.end_cause == "agent-left"


async def test_blind_transfer_leaves_the_caller_up_with_music() -> None:
    rig = Rig()
    task = await start(rig)
    rig.session.transfer(Target("queue", "billing"))
    end = await task
    assert end.transfer == Target("queue", "billing") and end.hung_up_by is None
    assert rig.caller.state.value == "active" and rig.ana_call.end_cause == "transferred"


async def test_consult_then_complete_hands_the_caller_to_the_consulted_agent() -> None:
    rig = Rig()
    task = await start(rig)
    rig.session.consult(rig.bob)
    assert rig.session.phase is Phase.CONSULTING and rig.live.held == {"caller"}
    with pytest.raises(SessionError, match="not answered"):
        rig.session.consult_complete()
    rig.consult_ring.set()
    await settle()
    assert rig.live.pair == ("ana-call", "bob-call")  # the caller hears music meanwhile
    rig.session.consult_complete()
    await settle()
    assert rig.live.pair == ("caller", "bob-call") and rig.live.held == set()
    assert rig.left == ["ana"] and rig.ana_call.end_cause == "transferred"
    assert rig.session.agent is rig.bob and rig.session.phase is Phase.CONNECTED
    rig.caller.ended("remote")
    end = await task
    assert end.hung_up_by == "caller" and rig.bob_call.end_cause == "caller-left"


async def test_consult_cancelled_goes_back_to_the_held_caller() -> None:
    rig = Rig()
    task = await start(rig)
    rig.session.consult(rig.bob)
    rig.consult_ring.set()
    await settle()
    rig.session.consult_cancel()
    await settle()
    assert rig.bob_call.end_cause == "consult-ended" and rig.left == ["bob"]
    assert rig.live.pair == ("caller", "ana-call") and rig.live.held == {"caller"}
    assert rig.session.phase is Phase.HELD
    rig.session.hold(False)
    assert rig.live.held == set()
    rig.caller.ended("remote")
    await task


async def test_consult_not_answered_leaves_the_caller_held() -> None:
    rig = Rig(consult_outcome="no-answer")
    task = await start(rig)
    rig.session.consult(rig.bob)
    rig.consult_ring.set()
    await settle()
    assert rig.session.phase is Phase.HELD and rig.session.consulted is None
    assert rig.live.pair == ("caller", "ana-call") and rig.live.held == {"caller"}
    rig.caller.ended("remote")
    await task


async def test_the_agent_hanging_up_during_a_consultation_completes_it() -> None:
    rig = Rig()
    task = await start(rig)
    rig.session.consult(rig.bob)
    rig.consult_ring.set()
    await settle()
    rig.ana_call.ended("remote")
    await settle()
    assert rig.session.agent is rig.bob and rig.live.pair == ("caller", "bob-call")
    rig.caller.ended("remote")
    await task


async def test_commands_in_the_wrong_phase_say_which() -> None:
    rig = Rig()
    task = await start(rig)
    with pytest.raises(SessionError, match="connected"):
        rig.session.consult_cancel()
    with pytest.raises(SessionError, match="yourself"):
        rig.session.consult(rig.ana)
    rig.caller.ended("remote")
    await task
    with pytest.raises(SessionError, match="ended"):
        rig.session.hold(True)


# -- a desk page that went away and came back -----------------------------------------------------
async def test_a_lost_desk_rejoins_with_its_hold_and_mute() -> None:
    rig = Rig()
    task = await start(rig)
    rig.session.hold(True)
    rig.session.mute(True)
    rig.ana_call.ended(LOST_AGENT_CAUSE)  # the page reloaded: not a hang-up
    await settle()
    assert rig.session.reconnecting and rig.session.view()["reconnecting"] is True
    assert not task.done() and rig.caller.state.value == "active"
    assert not any(b.live for b in rig.bridges)  # the caller hears music meanwhile
    again = answered("ana-call-2")
    assert rig.session.replace_agent_call(again) is rig.ana_call
    await settle()
    assert rig.live.pair == ("caller", "ana-call-2")
    assert rig.live.held == {"caller"} and rig.live.muted == {"agent"}
    assert rig.session.phase is Phase.HELD and not rig.session.reconnecting
    again.ended("remote")  # now the agent hangs up for real
    end = await task
    assert end.hung_up_by == "agent" and rig.caller.end_cause == "agent-left"


async def test_a_new_leg_replaces_one_still_up_and_its_end_is_ignored() -> None:
    # aiortc may not notice the old page is gone before the new one rejoins.
    rig = Rig()
    task = await start(rig)
    again = answered("ana-call-2")
    old = rig.session.replace_agent_call(again)
    old.hangup("desk-rejoined")
    await settle()
    assert not task.done() and rig.live.pair == ("caller", "ana-call-2")
    assert rig.session.phase is Phase.CONNECTED
    rig.caller.ended("remote")
    end = await task
    assert end.hung_up_by == "caller" and again.end_cause == "caller-left"


async def test_a_lost_desk_that_never_comes_back_sends_the_caller_to_the_head_of_the_queue(
) -> None:
    rig = Rig(rejoin_grace=0.05)
    task = await start(rig)
    rig.ana_call.ended(LOST_AGENT_CAUSE)
    end = await asyncio.wait_for(task, 2.0)
    assert end.hung_up_by is None and end.transfer == Target("queue", "support", front=True)
    assert end.agent_lost
    assert rig.caller.state.value == "active"  # still up, back in line


async def test_the_caller_hanging_up_while_the_desk_is_away_ends_it_as_the_caller() -> None:
    rig = Rig()
    task = await start(rig)
    rig.ana_call.ended(LOST_AGENT_CAUSE)
    await settle()
    rig.caller.ended("remote")
    end = await asyncio.wait_for(task, 2.0)
    assert end.hung_up_by == "caller" and end.agent_lost


async def test_no_rejoin_while_consulting() -> None:
    rig = Rig()
    await start(rig)
    rig.session.consult(rig.bob)
    assert not rig.session.rejoinable
    with pytest.raises(SessionError, match="consulting"):
        rig.session.replace_agent_call(answered("ana-call-2"))


async def test_while_reconnecting_only_hang_up_is_taken_and_it_ends_the_call() -> None:
    rig = Rig()
    task = await start(rig)
    rig.ana_call.ended(LOST_AGENT_CAUSE)
    await settle()
    for command in (lambda: rig.session.hold(True), lambda: rig.session.mute(True),
                    lambda: rig.session.transfer(Target("queue", "billing")),
                    lambda: rig.session.consult(rig.bob)):
        with pytest.raises(SessionError, match="reconnecting"):
            command()
    rig.session.hangup()
    end = await asyncio.wait_for(task, 2.0)
    assert end.hung_up_by == "agent" and rig.caller.end_cause == "agent-left"
