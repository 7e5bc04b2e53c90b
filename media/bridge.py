"""Joining legs: a two-party `Bridge` and an N-party `Mixer`.

Legs are abstract here. Each leg is an `AudioSink` (`write(frame)`: audio to play to that
party); whoever receives a leg's audio hands it in with `feed(leg_id, frame)`.

* `Bridge` forwards each frame to the other leg as it arrives: no added latency, no clock, and
  the audio is bit-exact when both legs run at the same rate.
* `Mixer` buffers a few frames per leg and, on each 20 ms `tick()`, sends every leg the
  saturating int16 sum of the legs it may hear, minus itself. Who hears whom follows from each
  leg's mode (`Mode`): `both` (speaks and hears: a caller, an agent, a barging supervisor, a
  conference party), `listen` (hears all, heard by none: supervisor listen, or a muted or held
  party), `whisper:<leg>` (hears all, heard only by that leg: a supervisor coaching an agent);
  `set_hears` cuts single (listener, speaker) pairs on top. Legs join and leave while it runs.

  Who drives `tick()` is the owner's choice: a `MediaTicker` member, or (live calls,
  `voice.conference`) the legs themselves: `PulledMix` runs a tick when a leg pulls its next
  frame and finds none, so the mixer needs no clock of its own and adds no latency beyond the
  order the ticker visits the legs in.

A listener that hears one speaker gets that speaker's frame as it came (no copy, no sum: two
parties cost about what the `Bridge` did); one that hears every speaking leg gets the total
minus its own voice; anything else is summed from its speakers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

from media.frame_queue import DEFAULT_MAX_FRAMES, FrameQueue
from media.frames import AudioFrame, Pcm, samples_per_frame
from media.resample import Resampler

# Three frames (60 ms) of inbound slack per leg: enough to absorb a tick landing between a
# leg's packets, small enough that a leg delivering faster than the tick cannot build delay.
MAX_BUFFERED_FRAMES = 3


class AudioSink(Protocol):
    """A leg's outbound side: audio to be played to that party."""

    def write(self, frame: AudioFrame) -> None: ...


class Bridge:
    """Two legs, each hearing the other, frame for frame as they arrive."""

    def __init__(
        self,
        a: str,
        a_sink: AudioSink,
        b: str,
        b_sink: AudioSink,
        *,
        a_rate: int = 8000,
        b_rate: int = 8000,
    ) -> None:
        if a == b:
            raise ValueError("a bridge needs two distinct legs")
        self._other = {a: (b, b_sink, b_rate), b: (a, a_sink, a_rate)}
        self._resamplers = {a: Resampler(a_rate, b_rate), b: Resampler(b_rate, a_rate)}
        self._muted: set[str] = set()
        self.frames_forwarded = 0

    def set_muted(self, leg_id: str, muted: bool) -> None:
        """Stop (or resume) carrying `leg_id`'s audio to the other party."""
        if leg_id not in self._other:
            raise KeyError(leg_id)
        (self._muted.add if muted else self._muted.discard)(leg_id)

    def feed(self, leg_id: str, frame: AudioFrame) -> None:
        """Audio from `leg_id`; forwarded to the other leg at once."""
        _, sink, rate = self._other[leg_id]
        if leg_id in self._muted:
            return
        if frame.sample_rate != rate:
            frame = self._resamplers[leg_id].process_frame(frame)
        sink.write(frame)
        self.frames_forwarded += 1


LISTEN = "listen"
BOTH = "both"
WHISPER = "whisper:"


@dataclass(frozen=True, slots=True)
class Mode:
    """How a leg takes part: `both`, `listen`, or `whisper` to one leg (`to`)."""

    kind: str  # "both" | "listen" | "whisper"
    to: str | None = None

    @classmethod
    def parse(cls, text: str) -> Mode:
        """`"both"`, `"listen"` or `"whisper:<leg>"`; a ValueError says what is wrong."""
        if text == BOTH:
            return cls("both")
        if text == LISTEN:
            return cls("listen")
        if text.startswith(WHISPER) and len(text) > len(WHISPER):
            return cls("whisper", text[len(WHISPER):])
        raise ValueError(f"mode must be 'both', 'listen' or 'whisper:<party>', got {text!r}")

    def __str__(self) -> str:
        return f"{WHISPER}{self.to}" if self.kind == "whisper" else self.kind

    def heard_by(self, speaker: str, listener: str) -> bool:
        """Whether a leg in this mode (`speaker`) is heard by `listener`."""
        if speaker == listener:
            return False
        if self.kind == "both":
            return True
        return self.kind == "whisper" and self.to == listener


SPEAK_AND_HEAR = Mode("both")
HEAR_ONLY = Mode("listen")


@dataclass(slots=True)
class _Leg:
    sink: AudioSink
    rate: int
    mode: Mode = SPEAK_AND_HEAR
    inbound: deque[AudioFrame] = field(
        default_factory=lambda: deque(maxlen=MAX_BUFFERED_FRAMES))
    to_mix: Resampler | None = None
    from_mix: Resampler | None = None
    timestamp: int = 0
    dropped: int = 0
    # While the plan is pure routing (`_Plan.direct`): the sinks of the legs hearing this one.
    direct_to: tuple[AudioSink, ...] = ()
    routed: bool = False


@dataclass(frozen=True, slots=True)
class _Plan:
    """Who hears whom, worked out once per change of membership or mode (not per tick)."""

    ids: tuple[str, ...]
    legs: tuple[_Leg, ...]
    # Per listener (by index): the indices it hears, and whether that is "every speaking leg
    # but me" (the total minus its own voice is then cheaper than summing for large rooms).
    hears: tuple[tuple[int, ...], ...]
    everyone: tuple[bool, ...]
    speaking: tuple[int, ...]  # indices heard by anybody at all
    speaks_to_all: tuple[bool, ...]  # index in the "total" of everyone-listeners
    # Per listener: the one speaker it hears when that is all, with no resampling (-1: none).
    single: tuple[int, ...]
    # Pure routing: every listener hears at most one speaker and nobody resamples (a
    # two-party call, or one with its other parties on hold). `feed` then forwards each frame
    # at once, as the `Bridge` did, and the tick has nothing to mix.
    direct: bool


class Mixer:
    """N legs mixed on a 20 ms tick; each hears the legs its mode and `set_hears` allow."""

    def __init__(self, sample_rate: int = 8000, *, forward: bool = False) -> None:
        """`forward`: while the plan is pure routing, forward frames as they arrive instead of
        on the tick (for sinks that fill a gap with silence themselves, as `FrameQueue`
        does: the tick then writes nothing, not even silence)."""
        self.sample_rate = sample_rate
        self._forward = forward
        self._n = samples_per_frame(sample_rate)
        self._legs: dict[str, _Leg] = {}
        # (listener, speaker) pairs cut on top of what the modes allow.
        self._blocked: set[tuple[str, str]] = set()
        self._plan: _Plan | None = None
        self._silence: Pcm = np.zeros(self._n, np.int16)
        self.underruns = 0
        self.ticks = 0
        self.frames_forwarded = 0  # frames the legs handed in (as the Bridge counted them)

    @property
    def legs(self) -> list[str]:
        return list(self._legs)

    def __contains__(self, leg_id: object) -> bool:
        return leg_id in self._legs

    def dropped(self, leg_id: str) -> int:
        """Inbound frames of `leg_id` dropped because the tick did not keep up."""
        return self._legs[leg_id].dropped

    def mode(self, leg_id: str) -> Mode:
        return self._legs[leg_id].mode

    def add_leg(
        self, leg_id: str, sink: AudioSink, sample_rate: int | None = None,
        mode: Mode | str = SPEAK_AND_HEAR,
    ) -> None:
        """Join a leg (also while the mixer runs): from the next tick it hears and is heard
        as `mode` says (default: by everyone)."""
        if leg_id in self._legs:
            raise ValueError(f"leg {leg_id!r} is already in the mixer")
        rate = sample_rate or self.sample_rate
        leg = _Leg(sink, rate, self._check_mode(leg_id, mode))
        if rate != self.sample_rate:
            leg.to_mix = Resampler(rate, self.sample_rate)
            leg.from_mix = Resampler(self.sample_rate, rate)
        self._legs[leg_id] = leg
        self._invalidate()

    def remove_leg(self, leg_id: str) -> None:
        """Take a leg out; a leg whispering to it now speaks to nobody (it still hears)."""
        self._legs.pop(leg_id)
        self._blocked = {p for p in self._blocked if leg_id not in p}
        self._invalidate()

    def set_mode(self, leg_id: str, mode: Mode | str) -> None:
        """Switch a leg's mode from the next tick (listen -> whisper -> barge mid-call)."""
        if leg_id not in self._legs:
            raise KeyError(leg_id)
        self._legs[leg_id].mode = self._check_mode(leg_id, mode)
        self._invalidate()

    def _check_mode(self, leg_id: str, mode: Mode | str) -> Mode:
        parsed = Mode.parse(mode) if isinstance(mode, str) else mode
        if parsed.kind == "whisper":
            if parsed.to == leg_id:
                raise ValueError(f"leg {leg_id!r} cannot whisper to itself")
            if parsed.to not in self._legs:
                raise KeyError(parsed.to)
        return parsed

    def set_hears(self, listener: str, speaker: str, hears: bool) -> None:
        """Whether `listener` may hear `speaker` (within what `speaker`'s mode allows; a leg
        never hears itself)."""
        for leg_id in (listener, speaker):
            if leg_id not in self._legs:
                raise KeyError(leg_id)
        (self._blocked.discard if hears else self._blocked.add)((listener, speaker))
        self._invalidate()

    def listen_only(self, leg_id: str) -> None:
        """`leg_id` hears everyone and nobody hears it (supervisor listen, or mute)."""
        self.set_mode(leg_id, HEAR_ONLY)

    def whisper(self, leg_id: str, to: str) -> None:
        """`leg_id` hears everyone; only `to` hears it (supervisor coaching an agent)."""
        self.set_mode(leg_id, Mode("whisper", to))

    def hears(self, listener: str, speaker: str) -> bool:
        """Whether `listener` hears `speaker` now."""
        if (listener, speaker) in self._blocked:
            return False
        return self._legs[speaker].mode.heard_by(speaker, listener)

    def feed(self, leg_id: str, frame: AudioFrame) -> None:
        """Audio from `leg_id`, held until the next tick (oldest dropped beyond 60 ms); while
        the plan is pure routing, forwarded at once to whoever hears it."""
        leg = self._legs[leg_id]
        self.frames_forwarded += 1
        if self._plan is None:
            # Decide now whether this is pure routing: a frame buffered for a mix the plan
            # then finds it need not make would be one frame late or lost.
            self._make_plan()
        if leg.routed:
            for sink in leg.direct_to:
                sink.write(frame)
            return
        if leg.to_mix is not None or len(frame.samples) != self._n:
            pcm = frame.samples if leg.to_mix is None else leg.to_mix.process(frame.samples)
            if len(pcm) != self._n:
                pcm = pcm[: self._n] if len(pcm) > self._n else np.pad(
                    pcm, (0, self._n - len(pcm)))
            frame = AudioFrame(pcm, self.sample_rate, frame.timestamp)
        inbound = leg.inbound
        if len(inbound) == MAX_BUFFERED_FRAMES:
            leg.dropped += 1
        inbound.append(frame)

    def _invalidate(self) -> None:
        """Membership or modes changed: the plan is worked out again when next needed."""
        self._plan = None
        for leg in self._legs.values():
            leg.routed = False

    def _make_plan(self) -> _Plan:
        ids = tuple(self._legs)
        legs = tuple(self._legs[i] for i in ids)
        hears = tuple(
            tuple(s for s, speaker in enumerate(ids) if self.hears(listener, speaker))
            for listener in ids)
        speaking = tuple(sorted({s for h in hears for s in h}))
        # A leg is "in the total" when every other leg hears it.
        in_total = tuple(
            all(self.hears(other, speaker) for other in ids if other != speaker)
            for speaker in ids)
        total = {s for s, t in enumerate(in_total) if t}
        everyone = tuple(set(h) == total - {i} for i, h in enumerate(hears))
        single = tuple(h[0] if len(h) == 1 and leg.from_mix is None else -1
                       for h, leg in zip(hears, legs, strict=True))
        direct = self._forward and all(len(h) <= 1 for h in hears) and all(
            leg.from_mix is None and leg.to_mix is None for leg in legs)
        for s, leg in enumerate(legs):
            leg.direct_to = tuple(
                legs[i].sink for i, h in enumerate(hears) if s in h) if direct else ()
            leg.routed = direct
            if direct:
                # What waited for a mix goes on as it would have: in order, not dropped.
                for waiting in leg.inbound:
                    for sink in leg.direct_to:
                        sink.write(waiting)
                leg.inbound.clear()
        plan = _Plan(ids, legs, hears, everyone, speaking, in_total, single, direct)
        self._plan = plan
        return plan

    def tick(self) -> None:
        """Mix one 20 ms frame and write it to every leg.

        A listener hearing exactly one speaker gets that speaker's frame object as it came
        (bit-exact, no copy: it keeps the speaker's timestamp; sinks that need a continuous
        stream restamp, as `FrameQueue` does). Any other frame is stamped per leg.
        """
        plan = self._plan or self._make_plan()
        legs = plan.legs
        if not legs or plan.direct:
            return
        self.ticks += 1
        frames: list[AudioFrame | None] = []
        for leg in legs:
            inbound = leg.inbound
            if inbound:
                frames.append(inbound.popleft())
            else:
                frames.append(None)
                self.underruns += 1
        total: npt.NDArray[np.int32] | None = None
        wide: npt.NDArray[np.int32]
        n = self._n
        single = plan.single
        for i, leg in enumerate(legs):
            one = single[i]
            if one >= 0:
                only = frames[one]
                if only is not None:
                    leg.sink.write(only)
                    leg.timestamp += n
                    continue
            sources = plan.hears[i]
            heard = [f.samples for f in (frames[s] for s in sources) if f is not None]
            pcm: Pcm
            if not heard:
                pcm = self._silence
            elif len(heard) == 1:
                pcm = heard[0]
            else:
                if plan.everyone[i] and len(sources) > 3:
                    if total is None:
                        total = self._total(plan, frames)
                    own = frames[i]
                    wide = total
                    if own is not None and plan.speaks_to_all[i]:
                        wide = np.subtract(total, own.samples, dtype=np.int32)
                else:
                    wide = heard[0].astype(np.int32)
                    for more in heard[1:]:
                        np.add(wide, more, out=wide)
                pcm = np.clip(wide, -32768, 32767, out=wide).astype(np.int16)
            if leg.from_mix is not None:
                pcm = leg.from_mix.process(pcm)
            leg.sink.write(AudioFrame(pcm, leg.rate, leg.timestamp))
            leg.timestamp += len(pcm)

    def _total(self, plan: _Plan, frames: list[AudioFrame | None]) -> npt.NDArray[np.int32]:
        """The sum of every frame all listeners hear (the room's total)."""
        total: npt.NDArray[np.int32] = np.zeros(self._n, np.int32)
        for f, counted in zip(frames, plan.speaks_to_all, strict=True):
            if counted and f is not None:
                np.add(total, f.samples, out=total)
        return total


class PulledMix(FrameQueue):
    """One leg's queue of mixed frames out of a `Mixer` driven by its legs' own ticks: the
    mixer's sink for that leg (`write`) and what the leg plays (`next_frame`).

    A party that pulls and finds its queue empty runs the mixer's tick first, so the first
    leg the media ticker visits each 20 ms mixes for all of them and the others find their
    frame waiting: one mix per tick with no clock of the mixer's own. Like any `FrameQueue`
    it restamps what it hands out and plays silence when there is nothing.
    """

    def __init__(self, mixer: Mixer, sample_rate: int = 8000,
                 max_frames: int = DEFAULT_MAX_FRAMES) -> None:
        super().__init__(sample_rate, max_frames)
        self.mixer = mixer

    def next_frame(self) -> AudioFrame | None:
        # FrameQueue.next_frame inlined: this runs per party per tick, and a call through
        # the base class made the two-party call ~10% dearer than the Bridge (bench/mixer.py).
        if self._closed:
            return None
        frames = self._frames
        if not frames:
            self.mixer.tick()
        if frames:
            frame = frames.popleft()
        else:
            self.underruns += 1
            frame = AudioFrame(self._silence, self.sample_rate)
        out = AudioFrame(frame.samples, frame.sample_rate, self._timestamp)
        self._timestamp += len(frame.samples)
        return out
