"""SipTransferer and its FrameQueues with fake legs and a fake dialer: bounded queues that drop
(and count) the oldest, audio both ways, ringback, timeouts, failures, who hung up."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from media.clock import FakeClock
from media.frame_queue import FrameQueue
from media.frames import AudioFrame
from media.player import AudioSource, ToneGenerator
from media.taps import Tap as AudioListener
from voice.call import Call, CallState, Direction
from voice.calls import CallHandler
from voice.dialplan import DialPlan
from voice.sip.errors import CallFailed
from voice.transfer import SipTransferer, TransferResult


def frame(value: int) -> AudioFrame:
    return AudioFrame(np.full(160, value, np.int16), 8000)


# -- FrameQueue -----------------------------------------------------------------------------------
def test_queue_is_bounded_and_counts_what_it_drops() -> None:
    q = FrameQueue(max_frames=3)
    for v in range(5):
        q.write(frame(v))
    assert len(q) == 3 and q.dropped == 2 and q.written == 5
    # The oldest gave way: what is heard is the newest audio, in order.
    heard = [int(f.samples[0]) for f in (q.next_frame(), q.next_frame(), q.next_frame()) if f]
    assert heard == [2, 3, 4]


def test_empty_queue_plays_silence_and_counts_underruns() -> None:
    q = FrameQueue()
    out = q.next_frame()
    assert out is not None and not out.samples.any() and len(out.samples) == 160
    assert q.underruns == 1
    q.write(frame(7))
    second = q.next_frame()
    assert second is not None and second.timestamp == 160  # continuous timestamps


def test_closed_queue_ends_the_stream_and_ignores_writes() -> None:
    q = FrameQueue()
    q.write(frame(1))
    q.close()
    q.write(frame(2))
    assert q.next_frame() is None and len(q) == 0


def test_queue_rejects_zero_size() -> None:
    with pytest.raises(ValueError, match="max_frames"):
        FrameQueue(max_frames=0)


# -- fakes ----------------------------------------------------------------------------------------
class FakeMedia:
    """A leg's media: `tick(frame)` delivers inbound audio and pulls one frame of output."""

    def __init__(self) -> None:
        self.listeners: list[AudioListener] = []
        self.source: AudioSource | None = None
        self.heard: list[AudioFrame] = []

    def add_listener(self, listener: AudioListener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: AudioListener) -> None:
        self.listeners.remove(listener)

    def play(self, source: AudioSource | None, on_done: Any = None) -> None:
        self.source = source

    def tick(self, inbound: AudioFrame | None) -> None:
        if inbound is not None:
            for listener in list(self.listeners):
                listener(inbound)
        if self.source is not None:
            out = self.source.next_frame()
            if out is not None:
                self.heard.append(out)


class FakeLeg:
    def __init__(self) -> None:
        self.media = FakeMedia()
        self.hung_up = False

    def ring(self) -> None: ...

    async def answer(self) -> None: ...

    async def hold(self) -> None: ...

    async def unhold(self) -> None: ...

    def hangup(self) -> None:
        self.hung_up = True

    def play(self, source: AudioSource | None, on_done: Any = None) -> None: ...

    def send_dtmf(self, digits: str) -> None: ...

    def leg_media(self) -> Any:
        return self.media


def call_with_leg(call_id: str) -> tuple[Call, FakeLeg]:
    leg = FakeLeg()
    call = Call(call_id, Direction.INBOUND, leg, caller="+15550100")
    call._set_state(CallState.ACTIVE)
    return call, leg


class FakeDialer:
    """Answers (or fails) when told; runs the handler like CallManager does."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.fail: Exception | None = None
        self.target: Call | None = None
        self.target_leg: FakeLeg | None = None
        self.dialed: list[tuple[str, str]] = []
        self.cancelled = False
        self.handlers: set[asyncio.Task[None]] = set()

    async def dial(
        self, target: str, *, from_uri: str, handler: CallHandler,
        credentials: tuple[str, str] | None = None,
    ) -> Call:
        self.dialed.append((target, from_uri))
        try:
            await self.answer
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        if self.fail is not None:
            raise self.fail
        call, leg = call_with_leg("out-1")
        self.target, self.target_leg = call, leg
        task = asyncio.ensure_future(handler(call))
        self.handlers.add(task)
        return call

    async def close(self) -> None:
        for task in self.handlers:
            task.cancel()
        await asyncio.gather(*self.handlers, return_exceptions=True)


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def transferer(dialer: FakeDialer, **kw: Any) -> SipTransferer:
    return SipTransferer(lambda: dialer, from_uri_for=lambda call: "sip:ivr@127.0.0.1", **kw)


# -- SipTransferer --------------------------------------------------------------------------------
async def test_bridge_carries_audio_both_ways_and_target_hangup_ends_it() -> None:
    dialer = FakeDialer()
    caller, caller_leg = call_with_leg("in-1")
    task = asyncio.ensure_future(
        transferer(dialer).transfer(caller, "sip:desk@127.0.0.1:5099", ring_timeout=5)
    )
    await settle()
    # Ringing: the caller hears ringback.
    assert isinstance(caller_leg.media.source, ToneGenerator)
    dialer.answer.set_result(None)
    await settle()
    assert dialer.target_leg is not None and dialer.target is not None
    target_media = dialer.target_leg.media
    for v in range(1, 6):
        caller_leg.media.tick(frame(v))
        target_media.tick(frame(100 + v))
    heard_by_target = [int(f.samples[0]) for f in target_media.heard]
    heard_by_caller = [int(f.samples[0]) for f in caller_leg.media.heard]
    assert heard_by_target == [1, 2, 3, 4, 5]
    # The caller ticks first, so it hears the target one tick later (silence first).
    assert heard_by_caller == [0, 101, 102, 103, 104]
    dialer.clock.advance(12.5)
    dialer.target.ended("remote-bye")
    result = await asyncio.wait_for(task, 1)
    assert isinstance(result, TransferResult)
    assert result.answered and result.hung_up_by == "target" and result.duration == 12.5
    summary = result.summary()
    assert summary["media"]["frames_forwarded"] == 10 and summary["duration"] == 12.5
    assert dialer.dialed == [("sip:desk@127.0.0.1:5099", "sip:ivr@127.0.0.1")]
    # The bridge let go of both legs.
    assert not caller_leg.media.listeners and not target_media.listeners
    assert caller_leg.media.source is None
    await dialer.close()


async def test_caller_hangup_hangs_up_the_target() -> None:
    dialer = FakeDialer()
    dialer.answer.set_result(None)
    caller, _ = call_with_leg("in-1")
    task = asyncio.ensure_future(
        transferer(dialer).transfer(caller, "sip:desk@h", ring_timeout=5)
    )
    await settle()
    caller.ended("remote-bye")
    result = await asyncio.wait_for(task, 1)
    assert result.hung_up_by == "caller"
    assert dialer.target_leg is not None and dialer.target_leg.hung_up
    await dialer.close()


async def test_full_queue_drops_oldest_when_the_other_leg_stalls() -> None:
    dialer = FakeDialer()
    dialer.answer.set_result(None)
    caller, caller_leg = call_with_leg("in-1")
    task = asyncio.ensure_future(
        transferer(dialer, queue_frames=2).transfer(caller, "sip:desk@h", ring_timeout=5)
    )
    await settle()
    # The target's tick stalls: its queue never drains while the caller keeps talking.
    for v in range(6):
        caller_leg.media.tick(frame(v))
    assert dialer.target is not None
    dialer.target.ended("remote-bye")
    result = await asyncio.wait_for(task, 1)
    assert result.summary()["media"]["to_target_dropped"] == 4
    await dialer.close()


async def test_ring_timeout_cancels_the_dial() -> None:
    dialer = FakeDialer()
    caller, caller_leg = call_with_leg("in-1")
    result = await transferer(dialer).transfer(caller, "sip:desk@h", ring_timeout=0.05)
    assert result.result == "no-answer" and not result.answered
    assert dialer.cancelled
    assert caller_leg.media.source is None  # ringback stopped


@pytest.mark.parametrize(("status", "kind"), [(486, "busy"), (404, "failed")])
async def test_error_response_is_a_result(status: int, kind: str) -> None:
    dialer = FakeDialer()
    dialer.fail = CallFailed(status, "nope")
    dialer.answer.set_result(None)
    caller, _ = call_with_leg("in-1")
    result = await transferer(dialer).transfer(caller, "sip:desk@h", ring_timeout=5)
    assert result.result == kind and result.sip_status == status


async def test_caller_hangup_while_ringing_abandons_and_cancels() -> None:
    dialer = FakeDialer()
    caller, _ = call_with_leg("in-1")
    task = asyncio.ensure_future(
        transferer(dialer).transfer(caller, "sip:desk@h", ring_timeout=5)
    )
    await settle()
    caller.ended("remote-bye")
    result = await asyncio.wait_for(task, 1)
    assert result.result == "abandoned" and dialer.cancelled


async def test_number_without_trunk_is_unavailable_and_nothing_is_dialed() -> None:
    dialer = FakeDialer()
    caller, _ = call_with_leg("in-1")
    result = await transferer(dialer).transfer(caller, "+34911234567", ring_timeout=5)
    assert result.result == "unavailable" and "trunk" in result.reason
    assert dialer.dialed == []
    plan = DialPlan(trunk="trunk.example:5060")
    assert plan.route("+34911234567") == "sip:+34911234567@trunk.example:5060"
    assert DialPlan().route("sip:a@b") == "sip:a@b"
