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
    inbound: deque[Pcm] = field(default_factory=lambda: deque(maxlen=MAX_BUFFERED_FRAMES))
    to_mix: Resampler | None = None
    from_mix: Resampler | None = None
    timestamp: int = 0
    dropped: int = 0


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


class Mixer:
    """N legs mixed on a 20 ms tick; each hears the legs its mode and `set_hears` allow."""

    def __init__(self, sample_rate: int = 8000) -> None:
        self.sample_rate = sample_rate
        self._n = samples_per_frame(sample_rate)
        self._legs: dict[str, _Leg] = {}
        # (listener, speaker) pairs cut on top of what the modes allow.
        self._blocked: set[tuple[str, str]] = set()
        self._plan: _Plan | None = None
        self._silence: Pcm = np.zeros(self._n, np.int16)
        self.underruns = 0
        self.ticks = 0

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
        self._plan = None

    def remove_leg(self, leg_id: str) -> None:
        """Take a leg out; a leg whispering to it now speaks to nobody (it still hears)."""
        self._legs.pop(leg_id)
        self._blocked = {p for p in self._blocked if leg_id not in p}
        self._plan = None

    def set_mode(self, leg_id: str, mode: Mode | str) -> None:
        """Switch a leg's mode from the next tick (listen -> whisper -> barge mid-call)."""
        if leg_id not in self._legs:
            raise KeyError(leg_id)
        self._legs[leg_id].mode = self._check_mode(leg_id, mode)
        self._plan = None

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
        self._plan = None

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
        """Audio from `leg_id`, held until the next tick (oldest dropped beyond 60 ms)."""
        leg = self._legs[leg_id]
        pcm = frame.samples
        if leg.to_mix is not None:
            pcm = leg.to_mix.process(pcm)
        if len(pcm) != self._n:
            pcm = np.resize(pcm, self._n) if len(pcm) > self._n else np.pad(
                pcm, (0, self._n - len(pcm)))
        if len(leg.inbound) == leg.inbound.maxlen:
            leg.dropped += 1
        leg.inbound.append(pcm)

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
        plan = _Plan(ids, legs, hears, everyone, speaking, in_total)
        self._plan = plan
        return plan

    def tick(self) -> None:
        """Mix one 20 ms frame and write it to every leg."""
        plan = self._plan or self._make_plan()
        if not plan.ids:
            return
        self.ticks += 1
        frames: list[Pcm | None] = []
        heard: list[Pcm]
        for leg in plan.legs:
            if leg.inbound:
                frames.append(leg.inbound.popleft())
            else:
                frames.append(None)
                self.underruns += 1
        total: npt.NDArray[np.int32] | None = None
        wide: npt.NDArray[np.int32]
        for i, leg in enumerate(plan.legs):
            heard = [f for f in (frames[s] for s in plan.hears[i]) if f is not None]
            pcm: Pcm
            if not heard:
                pcm = self._silence
            elif len(heard) == 1:
                pcm = heard[0]
            else:
                if plan.everyone[i] and len(plan.hears[i]) > 3:
                    if total is None:
                        total = self._total(plan, frames)
                    own = frames[i]
                    wide = total
                    if own is not None and plan.speaks_to_all[i]:
                        wide = np.subtract(total, own, dtype=np.int32)
                else:
                    wide = np.sum(np.stack(heard), axis=0, dtype=np.int32)
                pcm = np.clip(wide, -32768, 32767).astype(np.int16)
            if leg.from_mix is not None:
                pcm = leg.from_mix.process(pcm)
            leg.sink.write(AudioFrame(pcm, leg.rate, leg.timestamp))
            leg.timestamp += len(pcm)

    def _total(self, plan: _Plan, frames: list[Pcm | None]) -> npt.NDArray[np.int32]:
        parts = [f for f, t in zip(frames, plan.speaks_to_all, strict=True)
                 if t and f is not None]
        if not parts:
            return np.zeros(self._n, np.int32)
        total: npt.NDArray[np.int32] = np.sum(np.stack(parts), axis=0, dtype=np.int32)
        return total


class PulledMix:
    """One leg's `AudioSource` out of a `Mixer` driven by its legs' own ticks.

    Each party plays its `PulledMix`; the mixer writes every party's frame into that party's
    queue. A party that pulls and finds its queue empty runs the mixer's tick first, so the
    first leg the media ticker visits each 20 ms mixes for all of them and the others find
    their frame waiting: one mix per tick with no clock of the mixer's own.
    """

    def __init__(self, mixer: Mixer, queue: FrameQueueLike) -> None:
        self.mixer = mixer
        self.queue = queue

    def next_frame(self) -> AudioFrame | None:
        if not len(self.queue):
            self.mixer.tick()
        return self.queue.next_frame()


class FrameQueueLike(Protocol):
    """What `PulledMix` needs of its queue (`media.frame_queue.FrameQueue`)."""

    def __len__(self) -> int: ...

    def write(self, frame: AudioFrame) -> None: ...

    def next_frame(self) -> AudioFrame | None: ...
