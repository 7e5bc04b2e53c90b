"""Per-call transcription: each party's audio → ASR stream → final segments on the case.

    tx = CallTranscriber(call_id, interaction_id, store, engine.stream, clock, answered_at)
    tx.attach(sip_leg, "caller")       # later: tx.attach(agent_leg, "agent")
    ...
    await tx.close()                   # flush, last finals (bounded), tasks cancelled+awaited

One party, three stages, each with its own bound (STYLE.md §6):

* **The tick.** A listener on the leg copies each 20 ms frame, with its arrival time and its
  timestamp, into a fixed ring. It never waits: when the ring is full the oldest frame gives
  way and is counted in `dropped_frames`. Stale audio is worse than lost audio.
* **The feeder task** drains the ring into the party's ASR stream (which bounds its own
  backlog: partials give way first, then the oldest audio, see media/asr/base.py; the pooled
  whisper stream drops whole utterances past its backlog). It also keeps the map from stream
  samples to call time, and that map comes from the frames' own timestamps (RTP style, in
  samples), not from counting the frames that reached it: frames only exist for packets that
  arrived and survived the ring, so a burst of loss, a ring overflow or a hold would
  otherwise pull every later segment earlier than it was said. Arrival time anchors the first
  frame, frames without timestamps (0 throughout), and timestamps that cannot be right (a new
  RTP source: see `_FrameClock`).
  Where that map says audio is missing (packets lost or late, frames shed by the ring, a
  hold), the feeder puts silence in its place, up to `FILL_MAX_S`, before the next frame, so
  the recogniser hears the stream at its own pace: speech either side of a hole is not
  spliced into one word, and a hole longer than the VAD's hangover ends the utterance there.
  Measured on the 40 s passage (tests/speech/passage.py) as the server received it from a
  pjsua2 call, replayed 12 times with 1-9 frames lost at random: WER 4.5% mean, 7.3% worst
  with the holes closed up; 4.3%, 5.2% with them filled (the live path on the intact call:
  4.2%).
* **The reader task** iterates results. A final is written to the store at once, as a segment
  timed from the call's answer; a partial is only published (`on_partial`). Text with no
  speech in it ("........." from line noise, "[BLANK_AUDIO]": media.asr.junk) is neither
  stored nor published, only counted (`junk_segments`). A failed engine is logged (never the
  text), counted, and replaced by a fresh stream: the call goes on.

`dropped_frames` counts every 20 ms frame of a party's audio that was never recognised: ring
overflow, plus what the streams shed (`dropped_frames` of each stream, current and retired).
It is what `TranscriptionService.stats().dropped_frames` sums over calls, for metrics.

Privacy (`voice.call.Privacy`): while the call is paused (`follow(call)` or `set_private`)
every party's tap keeps nothing, the ring is emptied, and each party's stream is closed
*without* `end_input`, so whatever it buffered (half an utterance: the start of a card number)
is never recognised; its results not yet stored are dropped too. A fresh stream starts when
the pause ends, its times anchored on the clock again.

Transcripts and caller numbers are personal data: no log line here carries either.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import inspect
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from media.asr.base import TranscriptResult
from media.asr.junk import is_junk
from media.clock import Clock
from media.frames import AudioFrame, Pcm
from voice.call import Privacy, PrivacyChange, PrivacyListener
from voice.leg_media import LegMedia

log = logging.getLogger(__name__)

# 5 s of 20 ms frames. The feeder runs on the same loop as the tick and normally empties the
# ring every tick; the ring only fills if the loop itself stalls, and past 5 s the audio is
# too stale to be worth recognising late.
RING_FRAMES = 250
# Frames without timestamps: arrival later than this beyond the audio already counted means
# audio that never came (hold, a loss burst): re-anchor on the clock. Below it, jitter.
# Frames with timestamps: a timestamp that puts audio this far in the future of its arrival
# is not this source's clock (a new RTP source): re-anchor on arrival.
GAP_S = 0.5
# Frames with timestamps: audio may arrive late (the media path fell behind), but never later
# than the jitter buffer and this ring can hold it; beyond this a timestamp is not believed.
MAX_LATE_S = 10.0
# Frames with timestamps: lateness beyond LATE_S for LATE_FRAMES frames in a row (1 s) is the
# sender's clock having fallen behind, not jitter (the playout delay is 60 ms): followed.
LATE_S = 0.2
LATE_FRAMES = 50
# Audio missing between two frames is filled with silence up to this much (see the module
# docstring): more than the VAD's hangover (300 ms), so a longer hole ends an utterance, and
# no more, since silence costs the recogniser as much as audio and a hold may last minutes.
FILL_MAX_S = 0.5
# A party whose engine keeps failing stops being transcribed rather than spin.
MAX_RESTARTS = 3
# close() waits this long for the last finals (a last utterance takes ~0.5 s of CPU).
CLOSE_TIMEOUT_S = 10.0


class InteractionRef(Protocol):
    """What `start_voice_interaction` returns (cases/store.py)."""

    @property
    def customer_id(self) -> int: ...

    @property
    def case_id(self) -> int: ...

    @property
    def interaction_id(self) -> int: ...


class TranscriptStore(Protocol):
    """The part of the case store (cases/store.py) transcription writes to."""

    async def start_voice_interaction(
        self, *, caller: str, call_id: str, direction: str = "inbound", dialed: str | None = None
    ) -> InteractionRef: ...

    async def add_segment(
        self,
        interaction_id: int,
        *,
        speaker: str,
        start: float,
        end: float,
        text: str,
        confidence: float | None,
        engine: str,
        language: str | None = None,
    ) -> int: ...

    async def end_interaction(
        self, interaction_id: int, *, outcome: str, summary: str | None = None
    ) -> None: ...


class TranscriptStream(Protocol):
    """An ASR stream (media.asr.base.AsrStream and voice.utterance_pool.PooledStream).

    `dropped_frames` counts the 20 ms frames it dropped unrecognised (load shedding).
    """

    dropped_frames: int

    def push_frame(self, frame: AudioFrame) -> None: ...

    def flush(self) -> None: ...

    def end_input(self) -> None: ...

    def __aiter__(self) -> AsyncIterator[TranscriptResult]: ...

    async def aclose(self) -> None: ...


StreamFactory = Callable[[int], TranscriptStream]
"""`engine.stream`: a new stream for audio at the given sample rate."""


def open_stream(
    factory: StreamFactory, sample_rate: int, hints: tuple[str, ...] = ()
) -> TranscriptStream:
    """A stream from `factory`, given phrase `hints` when the factory takes them.

    The engines' and the pool's `stream` take a keyword `hints` (media.asr: a menu's phrases,
    a queue's product names); a plain `rate -> stream` callable gets none, and works as before.
    """
    if hints and "hints" in _parameters(factory):
        return factory(sample_rate, hints=hints)  # type: ignore[call-arg]
    return factory(sample_rate)


def _parameters(factory: StreamFactory) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no keywords known
        return {}


def _language_of(result: TranscriptResult) -> dict[str, str]:
    """`{"language": code}` when the stream said which language it heard (a multilingual
    pool: voice.language_pools), else nothing: stores that predate languages still work."""
    language = getattr(result, "language", None)
    return {"language": language} if isinstance(language, str) else {}


class PrivacySource(Protocol):
    """Whose privacy state transcription follows (voice.call.Call)."""

    @property
    def privacy(self) -> Privacy: ...

    def on_privacy(self, listener: PrivacyListener) -> Callable[[], None]: ...


@dataclass(frozen=True, slots=True)
class SegmentEvent:
    """A transcript piece for live subscribers. `segment_id` is None for partials.

    Times are seconds from the call's answer. The text is personal data: kept out of repr.
    """

    call_id: str
    interaction_id: int
    speaker: str
    start: float
    end: float
    text: str
    is_final: bool
    confidence: float | None
    engine: str
    segment_id: int | None = None

    def __repr__(self) -> str:
        kind = "final" if self.is_final else "partial"
        return (
            f"SegmentEvent({kind}, {self.call_id!r}, {self.speaker}, "
            f"{self.start:.2f}-{self.end:.2f}s, chars={len(self.text)})"
        )


SegmentCallback = Callable[[SegmentEvent], None]


class _FrameClock:
    """Call time of each frame of one party, from the frames' timestamps.

    `timestamp` counts samples (RTP style, 32 bits, wrapping). Between two frames the call
    time advances by the timestamps' difference, so frames missing in between (lost, or
    dropped from the ring) leave their gap in place. Arrival time is used instead:

    * for the first frame (and the first after `reset()`);
    * when timestamps are absent (the same value twice: producers that do not know them
      leave 0) — then time is counted from the samples, re-anchored on arrival after a gap
      of more than `GAP_S` (hold);
    * when a timestamp cannot be right: audio more than `GAP_S` in the future of its arrival,
      or more than `MAX_LATE_S` behind it, or going backwards (a new RTP source).

    A lateness that lasts is followed: when every frame for `LATE_FRAMES` frames arrives more
    than `LATE_S` after its timestamp's time, the sender's clock is behind the call's (it
    stalled and went on without catching up: seen with a CPU-starved pjsua caller), and the
    frames are timed that much (the least of them) later from then on. The recording, written
    as the call plays, has them there too; without this a 0.6 s stall of the caller left every
    later segment 0.6 s before its words in the recording.

    Call time never goes backwards.
    """

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._ts: int | None = None
        self._t = 0.0  # call time of the last frame's first sample
        self._end = 0.0  # call time just after the last frame
        self._late = 0  # consecutive frames arriving more than LATE_S after their time
        self._least_late = 0.0  # the least lateness among them

    def reset(self) -> None:
        """Forget the stream's timing (a privacy pause: re-anchor on arrival), but not
        where its audio ended: nothing after the pause is timed back inside it."""
        self._ts = None
        self._late = 0

    def _behind(self, late: float) -> float:
        """How much later to time this frame and the next: the least lateness of the last
        LATE_FRAMES frames once all of them were more than LATE_S late, else 0."""
        if late <= LATE_S:
            self._late = 0
            return 0.0
        self._least_late = late if self._late == 0 else min(self._least_late, late)
        self._late += 1
        if self._late < LATE_FRAMES:
            return 0.0
        self._late = 0
        return self._least_late

    def time_of(self, timestamp: int, samples: int, arrived: float) -> float:
        """Call time of the first sample of a frame of `samples` stamped `timestamp`, whose
        last sample arrived at call time `arrived`."""
        # Not before the answer: a frame that arrives within its own length of the answer
        # began before it, and a segment must not start at a negative time (the store
        # refuses it).
        observed = max(0.0, arrived - samples / self.rate)
        if self._ts is None:
            t = max(observed, self._end)
        else:
            step = (timestamp - self._ts) & 0xFFFFFFFF
            if step == 0:  # no timestamps: count
                t = self._end
                if observed - t > GAP_S:
                    t = observed
            elif step >= 1 << 31:  # backwards: not this source's clock
                t = max(observed, self._end)
            else:
                t = self._t + step / self.rate
                if t - observed > GAP_S or observed - t > MAX_LATE_S:
                    t = max(observed, self._end)
                else:
                    t += self._behind(observed - t)
        t = max(t, self._end)
        self._ts = timestamp
        self._t = t
        self._end = t + samples / self.rate
        return t


class _Timeline:
    """Maps a party's pushed-sample index to seconds from the call's answer.

    Anchors are (sample index, call time) pairs, one wherever the pushed audio is not
    contiguous in call time (a gap in timestamps, a hold, a pause); between anchors the audio
    is contiguous.
    """

    # Differences below this (a tenth of a sample at 8 kHz) are float noise, not gaps.
    EPSILON_S = 1e-5

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._samples: list[int] = []
        self._times: list[float] = []

    def observe(self, sample: int, call_time: float) -> None:
        """Audio starting at pushed sample `sample` was said at `call_time`."""
        if self._samples and abs(call_time - self.at(sample)) <= self.EPSILON_S:
            return
        self._samples.append(sample)
        self._times.append(call_time)

    def at(self, sample: float) -> float:
        i = bisect.bisect_right(self._samples, sample) - 1
        if i < 0:
            return sample / self.rate
        return self._times[i] + (sample - self._samples[i]) / self.rate


class _Party:
    """One speaker's tap, ring, stream and tasks."""

    def __init__(self, owner: CallTranscriber, leg: LegMedia, speaker: str) -> None:
        self.owner = owner
        self.leg = leg
        self.speaker = speaker
        self.ring: deque[tuple[float, int, Pcm]] = deque(maxlen=owner.ring_frames)
        self.ready = asyncio.Event()
        self.frame_clock = _FrameClock(owner.sample_rate)
        self.timeline = _Timeline(owner.sample_rate)
        # Frames shed by streams this party no longer uses (restarted, paused).
        self.retired_dropped = 0
        self.pushed = 0  # samples handed to streams so far
        self.stream_base = 0  # `pushed` when the current stream began
        self.stream = owner.stream_factory(owner.sample_rate)
        self.restarts = 0
        self.closing = False
        self.private = False
        # Streams dropped by a privacy pause, being closed: awaited by close().
        self.retiring: set[asyncio.Task[None]] = set()
        self.feeder = asyncio.create_task(self._feed(), name=f"tx-feed-{speaker}")
        self.reader: asyncio.Task[None] | None = asyncio.create_task(
            self._read(), name=f"tx-read-{speaker}"
        )
        leg.add_listener(self.on_frame)
        if owner.private:
            self.set_private(True)

    # -- on the 20 ms tick: O(µs), never waits ---------------------------------------------------
    def on_frame(self, frame: AudioFrame) -> None:
        if self.private:
            self.owner.withheld_frames += 1
            return
        ring = self.ring
        if len(ring) == ring.maxlen:
            self.owner.ring_dropped += 1
        # Copied: the tick's buffers are not ours to keep.
        ring.append((self.owner.clock.now(), frame.timestamp, frame.samples.copy()))
        self.ready.set()

    @property
    def dropped_frames(self) -> int:
        """Frames the party's streams shed, retired streams included."""
        return self.retired_dropped + self.stream.dropped_frames

    def replace_stream(self) -> None:
        """A fresh stream from the next pushed sample on (the old one is closed elsewhere)."""
        self.retired_dropped += self.stream.dropped_frames
        self.stream_base = self.pushed
        self.stream = self.owner.stream_factory(self.owner.sample_rate)

    # -- feeder ----------------------------------------------------------------------------------
    def drain(self) -> None:
        """Move everything in the ring into the current stream."""
        rate = self.owner.sample_rate
        answered = self.owner.answered_at
        while self.ring:
            arrived, timestamp, pcm = self.ring.popleft()
            said = self.frame_clock.time_of(timestamp, len(pcm), arrived - answered)
            if self.pushed > self.stream_base:
                self.fill(said, len(pcm))
            self.timeline.observe(self.pushed, said)
            self.stream.push_frame(AudioFrame(pcm, rate, self.pushed))
            self.pushed += len(pcm)

    def fill(self, said: float, frame_len: int) -> None:
        """Silence for the audio missing before a frame said at call time `said` (up to
        `FILL_MAX_S`, in frames of `frame_len`), pushed and counted in `filled_frames`."""
        rate = self.owner.sample_rate
        missing = min(said - self.timeline.at(self.pushed), FILL_MAX_S)
        frames = int(missing * rate + 0.5) // frame_len
        if frames <= 0:
            return
        silence = np.zeros(frame_len, np.int16)
        for _ in range(frames):
            self.stream.push_frame(AudioFrame(silence, rate, self.pushed))
            self.pushed += frame_len
        self.owner.filled_frames += frames

    async def _feed(self) -> None:
        while True:
            await self.ready.wait()
            self.ready.clear()
            self.drain()

    # -- reader ----------------------------------------------------------------------------------
    async def _read(self) -> None:
        owner = self.owner
        while True:
            try:
                async for result in self.stream:
                    await self._result(result)
                return  # the stream ended after end_input(): every final is in
            except Exception as exc:  # an engine failure must not end the call
                owner.engine_errors += 1
                log.warning(
                    "call %s %s: recognition failed (%s); %s",
                    owner.call_id,
                    self.speaker,
                    type(exc).__name__,
                    "restarting the stream" if self._may_restart() else "giving up",
                )
                with contextlib.suppress(Exception):
                    await self.stream.aclose()
                if not self._may_restart():
                    return
                self.restarts += 1
                self.replace_stream()

    # -- privacy ---------------------------------------------------------------------------------
    def set_private(self, on: bool) -> None:
        """Pause: forget the ring and drop the stream with what it buffered. Resume: a fresh
        stream (its results are timed from the audio it is given)."""
        if on == self.private or self.closing:
            return
        self.private = on
        if on:
            self.ring.clear()
            reader, self.reader = self.reader, None
            task = asyncio.create_task(
                self._retire(reader, self.stream), name=f"tx-retire-{self.speaker}"
            )
            self.retiring.add(task)
            task.add_done_callback(self.retiring.discard)
        else:
            # Times after the pause come from arrival again: never back inside the pause.
            self.frame_clock.reset()
            self.replace_stream()
            self.reader = asyncio.create_task(self._read(), name=f"tx-read-{self.speaker}")

    @staticmethod
    async def _retire(reader: asyncio.Task[None] | None, stream: TranscriptStream) -> None:
        # Cancelled, not ended: end_input() would recognise the buffered audio.
        if reader is not None:
            await _cancel_and_wait(reader)
        with contextlib.suppress(Exception):
            await stream.aclose()

    def _may_restart(self) -> bool:
        return not self.closing and self.restarts < MAX_RESTARTS

    async def _result(self, result: TranscriptResult) -> None:
        owner = self.owner
        rate = owner.sample_rate
        if is_junk(result.text):
            # Noise decoded as dots or a caption: nothing was said.
            if result.is_final:
                owner.junk_segments += 1
            return
        start = self.timeline.at(self.stream_base + result.start * rate)
        # The end's last sample, mapped, plus one: an end at an anchor belongs before it.
        end = self.timeline.at(self.stream_base + result.end * rate - 1) + 1 / rate
        if not result.is_final:
            owner.publish(self.speaker, result, start, end, None)
            return
        try:
            seg_id = await owner.store.add_segment(
                owner.interaction_id,
                speaker=self.speaker,
                start=round(start, 3),
                end=round(end, 3),
                text=result.text,
                confidence=result.confidence,
                engine=result.engine,
                **_language_of(result),
            )
        except Exception as exc:  # a store hiccup loses one segment, not the call
            owner.store_errors += 1
            log.warning(
                "call %s %s: segment not stored (%s)",
                owner.call_id,
                self.speaker,
                type(exc).__name__,
            )
            return
        owner.segments_stored += 1
        owner.publish(self.speaker, result, start, end, seg_id)

    # -- closing ---------------------------------------------------------------------------------
    async def close(self, wait_s: float) -> None:
        """Stop tapping, recognise what is left (up to `wait_s`), end the tasks."""
        try:
            await self._close(wait_s)
        finally:
            self.owner.closed_dropped += self.dropped_frames

    async def _close(self, wait_s: float) -> None:
        self.leg.remove_listener(self.on_frame)
        self.closing = True
        await _cancel_and_wait(self.feeder)
        if self.retiring:
            await asyncio.gather(*self.retiring, return_exceptions=True)
        reader = self.reader
        if reader is None:  # closed while private: nothing may be recognised
            return
        try:
            self.drain()
            self.stream.end_input()
        except Exception as exc:  # a stream that already failed refuses input; nothing to add
            log.debug(
                "call %s %s: end of input refused (%s)",
                self.owner.call_id,
                self.speaker,
                type(exc).__name__,
            )
        done, _ = await asyncio.wait([reader], timeout=wait_s)
        if not done:
            self.owner.close_timeouts += 1
            log.warning(
                "call %s %s: last finals not ready after %.1f s; dropped",
                self.owner.call_id,
                self.speaker,
                wait_s,
            )
        await _cancel_and_wait(reader)
        with contextlib.suppress(Exception):
            await self.stream.aclose()


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


class CallTranscriber:
    """Transcribes the parties of one call onto one interaction of the case store.

    `answered_at` is the `clock.now()` of the call's answer: segment times count from it.
    `on_partial` / `on_final` are called on the event loop for live subscribers; they must
    not block. Counters: `dropped_frames` (every frame never recognised: ring overflow and
    what the streams shed; `ring_dropped` is the ring's part), `engine_errors`,
    `store_errors`, `segments_stored`, `junk_segments` (no speech in them: not stored),
    `close_timeouts`, `withheld_frames` (not kept: privacy), `pauses`, `filled_frames`
    (silence put where audio was missing: see the module docstring).
    """

    def __init__(
        self,
        call_id: str,
        interaction_id: int,
        store: TranscriptStore,
        stream_factory: StreamFactory,
        clock: Clock,
        answered_at: float,
        *,
        sample_rate: int = 8000,
        ring_frames: int = RING_FRAMES,
        on_partial: SegmentCallback | None = None,
        on_final: SegmentCallback | None = None,
        close_timeout: float = CLOSE_TIMEOUT_S,
    ) -> None:
        self.call_id = call_id
        self.interaction_id = interaction_id
        self.store = store
        self.stream_factory = stream_factory
        self.clock = clock
        self.answered_at = answered_at
        self.sample_rate = sample_rate
        self.ring_frames = ring_frames
        self.on_partial = on_partial
        self.on_final = on_final
        self.close_timeout = close_timeout
        self._parties: dict[str, _Party] = {}
        self._closed = False
        self.ring_dropped = 0
        self.closed_dropped = 0  # streams' drops of parties already closed
        self.junk_segments = 0
        self.engine_errors = 0
        self.store_errors = 0
        self.segments_stored = 0
        self.close_timeouts = 0
        self.withheld_frames = 0
        self.filled_frames = 0
        self.pauses = 0
        self.private = False
        self._unfollow: Callable[[], None] | None = None

    @property
    def speakers(self) -> list[str]:
        return list(self._parties)

    @property
    def dropped_frames(self) -> int:
        """Every 20 ms frame of this call's audio that was never recognised, for metrics."""
        live = sum(p.dropped_frames for p in self._parties.values())
        return self.ring_dropped + self.closed_dropped + live

    def attach(self, leg: LegMedia, speaker: str) -> None:
        """Start transcribing `leg`'s inbound audio as `speaker` ("caller", "agent")."""
        if self._closed:
            raise RuntimeError("attach() after close()")
        if speaker in self._parties:
            raise ValueError(f"speaker {speaker!r} is already attached")
        self._parties[speaker] = _Party(self, leg, speaker)

    async def detach(self, speaker: str) -> None:
        """Stop transcribing one party (an agent leaves on transfer); its last finals land."""
        party = self._parties.pop(speaker, None)
        if party is not None:
            await party.close(self.close_timeout)

    def flush(self, speaker: str) -> None:
        """End `speaker`'s current utterance now (their turn ended, e.g. the other spoke)."""
        party = self._parties.get(speaker)
        if party is not None and not party.closing and not party.private:
            party.drain()
            party.stream.flush()

    def set_private(self, on: bool) -> None:
        """Privacy paused (True) or open again (False), for every party at once: paused, no
        audio of anyone is kept and what was buffered is dropped unrecognised."""
        if on == self.private:
            return
        self.private = on
        if on:
            self.pauses += 1
        for party in self._parties.values():
            party.set_private(on)

    def follow(self, call: PrivacySource) -> None:
        """Follow `call`'s privacy state (now and at every change) until `close()`."""
        if self._unfollow is not None:
            raise RuntimeError("already following a call's privacy")

        def changed(change: PrivacyChange) -> None:
            self.set_private(change.new is Privacy.PAUSED)

        self._unfollow = call.on_privacy(changed)
        self.set_private(call.privacy is Privacy.PAUSED)

    async def close(self) -> None:
        """Flush every party, wait (bounded) for their last finals, end all tasks."""
        self._closed = True
        if self._unfollow is not None:
            self._unfollow()
            self._unfollow = None
        parties, self._parties = list(self._parties.values()), {}
        # In parallel: the parties' last utterances are recognised concurrently.
        await asyncio.gather(*(p.close(self.close_timeout) for p in parties))

    def publish(
        self,
        speaker: str,
        result: TranscriptResult,
        start: float,
        end: float,
        segment_id: int | None,
    ) -> None:
        callback = self.on_final if result.is_final else self.on_partial
        if callback is None:
            return
        event = SegmentEvent(
            self.call_id,
            self.interaction_id,
            speaker,
            start,
            end,
            result.text,
            result.is_final,
            result.confidence,
            result.engine,
            segment_id,
        )
        try:
            callback(event)
        except Exception:  # a subscriber's bug must not stop transcription
            log.exception("call %s: transcript subscriber failed", self.call_id)
