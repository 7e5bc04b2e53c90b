"""CallTranscriber and TranscriptionService logic, with a scripted engine and a memory store."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from media.clock import FakeClock
from media.frames import AudioFrame, Pcm
from tests.transcription.fakes import (
    LOUD,
    QUIET,
    FakeEngine,
    FakeLeg,
    FakeStream,
    Interaction,
    MemoryStore,
)
from voice.transcription import CallTranscriber, SegmentEvent
from voice.transcription_service import TranscriptionService


class Feeder:
    """Plays frames into a leg on a fake clock, 20 ms apart, letting the loop run.

    `stamped`: frames carry RTP-style timestamps (160 a frame, from a random start, as a
    SIP leg's do); `lose(n)` skips n frames' worth of timestamps (packets that never came).
    """

    def __init__(self, clock: FakeClock, leg: FakeLeg, stamped: bool = False) -> None:
        self.clock = clock
        self.leg = leg
        self.stamped = stamped
        self.ts = 0xFFFF_F000  # wraps past 2**32 within the first frames

    def next_ts(self) -> int:
        if not self.stamped:
            return 0
        ts, self.ts = self.ts, (self.ts + 160) & 0xFFFFFFFF
        return ts

    def lose(self, frames: int) -> None:
        for _ in range(frames):
            self.clock.advance(0.02)
            self.next_ts()

    async def play(self, frame: Pcm, count: int) -> None:
        for _ in range(count):
            self.clock.advance(0.02)
            self.leg.emit(frame, self.next_ts())
            await asyncio.sleep(0)

    def stall(self, frame: Pcm, count: int) -> None:
        """Frames delivered on time while the loop never lets the feeder run."""
        for _ in range(count):
            self.clock.advance(0.02)
            self.leg.emit(frame, self.next_ts())


async def settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


def make(engine: FakeEngine, store: MemoryStore, clock: FakeClock, **kw: object) -> CallTranscriber:
    return CallTranscriber("call-1", 7, store, engine.stream, clock, clock.now(), **kw)  # type: ignore[arg-type]


@pytest.fixture
def store() -> MemoryStore:
    store = MemoryStore()
    store.interactions[7] = Interaction("+15550100", "call-1", "inbound", None)
    return store


async def test_finals_stored_in_order_with_speaker_and_call_times(store: MemoryStore) -> None:
    clock = FakeClock(100.0)
    engine, leg = FakeEngine(), FakeLeg()
    partials: list[SegmentEvent] = []
    finals: list[SegmentEvent] = []
    tx = make(engine, store, clock, on_partial=partials.append, on_final=finals.append)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg)
    await feed.play(QUIET, 10)
    await feed.play(LOUD, 25)
    await feed.play(QUIET, 10)
    await feed.play(LOUD, 15)
    await feed.play(QUIET, 5)
    await settle()
    segs = store.interactions[7].segments
    assert [s.text for s in segs] == ["u1", "u2"]
    assert all(s.speaker == "caller" and s.engine == "fake" for s in segs)
    assert segs[0].start == pytest.approx(0.2) and segs[0].end == pytest.approx(0.7)
    assert segs[1].start == pytest.approx(0.9) and segs[1].end == pytest.approx(1.2)
    # Partials were published, never stored; finals published with their segment ids.
    assert len(partials) == 40 and all(not p.is_final for p in partials)
    assert [f.segment_id for f in finals] == [1, 2]
    assert "u1" not in repr(finals[0])
    await tx.close()
    assert tx.segments_stored == 2 and tx.dropped_frames == 0


async def test_audio_gap_keeps_later_segments_at_their_call_time(store: MemoryStore) -> None:
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg)
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 5)
    clock.advance(5.0)  # on hold: no packets, no frames
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 1)
    await settle()
    segs = store.interactions[7].segments
    assert segs[0].start == pytest.approx(0.0) and segs[0].end == pytest.approx(0.2)
    assert segs[1].start == pytest.approx(5.3) and segs[1].end == pytest.approx(5.5)
    await tx.close()


async def test_ring_overflow_drops_oldest_and_counts(store: MemoryStore) -> None:
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = make(engine, store, clock, ring_frames=10)
    tx.attach(leg, "caller")
    # 30 ticks with no chance for the feeder to run (a stalled loop).
    for i in range(30):
        clock.advance(0.02)
        leg.emit(np.full(160, i, dtype=np.int16))
    assert tx.dropped_frames == 20
    await settle()
    stream = engine.streams[0]
    assert stream.frames == 10  # only the newest ten reached the recogniser
    await tx.close()


async def test_ring_overflow_keeps_later_segments_at_their_call_time(
    store: MemoryStore,
) -> None:
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = make(engine, store, clock, ring_frames=10)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg, stamped=True)
    await feed.play(QUIET, 10)
    # A stall of 30 ticks: the ring keeps the newest 10, so 20 frames are lost (0.4 s, less
    # than a hold's gap), and the caller starts speaking in the last 5 of them, at 0.7 s.
    feed.stall(QUIET, 25)
    feed.stall(LOUD, 5)
    await settle()
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 2)
    await settle()
    assert tx.dropped_frames == 20
    (seg,) = store.interactions[7].segments
    # From the frames' timestamps, not from counting the 15 frames that survived (0.3 s).
    assert seg.start == pytest.approx(0.7) and seg.end == pytest.approx(1.0)
    await tx.close()


async def test_packet_loss_keeps_later_segments_at_their_call_time(store: MemoryStore) -> None:
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg, stamped=True)
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 5)
    feed.lose(15)  # 0.3 s of packets that never arrived
    await feed.play(QUIET, 5)
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 1)
    await settle()
    segs = store.interactions[7].segments
    assert segs[0].start == pytest.approx(0.0) and segs[0].end == pytest.approx(0.2)
    assert segs[1].start == pytest.approx(0.7) and segs[1].end == pytest.approx(0.9)
    await tx.close()


async def test_a_sender_that_fell_behind_is_followed_after_a_second(store: MemoryStore) -> None:
    """The caller's sender stalls 0.6 s and goes on without catching up: its timestamps run
    on as if nothing happened, every frame now arrives 0.6 s after its timestamp's time (and
    is heard, and recorded, there). After a second of that, segments are timed where the
    audio arrived, not where the sender's clock says."""
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg, stamped=True)
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 5)
    clock.advance(0.6)  # the sender stalls; its timestamps do not jump
    await feed.play(QUIET, 60)  # 1.2 s of silence, 0.6 s late all along
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 1)
    await settle()
    segs = store.interactions[7].segments
    assert segs[0].start == pytest.approx(0.0) and segs[0].end == pytest.approx(0.2)
    # Sent at 1.5 s by the sender's clock, arrived (and heard) at 2.1 s.
    assert segs[1].start == pytest.approx(2.1) and segs[1].end == pytest.approx(2.3)
    await tx.close()


async def test_jitter_below_the_lateness_threshold_keeps_the_senders_times(
    store: MemoryStore,
) -> None:
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg, stamped=True)
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 5)
    clock.advance(0.15)  # late by less than LATE_S, for the rest of the call
    await feed.play(QUIET, 60)
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 1)
    await settle()
    segs = store.interactions[7].segments
    assert segs[1].start == pytest.approx(1.5) and segs[1].end == pytest.approx(1.7)
    await tx.close()


class Recording(FakeStream):
    """A FakeStream that keeps every sample it is given."""

    def __init__(self, rate: int) -> None:
        super().__init__(rate)
        self.pcm: list[Pcm] = []

    def push_frame(self, frame: AudioFrame) -> None:
        self.pcm.append(frame.samples.copy())
        super().push_frame(frame)


async def test_missing_audio_is_filled_with_silence_up_to_half_a_second(
    store: MemoryStore,
) -> None:
    """The recogniser hears the stream at its own pace: 3 lost packets inside speech come
    back as 60 ms of silence where they were (before: the speech either side was spliced, and
    the passage's words around such a hole came out wrong), and a 2 s hole as 0.5 s, which
    ends the utterance there (more than the VAD's hangover) without decoding 2 s of nothing.
    """
    clock = FakeClock()
    engine = FakeEngine(lambda rate, n: Recording(rate))
    leg = FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg, stamped=True)
    await feed.play(LOUD, 5)
    feed.lose(3)
    await feed.play(LOUD, 5)
    feed.lose(100)
    await feed.play(LOUD, 5)
    await feed.play(QUIET, 1)
    await settle()
    stream = engine.streams[0]
    assert isinstance(stream, Recording)
    loud = [bool(np.abs(p).max()) for p in stream.pcm]
    assert loud == [True] * 5 + [False] * 3 + [True] * 5 + [False] * 25 + [True] * 5 + [False]
    assert tx.filled_frames == 28 and tx.dropped_frames == 0
    # Times stay the call's: the third stretch was said 2.26 s after the first began.
    segs = store.interactions[7].segments
    assert segs[-1].start == pytest.approx(2.26) and segs[-1].end == pytest.approx(2.36)
    await tx.close()


async def test_new_rtp_source_reanchors_on_arrival(store: MemoryStore) -> None:
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg, stamped=True)
    await feed.play(QUIET, 10)
    feed.ts = 12345  # a re-INVITE brought a new source: its timestamps mean nothing to us
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 1)
    await settle()
    (seg,) = store.interactions[7].segments
    assert seg.start == pytest.approx(0.2) and seg.end == pytest.approx(0.4)
    await tx.close()


async def test_junk_finals_are_not_stored(store: MemoryStore) -> None:
    clock = FakeClock()
    engine = FakeEngine(lambda rate, n: FakeStream(rate, texts=[".........", "Hello there."]))
    leg = FakeLeg()
    finals: list[SegmentEvent] = []
    tx = make(engine, store, clock, on_final=finals.append)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg)
    for _ in range(2):
        await feed.play(LOUD, 5)
        await feed.play(QUIET, 5)
    await tx.close()
    assert [s.text for s in store.interactions[7].segments] == ["Hello there."]
    assert [f.text for f in finals] == ["Hello there."]
    assert tx.junk_segments == 1 and tx.segments_stored == 1


async def test_service_totals_count_junk_segments() -> None:
    store = MemoryStore()
    clock = FakeClock()
    engine = FakeEngine(lambda rate, n: FakeStream(rate, texts=["[BLANK_AUDIO]"]))
    service = TranscriptionService(store, engine.stream, clock)
    leg = FakeLeg()
    tx = await service.start_call("c1", "+15550100", leg)
    await Feeder(clock, leg).play(LOUD, 5)
    await service.end_call(tx)
    assert service.stats().junk_segments == 1 and service.stats().segments_stored == 0


async def test_frames_shed_by_streams_are_counted_after_close(store: MemoryStore) -> None:
    clock = FakeClock()
    engine = FakeEngine()
    service = TranscriptionService(store, engine.stream, clock)
    tx = await service.start_call("c1", "+15550100", FakeLeg())
    engine.streams[0].dropped_frames = 7  # e.g. the pooled stream dropped an utterance
    tx.ring_dropped = 2
    assert tx.dropped_frames == 9 and service.stats().dropped_frames == 9
    await service.end_call(tx)
    assert tx.dropped_frames == 9 and service.stats().dropped_frames == 9


async def test_engine_failure_is_counted_and_the_call_goes_on(store: MemoryStore) -> None:
    clock = FakeClock()
    engine = FakeEngine(lambda rate, n: FakeStream(rate, fail_on=1 if n == 0 else None))
    leg = FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg)
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 10)  # first final: the engine fails
    await settle()
    assert tx.engine_errors == 1 and len(engine.streams) == 2
    assert engine.streams[0].closed
    await feed.play(LOUD, 10)
    await feed.play(QUIET, 2)
    await settle()
    segs = store.interactions[7].segments
    assert [s.text for s in segs] == ["u1"]  # from the fresh stream
    # Times still count from the answer, not from the fresh stream's first sample.
    assert segs[0].start == pytest.approx(0.4) and segs[0].end == pytest.approx(0.6)
    await tx.close()


async def test_store_failure_loses_one_segment_only() -> None:
    store = MemoryStore(fail_segments=1)
    ref = await store.start_voice_interaction(caller="+15550100", call_id="call-1")
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = CallTranscriber("call-1", ref.interaction_id, store, engine.stream, clock, 0.0)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg)
    for _ in range(2):
        await feed.play(LOUD, 5)
        await feed.play(QUIET, 5)
    await tx.close()
    assert tx.store_errors == 1
    assert [s.text for s in store.interactions[ref.interaction_id].segments] == ["u2"]


async def test_close_flushes_the_open_utterance_and_ends_tasks(store: MemoryStore) -> None:
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(leg, "caller")
    feed = Feeder(clock, leg)
    await feed.play(LOUD, 10)  # still talking at hangup
    await tx.close()
    assert [s.text for s in store.interactions[7].segments] == ["u1"]
    assert leg.listeners == []
    assert engine.streams[0].ended and engine.streams[0].closed
    with pytest.raises(RuntimeError):
        tx.attach(leg, "agent")


async def test_close_waits_for_last_finals_only_so_long(store: MemoryStore) -> None:
    clock = FakeClock()
    engine = FakeEngine(lambda rate, n: FakeStream(rate, final_delay=30.0))
    leg = FakeLeg()
    tx = make(engine, store, clock, close_timeout=0.05)
    tx.attach(leg, "caller")
    await Feeder(clock, leg).play(LOUD, 5)
    await asyncio.wait_for(tx.close(), 2.0)
    assert tx.close_timeouts == 1 and store.interactions[7].segments == []


async def test_both_parties_each_with_their_own_stream(store: MemoryStore) -> None:
    clock = FakeClock()
    engine = FakeEngine()
    caller, agent = FakeLeg(), FakeLeg()
    tx = make(engine, store, clock)
    tx.attach(caller, "caller")
    tx.attach(agent, "agent")
    with pytest.raises(ValueError):
        tx.attach(agent, "agent")
    for leg_a, leg_b in ((caller, agent), (agent, caller)):
        for _ in range(10):
            clock.advance(0.02)
            leg_a.emit(LOUD)
            leg_b.emit(QUIET)
            await asyncio.sleep(0)
    await tx.close()
    segs = store.interactions[7].segments
    assert sorted((s.speaker, round(s.start, 2)) for s in segs) == [("agent", 0.2), ("caller", 0.0)]
    assert len(engine.streams) == 2


class FakeCall:
    def __init__(self, call_id: str) -> None:
        self.id = call_id
        self.end_cause: str | None = None
        self._ended = asyncio.Event()

    async def wait_ended(self) -> None:
        await self._ended.wait()

    def end(self, cause: str) -> None:
        self.end_cause = cause
        self._ended.set()


async def test_service_hook_runs_for_the_life_of_the_call() -> None:
    store = MemoryStore()
    clock = FakeClock()
    engine, leg = FakeEngine(), FakeLeg()
    service = TranscriptionService(store, engine.stream, clock)
    call = FakeCall("abc")
    task = asyncio.create_task(service.hook()(call, leg, "+15550100"))
    await settle()
    assert service.get("abc") is not None
    await Feeder(clock, leg).play(LOUD, 5)
    call.end("remote-bye")
    await task
    (interaction,) = store.interactions.values()
    assert interaction.caller == "+15550100" and interaction.call_id == "abc"
    assert interaction.outcome == "remote-bye"
    assert [s.text for s in interaction.segments] == ["u1"]
    stats = service.stats()
    assert stats.calls == 1 and stats.live_calls == 0 and stats.segments_stored == 1


async def test_service_close_ends_every_live_call() -> None:
    store = MemoryStore()
    clock = FakeClock()
    engine = FakeEngine()
    service = TranscriptionService(store, engine.stream, clock)
    legs = [FakeLeg() for _ in range(3)]
    for i, leg in enumerate(legs):
        await service.start_call(f"c{i}", "+15550100", leg)
    with pytest.raises(ValueError):
        await service.start_call("c0", "+15550100", legs[0])
    await service.close()
    assert [i.outcome for i in store.interactions.values()] == ["shutdown"] * 3
    assert all(not leg.listeners for leg in legs)
    assert service.stats().live_calls == 0
