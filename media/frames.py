"""Frames: the units that flow through media processors (STYLE.md §3).

Two families, and the split is what ordering rests on:

* `ControlFrame` (`StartFrame`, `EndFrame`, `InterruptFrame`) steer the stream. They outrank
  data: a pipeline lets them overtake queued data frames, and an `InterruptFrame` (barge-in)
  throws queued data away.
* `DataFrame` (`AudioFrame`, `SilenceFrame`, `DtmfFrame`) carry content, strictly in order.

Audio is always signed 16-bit mono PCM at 8000 or 16000 Hz, normally 20 ms long.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

SAMPLE_RATES = (8000, 16000)
FRAME_MS = 20

Pcm = npt.NDArray[np.int16]
DtmfSource = Literal["rfc4733", "inband"]
DTMF_DIGITS = "0123456789*#ABCD"


def samples_per_frame(sample_rate: int, ms: int = FRAME_MS) -> int:
    """Number of samples in `ms` milliseconds at `sample_rate` (160 for 20 ms at 8 kHz)."""
    return sample_rate * ms // 1000


@dataclass(slots=True)
class Frame:
    """Base of every frame."""


@dataclass(slots=True)
class ControlFrame(Frame):
    """A frame that steers the stream; overtakes queued data frames."""


@dataclass(slots=True)
class DataFrame(Frame):
    """A frame with content; data frames keep their relative order."""


@dataclass(slots=True)
class StartFrame(ControlFrame):
    """The stream begins; carries the rate processors should expect."""

    sample_rate: int = 8000


@dataclass(slots=True)
class EndFrame(ControlFrame):
    """The stream ends: processors flush what they hold and push this on."""


@dataclass(slots=True)
class InterruptFrame(ControlFrame):
    """Barge-in: drop queued output (prompts being played) and carry on with new input."""


@dataclass(slots=True, eq=False)
class AudioFrame(DataFrame):
    """int16 mono PCM.

    `timestamp` counts samples at `sample_rate` from the start of the stream (RTP style), so
    gaps and reordering can be seen downstream; producers that do not know it leave 0.
    """

    samples: Pcm
    sample_rate: int = 8000
    timestamp: int = 0

    def __post_init__(self) -> None:
        if self.sample_rate not in SAMPLE_RATES:
            raise ValueError(f"sample_rate must be 8000 or 16000, got {self.sample_rate}")
        if self.samples.dtype != np.int16 or self.samples.ndim != 1:
            raise ValueError(
                f"samples must be 1-D int16, got {self.samples.dtype} ndim={self.samples.ndim}"
            )

    @property
    def duration_ms(self) -> float:
        return 1000.0 * len(self.samples) / self.sample_rate

    def __eq__(self, other: object) -> bool:
        # numpy's == is element-wise; frames compare by value, bit for bit.
        if not isinstance(other, AudioFrame):
            return NotImplemented
        return (
            self.sample_rate == other.sample_rate
            and self.timestamp == other.timestamp
            and np.array_equal(self.samples, other.samples)
        )


@dataclass(slots=True)
class SilenceFrame(DataFrame):
    """A stretch of silence without a buffer (comfort noise, DTX, a leg with nothing to say).

    `to_audio()` makes the equivalent `AudioFrame` for consumers that need samples.
    """

    duration_ms: int = FRAME_MS
    sample_rate: int = 8000
    timestamp: int = 0

    def to_audio(self) -> AudioFrame:
        n = samples_per_frame(self.sample_rate, self.duration_ms)
        return AudioFrame(np.zeros(n, dtype=np.int16), self.sample_rate, self.timestamp)


@dataclass(slots=True)
class DtmfFrame(DataFrame):
    """One key press. Digits are personal data: never log them (STYLE.md §12)."""

    digit: str
    duration_ms: int = 0
    source: DtmfSource = "rfc4733"

    def __post_init__(self) -> None:
        if len(self.digit) != 1 or self.digit not in DTMF_DIGITS:
            raise ValueError("digit must be one of 0-9 * # A-D")

    def __repr__(self) -> str:
        # Keep digits out of reprs that end up in logs and tracebacks.
        return f"DtmfFrame(digit=<masked>, duration_ms={self.duration_ms}, source={self.source!r})"
