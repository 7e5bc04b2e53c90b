"""`voice.outbound.ring` with a scripted dialer: every way a ring ends, and the answer that
races the ring's end (it must be used or hung up, never left open at the far end)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from media.clock import LoopClock
from tests.voice.test_call import FakeLeg
from voice.call import Call, Direction
from voice.outbound import RingFailure, ring
from voice.sip.errors import CallFailed

Dial = Callable[[], Awaitable[Call]]


class Dialer:
    """Dials by running `script` (the far end's behaviour) for every call."""

    def __init__(self, script: Dial) -> None:
        self.clock = LoopClock()
        self._script = script

    async def dial(self, target: str, *, from_uri: str, handler: Any,
                   credentials: tuple[str, str] | None = None) -> Call:
        return await self._script()


def answered_call() -> Call:
    call = Call("out-1", Direction.OUTBOUND, FakeLeg())
    call.connected()
    return call


async def test_answered_busy_failed_and_no_answer() -> None:
    call = answered_call()

    async def answers() -> Call:
        return call

    async def busy() -> Call:
        raise CallFailed(486, "Busy Here")

    async def unreachable() -> Call:
        raise OSError("network is unreachable")

    async def never() -> Call:
        await asyncio.sleep(60)
        raise AssertionError("not reached")

    assert await ring(Dialer(answers), "sip:a@x", from_uri="sip:c@y", ring_timeout=1) is call
    result = await ring(Dialer(busy), "sip:a@x", from_uri="sip:c@y", ring_timeout=1)
    assert isinstance(result, RingFailure) and (result.result, result.sip_status) == ("busy", 486)
    result = await ring(Dialer(unreachable), "sip:a@x", from_uri="sip:c@y", ring_timeout=1)
    assert isinstance(result, RingFailure) and result.result == "failed"
    result = await ring(Dialer(never), "sip:a@x", from_uri="sip:c@y", ring_timeout=0.05)
    assert isinstance(result, RingFailure) and result.result == "no-answer"


async def test_an_answer_that_races_the_ring_timeout_is_used() -> None:
    # The 200 OK won the race with our CANCEL: the dial ends with the answered call even
    # though it was cancelled. Reported as no-answer, that call would stay up at the far end.
    call = answered_call()

    async def answers_as_cancelled() -> Call:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            return call
        raise AssertionError("not reached")

    result = await ring(Dialer(answers_as_cancelled), "sip:a@x", from_uri="sip:c@y",
                        ring_timeout=0.05)
    assert result is call and call.state.value == "active"


async def test_an_answer_for_a_caller_who_left_is_hung_up() -> None:
    call = answered_call()
    caller = answered_call()
    answer = asyncio.Event()

    async def answers_late() -> Call:
        await answer.wait()
        return call

    ringing = asyncio.ensure_future(ring(Dialer(answers_late), "sip:a@x", from_uri="sip:c@y",
                                         ring_timeout=5, for_call=caller))
    await asyncio.sleep(0.01)
    caller.hangup("caller-left")
    answer.set()  # both in the same turn
    result = await ringing
    assert isinstance(result, RingFailure) and result.result == "abandoned"
    assert call.state.value == "ended"
