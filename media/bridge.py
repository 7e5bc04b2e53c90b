"""Joining legs: a two-party `Bridge` and an N-party `Mixer`.

Legs are abstract here. Each leg is an `AudioSink` (`write(frame)`: audio to play to that
party); whoever receives a leg's audio hands it in with `feed(leg_id, frame)`.

* `Bridge` forwards each frame to the other leg as it arrives: no added latency, no clock, and
  the audio is bit-exact when both legs run at the same rate.
* `Mixer` buffers a few frames per leg and, on each 20 ms `tick()` (it is a `MediaTicker`
  member), sends every leg the saturating int16 sum of the legs it may hear. Who hears whom is
  a matrix, so a conference (everyone hears everyone else), supervisor listen (hears all,
  heard by none), whisper (heard by the agent only) and barge (a full member) are all just
  rows and columns of it.
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


@dataclass(slots=True)
class _Leg:
    sink: AudioSink
    rate: int
    inbound: deque[Pcm] = field(default_factory=lambda: deque(maxlen=MAX_BUFFERED_FRAMES))
    to_mix: Resampler | None = None
    from_mix: Resampler | None = None
    timestamp: int = 0
    dropped: int = 0


class Mixer:
    """N legs mixed on the 20 ms tick; by default each leg hears all the others."""

    def __init__(self, sample_rate: int = 8000) -> None:
        self.sample_rate = sample_rate
        self._n = samples_per_frame(sample_rate)
        self._legs: dict[str, _Leg] = {}
        # (listener, speaker) pairs cut from the default of everyone hearing everyone else.
        self._blocked: set[tuple[str, str]] = set()
        self.underruns = 0

    @property
    def legs(self) -> list[str]:
        return list(self._legs)

    def dropped(self, leg_id: str) -> int:
        """Inbound frames of `leg_id` dropped because the tick did not keep up."""
        return self._legs[leg_id].dropped

    def add_leg(self, leg_id: str, sink: AudioSink, sample_rate: int | None = None) -> None:
        """Join a leg; it hears and is heard by everyone until told otherwise."""
        if leg_id in self._legs:
            raise ValueError(f"leg {leg_id!r} is already in the mixer")
        rate = sample_rate or self.sample_rate
        leg = _Leg(sink, rate)
        if rate != self.sample_rate:
            leg.to_mix = Resampler(rate, self.sample_rate)
            leg.from_mix = Resampler(self.sample_rate, rate)
        self._legs[leg_id] = leg

    def remove_leg(self, leg_id: str) -> None:
        self._legs.pop(leg_id)
        self._blocked = {p for p in self._blocked if leg_id not in p}

    def set_hears(self, listener: str, speaker: str, hears: bool) -> None:
        """Whether `listener` hears `speaker` (a leg never hears itself)."""
        for leg_id in (listener, speaker):
            if leg_id not in self._legs:
                raise KeyError(leg_id)
        (self._blocked.discard if hears else self._blocked.add)((listener, speaker))

    def listen_only(self, leg_id: str) -> None:
        """`leg_id` hears everyone and nobody hears it (supervisor listen, or mute)."""
        for other in self._legs:
            if other != leg_id:
                self.set_hears(other, leg_id, False)

    def whisper(self, leg_id: str, to: str) -> None:
        """`leg_id` hears everyone; only `to` hears it (supervisor coaching an agent)."""
        self.listen_only(leg_id)
        self.set_hears(to, leg_id, True)

    def feed(self, leg_id: str, frame: AudioFrame) -> None:
        """Audio from `leg_id`, held until the next tick (oldest dropped beyond 60 ms)."""
        leg = self._legs[leg_id]
        pcm = frame.samples
        if leg.to_mix is not None:
            pcm = leg.to_mix.process(pcm)
        if len(leg.inbound) == leg.inbound.maxlen:
            leg.dropped += 1
        leg.inbound.append(pcm)

    def tick(self) -> None:
        """Mix one 20 ms frame and write it to every leg."""
        ids = list(self._legs)
        if not ids:
            return
        speech = np.zeros((len(ids), self._n), dtype=np.int32)
        for i, leg_id in enumerate(ids):
            leg = self._legs[leg_id]
            if leg.inbound:
                pcm = leg.inbound.popleft()
                k = min(len(pcm), self._n)
                speech[i, :k] = pcm[:k]
            else:
                self.underruns += 1
        mixed = self._matrix(ids) @ speech
        out = np.clip(mixed, -32768, 32767).astype(np.int16)
        for i, leg_id in enumerate(ids):
            leg = self._legs[leg_id]
            pcm = out[i] if leg.from_mix is None else leg.from_mix.process(out[i])
            leg.sink.write(AudioFrame(pcm, leg.rate, leg.timestamp))
            leg.timestamp += len(pcm)

    def _matrix(self, ids: list[str]) -> npt.NDArray[np.int32]:
        m = np.ones((len(ids), len(ids)), dtype=np.int32)
        np.fill_diagonal(m, 0)
        if self._blocked:
            index = {leg_id: i for i, leg_id in enumerate(ids)}
            for listener, speaker in self._blocked:
                m[index[listener], index[speaker]] = 0
        return m
