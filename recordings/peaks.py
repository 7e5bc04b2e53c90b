"""A recording's waveform: the loudest sample of each of `n` equal slices, per channel.

The review page draws it on a canvas (caller on top, agent below) and marks the paused
spans over it. Computed from the stored file (WAV while a call runs or before compression,
Opus in Ogg after) through PyAV, which decodes both; blocking (run it in a thread). Values
are 0..1 of full scale, rounded to three places (a few kilobytes of JSON for a long call).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import av
import numpy as np

MAX_PEAKS = 4000
CHANNELS = ("caller", "agent")


class PeaksError(Exception):
    """The file could not be decoded."""


@dataclass(frozen=True)
class Peaks:
    """`n` peaks per channel and the duration they span."""

    duration: float
    sample_rate: int
    channels: tuple[tuple[float, ...], ...]

    def to_json(self) -> dict[str, object]:
        return {"duration": self.duration, "sample_rate": self.sample_rate,
                "channels": {name: list(values)
                             for name, values in zip(CHANNELS, self.channels, strict=False)}}


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """The file's samples as float32 (channels x samples, -1..1) and their rate."""
    blocks: list[np.ndarray] = []
    rate = 0
    try:
        with av.open(io.BytesIO(data), "r") as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="fltp", layout=stream.layout.name)
            for frame in container.decode(stream):
                rate = frame.sample_rate
                for out in resampler.resample(frame):
                    blocks.append(out.to_ndarray())
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise PeaksError(f"cannot decode the recording ({type(exc).__name__})") from exc
    if not blocks:
        return np.zeros((1, 0), dtype=np.float32), rate or 8000
    return np.concatenate(blocks, axis=1).astype(np.float32, copy=False), rate


def peaks(data: bytes, n: int) -> Peaks:
    """`n` (1..MAX_PEAKS) peaks per channel of the recording in `data`."""
    if not 1 <= n <= MAX_PEAKS:
        raise ValueError(f"n must be 1..{MAX_PEAKS}, got {n}")
    samples, rate = decode(data)
    count = samples.shape[1]
    out: list[tuple[float, ...]] = []
    edges = np.linspace(0, count, n + 1).astype(np.int64)
    for channel in samples:
        magnitude = np.abs(channel)
        values = [float(magnitude[a:b].max()) if b > a else 0.0
                  for a, b in zip(edges[:-1], edges[1:], strict=True)]
        out.append(tuple(round(min(1.0, v), 3) for v in values))
    return Peaks(round(count / rate, 3) if rate else 0.0, rate, tuple(out))
