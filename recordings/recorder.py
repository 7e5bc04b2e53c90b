"""A stereo recording of one call, written as the call runs: caller left, agent right.

    recorder = CallRecorder(call, stream, writer)    # at answer
    recorder.attach_caller(call.media())              # taps on the caller's leg
    recorder.attach_agent(agent_call.media())         # when bridged (a new agent replaces)
    result = await recorder.close()                   # at hangup: duration, paused spans

Timeline: the caller's leg drives it. Its out tap fires on every 20 ms tick (silence when
nothing plays), so each of its calls writes exactly one stereo frame: left is the caller's
frame of that tick (its in tap fires just before, in the same tick), right the agent's, or
silence for a side that sent nothing this tick (a lost packet, a hold, no agent yet). So the
two channels never drift and a hold or a join later keeps its place in the file. Before an
agent joins, the right channel carries what the caller hears (IVR prompts, queue music): a
review hears what the caller was told. Once an agent joins it carries the agent's own voice
as received from their leg (not what the bridge's queue passes on), so a supervisor's whisper
to the agent never enters it.

Privacy (`voice.call.Privacy`): while the call is PAUSED both channels get silence and the
span (start and end in seconds of the file) is kept in `paused_spans`; frames buffered when
the pause begins are dropped. Nothing said in the span is ever handed to the disk.

Everything here runs on the media tick and only appends to a ~0.5 s chunk; the file is written
by `recordings.wavfile.DiskWriter`'s thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from media.frames import AudioFrame, Pcm
from media.resample import Resampler
from recordings.wavfile import FRAME_BYTES, RATE, DiskWriter, WavStream
from voice.call import Privacy, PrivacyListener
from voice.leg_media import LegMedia

log = logging.getLogger(__name__)

FRAME_SAMPLES = RATE // 50  # 20 ms at 8 kHz
# ~0.5 s: how often the header is made true on disk. A kill -9 loses at most this much plus
# what the disk thread had not written yet; at 1 s the file came out just over a second short
# under load (tests/recordings/test_recorded_calls.py), against "within a second".
FRAMES_PER_CHUNK = 25
# Skipped ticks filled with silence at once, at most (a 10 s stall; a longer one is cut).
MAX_SKIPPED_FILL = 500
# A side may run up to 3 frames ahead of the caller's tick (ticker order, jitter); beyond
# that its oldest frames are dropped and counted, so the channels stay within 60 ms.
SIDE_FRAMES = 3
_SILENCE = np.zeros(FRAME_SAMPLES, np.int16)
_STEREO_FRAME = 2 * FRAME_SAMPLES  # samples of one interleaved 20 ms frame
_PAUSED = Privacy.PAUSED


class PrivacySource(Protocol):
    """What the recorder needs of a call's privacy (`voice.call.Call` is one)."""

    @property
    def privacy(self) -> Privacy: ...

    def on_privacy(self, listener: PrivacyListener) -> Callable[[], None]: ...


@dataclass
class PausedSpan:
    """A span of the file holding silence because privacy was paused (seconds of the file)."""

    start: float
    end: float | None = None
    by: str = ""

    def to_json(self) -> dict[str, object]:
        return {"start": self.start, "end": self.end, "by": self.by}


@dataclass(frozen=True)
class RecordingResult:
    """How a recording ended (`failed`: the OS error's class that stopped the writes)."""

    duration: float
    paused_spans: list[PausedSpan]
    failed: str | None
    dropped_chunks: int
    late_frames: int


@dataclass
class _Side:
    """One channel's frames waiting for the caller's tick, at 8 kHz."""

    frames: deque[Pcm] = field(default_factory=lambda: deque(maxlen=SIDE_FRAMES))
    resampler: Resampler | None = None
    late: int = 0

    def push(self, frame: AudioFrame) -> None:
        pcm = frame.samples
        if frame.sample_rate != RATE:
            if self.resampler is None:
                self.resampler = Resampler(frame.sample_rate, RATE)
            pcm = self.resampler.process(pcm)
        if len(self.frames) == self.frames.maxlen:
            self.late += 1
        self.frames.append(pcm)

    def take(self) -> Pcm:
        return self.frames.popleft() if self.frames else _SILENCE


def _fit(pcm: Pcm) -> Pcm:
    if len(pcm) == FRAME_SAMPLES:
        return pcm
    out = np.zeros(FRAME_SAMPLES, np.int16)
    out[: min(len(pcm), FRAME_SAMPLES)] = pcm[:FRAME_SAMPLES]
    return out


class CallRecorder:
    """Records one call through the media seam (see the module's doc)."""

    def __init__(
        self, call_id: str, privacy: PrivacySource, stream: WavStream, writer: DiskWriter,
        *, on_spans: Callable[[list[PausedSpan]], None] | None = None,
        tick_index: Callable[[], int] | None = None, origin_tick: int | None = None,
    ) -> None:
        self.call_id = call_id
        # The media clock's schedule position (`MediaTicker.tick_index`): ticks the clock
        # skipped (a stalled loop) go into the file as silence, so the recording stays on the
        # call's clock, where the transcript's times and the paused spans are. `origin_tick`:
        # the position at the call's answer, where the transcript's times start; the ticks
        # from it to this recorder's first are silence too (the file is made in a thread
        # first: under load that took long enough to move every segment off its audio).
        self._tick_index = tick_index
        self._last_tick: int | None = origin_tick if tick_index is not None else None
        self.skipped_frames = 0
        self._privacy = privacy
        self.stream = stream
        self.writer = writer
        self.on_spans = on_spans
        self.frames = 0  # stereo frames written to the timeline (20 ms each)
        self.paused_spans: list[PausedSpan] = []
        self._left = _Side()
        self._right = _Side()
        # The chunk being filled, interleaved in place (no per-frame arrays or byte strings:
        # this runs 50 times a second per recorded call).
        self._chunk = np.zeros(FRAMES_PER_CHUNK * 2 * FRAME_SAMPLES, np.int16)
        self._in_chunk = 0  # frames in `_chunk`
        self._chunk_start = 0  # byte offset of the chunk in the data
        self._caller: LegMedia | None = None
        self._agent: LegMedia | None = None
        # Conference parties and barging supervisors, mixed into a side (`add_party`).
        self._parties: dict[str, tuple[LegMedia, _Side, str, Callable[[AudioFrame], None]]] = {}
        self._closed = False
        self._unsubscribe = privacy.on_privacy(self._privacy_changed)
        if privacy.privacy is Privacy.PAUSED:
            self._open_span("")

    @property
    def seconds(self) -> float:
        """The file's length so far (in the timeline, written or queued)."""
        return self.frames * FRAME_SAMPLES / RATE

    # -- taps ------------------------------------------------------------------------------------
    def attach_caller(self, media: LegMedia) -> None:
        """Record the caller's leg: its audio in (left) drives nothing; its audio out drives
        the timeline (and is the right channel until an agent joins)."""
        if self._closed:
            return
        self._caller = media
        media.add_listener(self._caller_in)
        media.add_out_listener(self._tick)

    def attach_agent(self, media: LegMedia) -> None:
        """The agent's leg joins the right channel (replacing an earlier agent's)."""
        if self._closed:
            return
        self.detach_agent()
        self._agent = media
        self._right = _Side()
        media.add_listener(self._agent_in)

    def detach_agent(self) -> None:
        if self._agent is not None:
            self._agent.remove_listener(self._agent_in)
            self._agent = None

    def add_party(self, name: str, media: LegMedia, side: str) -> None:
        """A party everyone on the call hears (an added agent or number, a supervisor who
        barged in) is mixed into `side`: "left" with the caller, "right" with the agent.
        A supervisor who only listens or whispers is never recorded."""
        if self._closed or side not in ("left", "right"):
            return
        self.remove_party(name)
        buffer = _Side()
        media.add_listener(buffer.push)
        self._parties[name] = (media, buffer, side, buffer.push)

    def remove_party(self, name: str) -> None:
        party = self._parties.pop(name, None)
        if party is not None:
            party[0].remove_listener(party[3])

    def _caller_in(self, frame: AudioFrame) -> None:
        self._left.push(frame)

    def _agent_in(self, frame: AudioFrame) -> None:
        self._right.push(frame)

    def _tick(self, heard: AudioFrame) -> None:
        """One tick of the caller's leg: one stereo frame onto the timeline (after silence
        for the ticks the clock skipped since the last one). Runs 50 times a second per
        recorded call on the media loop: kept to what each tick needs."""
        tick_index = self._tick_index
        if tick_index is not None:
            index = tick_index()
            last, self._last_tick = self._last_tick, index
            if last is not None and index - last > 1:
                missed = min(index - last - 1, MAX_SKIPPED_FILL)
                for _ in range(missed):
                    self.write_frame(_SILENCE, _SILENCE)
                self.skipped_frames += missed
        left = self._left.take()
        right_side = self._right
        if self._agent is not None:
            right = right_side.take()
        elif not right_side.frames and heard.sample_rate == RATE:
            right = heard.samples  # until an agent joins, the right is what the caller hears
        else:
            right_side.push(heard)
            right = right_side.take()
        if self._parties:
            left, right = self._mix_parties(left, right)
        if self._privacy.privacy is _PAUSED:
            left = right = _SILENCE
        self.write_frame(left, right)

    def _mix_parties(self, left: Pcm, right: Pcm) -> tuple[Pcm, Pcm]:
        """Each side with its parties' frames added (saturating at int16)."""
        sums = {"left": _fit(left).astype(np.int32), "right": _fit(right).astype(np.int32)}
        for _media, buffer, side, _push in self._parties.values():
            sums[side] += _fit(buffer.take())
        return (np.clip(sums["left"], -32768, 32767).astype(np.int16),
                np.clip(sums["right"], -32768, 32767).astype(np.int16))

    def write_frame(self, left: Pcm, right: Pcm) -> None:
        """Append one 20 ms stereo frame (also what tests drive directly)."""
        at = self._in_chunk * _STEREO_FRAME
        chunk = self._chunk
        chunk[at:at + _STEREO_FRAME:2] = left if len(left) == FRAME_SAMPLES else _fit(left)
        chunk[at + 1:at + _STEREO_FRAME:2] = right if len(right) == FRAME_SAMPLES else _fit(right)
        self._in_chunk += 1
        self.frames += 1
        if self._in_chunk == FRAMES_PER_CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._in_chunk:
            data = self._chunk[: self._in_chunk * 2 * FRAME_SAMPLES].astype("<i2").tobytes()
            self.writer.submit(self.stream, self._chunk_start, data)
            self._chunk_start += len(data)
            self._in_chunk = 0

    # -- privacy ---------------------------------------------------------------------------------
    def _privacy_changed(self, change: object) -> None:
        new = getattr(change, "new", None)
        by = str(getattr(change, "by", ""))
        if new is Privacy.PAUSED:
            self._open_span(by)
        elif new is Privacy.OPEN and self.paused_spans and self.paused_spans[-1].end is None:
            self.paused_spans[-1].end = self.seconds
            self._spans_changed()

    def _open_span(self, by: str) -> None:
        # What was buffered before the pause is not written after it.
        self._left.frames.clear()
        self._right.frames.clear()
        self.paused_spans.append(PausedSpan(self.seconds, None, by))
        self._spans_changed()

    def _spans_changed(self) -> None:
        if self.on_spans is not None:
            try:
                self.on_spans([PausedSpan(s.start, s.end, s.by) for s in self.paused_spans])
            except Exception:  # the index is told again at close
                log.exception("call %s: recording span hook failed", self.call_id)

    # -- the end ---------------------------------------------------------------------------------
    async def close(self) -> RecordingResult:
        """Detach every tap, write what is left and close the file (the header made final)."""
        if not self._closed:
            self._closed = True
            self._unsubscribe()
            if self._caller is not None:
                self._caller.remove_listener(self._caller_in)
                self._caller.remove_out_listener(self._tick)
            self.detach_agent()
            for name in list(self._parties):
                self.remove_party(name)
            if self.paused_spans and self.paused_spans[-1].end is None:
                self.paused_spans[-1].end = self.seconds
            self._flush()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def resolve() -> None:
            if not done.done():
                done.set_result(None)

        def closed() -> None:  # on the writer thread
            loop.call_soon_threadsafe(resolve)

        self.writer.close(self.stream, closed)
        await done
        return RecordingResult(
            duration=self.stream.data_bytes / (RATE * FRAME_BYTES),
            paused_spans=list(self.paused_spans),
            failed=self.stream.failed,
            dropped_chunks=self.writer.dropped_chunks,
            late_frames=self._left.late + self._right.late,
        )
