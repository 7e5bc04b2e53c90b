"""The dial plan where routing places calls (issue 17, finding 1): the ACD engine on its test
rig (FakeClock, fake connector) with the server's gate, the waiting room's callback menu with
real espeak-ng speech, and the SIP connector's last check before the trunk.

An untrusted call may not ask for a callback at all (IVR step or waiting room); a trusted
call only for a number the plan allows; a callback stored before the plan refused its
number is settled without ringing an agent; the connector refuses what the plan refuses
without dialing. Without the gate (today's code) each of these dials."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from centralita.sip_connector import SipConnector
from ivr.services import QueueRequest, ServiceUnavailable
from media.clock import Clock, FakeClock
from routing import waiting as w
from routing.acd import Acd
from routing.admin import AcdService
from routing.channels import NotConnected
from routing.model import Callback, CallbackState
from routing.store import MemoryRoutingStore
from routing.waiting import Phase, WaitOutcome
from tests.routing.acd_rig import (
    ClockLeg,
    FakeCases,
    FakeConnector,
    FakeTts,
    Rig,
    Ring,
    WallClock,
    agent,
    queue,
)
from tests.routing.test_waiting import QUEUE, SpyTts, TapeLeg, until
from tests.routing.test_waiting import Rig as RoomRig
from tests.routing.test_waiting import _ticks as ticks
from voice.call import Call, Direction
from voice.calls import CallHandler
from voice.dialplan import DialPlan

MOBILE = "612345678"
PREMIUM = "806123456"


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    """The ACD rig of tests/routing, built with the server's dial plan as its gate."""
    clock = FakeClock()
    store = MemoryRoutingStore()
    connector = FakeConnector(clock)
    connector.agent_answer["a1"] = 0
    cases, tts, wall = FakeCases(), FakeTts(), WallClock(clock)
    acd = Acd(store, connector, clock=clock, wall=wall, tts=tts, cases=cases,
              queues=[queue("help", callback_key="1")], agents=[agent("a1", "help")],
              callback_gate=DialPlan(trunk="127.0.0.1:5080"))
    await acd.start()
    made = Rig(clock, store, connector, cases, tts, acd, AcdService(acd), wall)
    try:
        yield made
    finally:
        await made.close()


async def ivr_call(rig: Rig, caller: str, trusted_by: str | None) -> Call:
    call = Call("C", Direction.INBOUND, ClockLeg(rig.clock), caller=caller,
                trusted_by=trusted_by)
    await call.answer()
    return call


async def test_an_untrusted_caller_gets_no_callback_and_nobody_is_rung(rig: Rig) -> None:
    await rig.login("a1")
    call = await ivr_call(rig, "+9005551234", None)
    for number in ("+9005551234", MOBILE):  # its own number, or any other
        with pytest.raises(ServiceUnavailable, match="trusted trunk"):
            await rig.acd.request_callback(call, QueueRequest("help"), number)
    await rig.at(60)
    assert await rig.store.load() == []
    assert rig.connector.of("ring-agent", "ring-customer") == []


async def test_a_trusted_caller_is_called_back_within_the_plan_only(rig: Rig) -> None:
    rig.connector.customers[MOBILE] = [Ring("answer", after=1.0, talk=5.0)]
    await rig.login("a1")
    call = await ivr_call(rig, PREMIUM, "trunk")
    with pytest.raises(ServiceUnavailable, match="premium-rate"):
        await rig.acd.request_callback(call, QueueRequest("help"), PREMIUM)
    cb_id = await rig.acd.request_callback(call, QueueRequest("help"), MOBILE)
    await rig.at(60)
    assert [e.kind for e in rig.connector.of("ring-agent", "ring-customer")] == [
        "ring-agent", "ring-customer"]
    done = await rig.store.callback(cb_id)
    assert done is not None and done.state is CallbackState.DONE


async def test_a_stored_callback_the_plan_refuses_fails_without_ringing_an_agent() -> None:
    clock = FakeClock()
    store = MemoryRoutingStore()
    connector = FakeConnector(clock)
    cases, wall = FakeCases(), WallClock(clock)
    # Stored before the plan existed (it survives restarts): the premium number it holds.
    await store.add_callback(Callback(id="old", queue="help", number=PREMIUM, seq=1,
                                      created_wall=wall(), case_id=7))
    acd = Acd(store, connector, clock=clock, wall=wall, tts=FakeTts(), cases=cases,
              queues=[queue("help")], agents=[agent("a1", "help")],
              callback_gate=DialPlan(trunk="127.0.0.1:5080"))
    await acd.start()
    made = Rig(clock, store, connector, cases, FakeTts(), acd, AcdService(acd), wall)
    try:
        await made.login("a1")
        await made.at(30)
        cb = await store.callback("old")
        assert cb is not None and (cb.state, cb.last_result) == (CallbackState.FAILED,
                                                                 "refused")
        assert connector.of("ring-agent", "ring-customer") == []
        assert (await made.status("a1")).state.value == "available"
        assert any("not placed" in text and "premium-rate" in text
                   for _, text in cases.notes), cases.notes
    finally:
        await made.close()


# -- the waiting room -------------------------------------------------------------------------
@pytest.fixture
async def room_rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RoomRig]:
    """tests/routing/test_waiting's rig for a caller `(number, trusted_by)`."""
    clock = FakeClock()
    leg = TapeLeg(clock)
    caller, trusted_by = request.param
    call = Call("call-w", Direction.INBOUND, leg, caller=caller, trusted_by=trusted_by)
    ticker = asyncio.create_task(ticks(leg, clock))
    try:
        yield RoomRig(clock, leg, call, SpyTts(tmp_path / "tts"))
    finally:
        ticker.cancel()
        await asyncio.wait({ticker})


async def start_room(rig: RoomRig) -> tuple[w.WaitingRoom, asyncio.Task[WaitOutcome]]:
    room = rig.room(replace(QUEUE, callback_key="1"), callback_gate=DialPlan())
    task = asyncio.create_task(room.run())
    await until(lambda: rig.tts.said != [], "the entry announcement")
    return room, task


@pytest.mark.parametrize("room_rig", [("+9005551234", None), ("+34612345678", None)],
                         indirect=True)
async def test_the_waiting_room_offers_no_callback_to_an_untrusted_call(
    room_rig: RoomRig,
) -> None:
    room, task = await start_room(room_rig)
    assert "called back" not in room_rig.tts.texts()[0]  # the announcement leaves it out
    room_rig.press("1")  # pressing the key anyway
    await until(lambda: w.NO_CALLBACK_TEXT in room_rig.tts.texts(), "the refusal")
    await until(lambda: room.phase is Phase.WAITING, "back to waiting")
    assert w.OFFER_TEXT not in room_rig.tts.texts() and w.ENTER_TEXT not in room_rig.tts.texts()
    room_rig.call.ended("remote")
    assert await task == WaitOutcome("hangup")


@pytest.mark.parametrize("room_rig", [("+9005551234", "trunk")], indirect=True)
async def test_the_waiting_room_takes_only_numbers_the_plan_allows(room_rig: RoomRig) -> None:
    room, task = await start_room(room_rig)
    room_rig.press("1")
    # Its own (foreign) number is not offered: straight to entering one.
    await until(lambda: room.phase is Phase.ENTERING, "entering")
    assert w.OFFER_TEXT not in room_rig.tts.texts()
    said = len(room_rig.tts.said)
    room_rig.press(PREMIUM + "#")
    await until(lambda: len(room_rig.tts.said) > said, "the answer to the entry")
    assert room_rig.tts.texts()[said] == w.REFUSED_NUMBER_TEXT
    await until(lambda: room_rig.tts.texts()[-1] == w.ENTER_TEXT, "asked again")
    room_rig.press(MOBILE + "#")
    await until(lambda: room.phase is Phase.CONFIRMING, "the confirmation")
    room_rig.press("1")
    assert await task == WaitOutcome("callback", MOBILE)


# -- the connector ------------------------------------------------------------------------------
class CountingDialer:
    """A dialer that must not be used: it counts and fails."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.dialed: list[str] = []

    async def dial(self, target: str, *, from_uri: str, handler: CallHandler,
                   **kw: Any) -> Call:
        self.dialed.append(target)
        raise OSError("not in this test")


@pytest.mark.parametrize("number", [PREMIUM, "+9005551234", "sip:x@127.0.0.1:5080",
                                    "+442079460000"])
async def test_the_connector_refuses_what_the_plan_refuses_without_dialing(
    number: str,
) -> None:
    dialer = CountingDialer(FakeClock())
    connector = SipConnector(lambda: dialer, host="127.0.0.1:5060",
                             plan=DialPlan(trunk="127.0.0.1:5080"))
    outcome = await connector.ring_customer(number, ring_timeout=5)
    assert isinstance(outcome, NotConnected) and outcome.result == "refused"
    assert dialer.dialed == []
    # The same with only a trunk (no plan passed): the default plan still applies.
    bare = SipConnector(lambda: dialer, host="127.0.0.1:5060", trunk_host="127.0.0.1:5080")
    assert isinstance(await bare.ring_customer(number, ring_timeout=5), NotConnected)
    assert dialer.dialed == []


async def test_a_trusted_number_goes_to_the_trunk_in_e164() -> None:
    dialer = CountingDialer(FakeClock())
    connector = SipConnector(lambda: dialer, host="127.0.0.1:5060",
                             plan=DialPlan(trunk="127.0.0.1:5080"))
    outcome = await connector.ring_customer(MOBILE, ring_timeout=5)
    assert isinstance(outcome, NotConnected)  # the counting dialer fails every dial
    assert dialer.dialed == ["sip:+34612345678@127.0.0.1:5080"]
