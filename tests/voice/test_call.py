"""The Call state machine with a fake leg: legal moves, illegal ones named, events emitted."""

from __future__ import annotations

from typing import Any

import pytest

from media.player import AudioSource
from voice.call import Call, CallState, CallStateError, Direction


class FakeLeg:
    def __init__(self) -> None:
        self.actions: list[str] = []
        self.on_done: Any = None

    def ring(self) -> None:
        self.actions.append("ring")

    async def answer(self) -> None:
        self.actions.append("answer")

    async def hold(self) -> None:
        self.actions.append("hold")

    async def unhold(self) -> None:
        self.actions.append("unhold")

    def hangup(self) -> None:
        self.actions.append("hangup")

    def play(self, source: AudioSource | None, on_done: Any = None) -> None:
        self.actions.append("play")
        self.on_done = on_done

    def send_dtmf(self, digits: str) -> None:
        self.actions.append(f"dtmf:{len(digits)}")

    def leg_media(self) -> None:
        return None


async def drain(call: Call) -> list[tuple[str, dict[str, Any]]]:
    out = []
    while call._events:
        event = await call.next_event()
        out.append((event.kind, event.data))
    return out


async def test_inbound_lifecycle_emits_each_move() -> None:
    leg = FakeLeg()
    call = Call("c1", Direction.INBOUND, leg)
    call.ring()
    await call.answer()
    await call.hold()
    await call.unhold()
    call.hangup("local")
    assert leg.actions == ["ring", "answer", "hold", "unhold", "hangup"]
    moves = [(d["old"], d["new"]) for k, d in await drain(call) if k == "state"]
    assert moves == [
        ("new", "ringing"), ("ringing", "active"), ("active", "held"),
        ("held", "active"), ("active", "ended"),
    ]
    assert call.end_cause == "local"


async def test_illegal_operation_names_the_state() -> None:
    call = Call("c2", Direction.INBOUND, FakeLeg())
    with pytest.raises(CallStateError, match="cannot hold a call in state NEW"):
        await call.hold()
    call.ended("remote-bye")
    with pytest.raises(CallStateError, match="ENDED"):
        await call.answer()
    with pytest.raises(CallStateError):
        call.ring()


async def test_caller_hanging_up_during_answer_leaves_call_ended() -> None:
    class HangsUpWhileAnswering(FakeLeg):
        async def answer(self) -> None:
            call.ended("cancelled")

    call = Call("c3", Direction.INBOUND, HangsUpWhileAnswering())
    await call.answer()
    assert call.state is CallState.ENDED
    assert call.end_cause == "cancelled"


async def test_remote_hold_and_digits_are_events_without_leaking_digits() -> None:
    call = Call("c4", Direction.INBOUND, FakeLeg())
    await call.answer()
    call.remote_hold(True)
    assert call.state is CallState.HELD
    call.remote_hold(True)  # a repeated hold offer changes nothing
    call.remote_hold(False)
    call.digit("7", 120, "rfc4733")
    events = await drain(call)
    assert ("dtmf", {"digit": "7", "duration_ms": 120, "source": "rfc4733"}) in events
    assert "7" not in repr(call._events) and call.digits == ["7"]
    assert "'***'" in repr(__import__("voice.call").call.CallEvent("dtmf", {"digit": "7"}))


async def test_play_future_resolves_when_source_runs_dry() -> None:
    leg = FakeLeg()
    call = Call("c5", Direction.INBOUND, leg)
    await call.answer()
    done = call.play(None)
    assert not done.done()
    leg.on_done()
    assert done.done()


async def test_event_queue_is_bounded_and_counts_drops() -> None:
    call = Call("c6", Direction.INBOUND, FakeLeg())
    for _ in range(300):
        call.digit("1", 0, "inband")
    assert len(call._events) == 256
    assert call.dropped_events == 300 - 256
