"""Audio sources for a leg: WAV prompts, music on hold, tones and silence.

Sources are pulled, not pushed: the leg's 20 ms tick asks `next_frame()` for exactly one frame,
so a prompt can never run ahead of the clock or pile up in a queue, and stopping one
(`interrupt()`, e.g. on barge-in) takes effect on the very next tick.
"""

from __future__ import annotations

import wave
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from media.codecs.g711 import ALAW_ENCODE, ULAW_ENCODE, G711Codec
from media.frames import FRAME_MS, SAMPLE_RATES, AudioFrame, Pcm, samples_per_frame
from media.resample import resample

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"


class WavFormatError(ValueError):
    """A prompt file that is not 8/16 kHz mono 16-bit PCM WAV (says which and why)."""


class AudioSource(Protocol):
    """Something a leg plays: one frame per tick, None once it has finished."""

    def next_frame(self) -> AudioFrame | None: ...


def read_wav(path: str | Path) -> tuple[Pcm, int]:
    """The samples and rate of a mono 16-bit PCM WAV at 8 or 16 kHz."""
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise WavFormatError(f"{path}: not a PCM WAV file ({exc})") from exc
    if channels != 1 or width != 2 or rate not in SAMPLE_RATES:
        raise WavFormatError(
            f"{path}: need mono 16-bit at 8000 or 16000 Hz, got {channels} channel(s), "
            f"{8 * width}-bit, {rate} Hz"
        )
    pcm: Pcm = np.frombuffer(raw, dtype="<i2").astype(np.int16)
    return pcm, rate


@lru_cache(maxsize=64)
def load_prompt(path: str | Path, sample_rate: int) -> Pcm:
    """A prompt's samples at `sample_rate`, read and resampled once per process.

    Hundreds of calls on hold share one read-only array instead of one copy each.
    """
    pcm, rate = read_wav(path)
    if rate != sample_rate:
        pcm = resample(pcm, rate, sample_rate)
    pcm.flags.writeable = False
    return pcm


# Encoded prompts kept per (array, law). G.711 codes each sample on its own, so slicing the
# encoded prompt gives exactly the bytes per-frame encoding would, at no cost per frame.
# Bounded like `load_prompt`; each entry holds its array so the id cannot be reused meanwhile.
_ENCODED_MAX = 64
_encoded: OrderedDict[tuple[int, str], tuple[Pcm, bytes]] = OrderedDict()


def encoded_prompt(samples: Pcm, law: str) -> bytes:
    """The whole of a read-only 8 kHz prompt as G.711 code bytes ("PCMU" or "PCMA"), cached."""
    key = (id(samples), law)
    hit = _encoded.get(key)
    if hit is not None and hit[0] is samples:
        _encoded.move_to_end(key)
        return hit[1]
    table = ULAW_ENCODE if law == "PCMU" else ALAW_ENCODE
    data = table[samples.view(np.uint16)].tobytes()
    _encoded[key] = (samples, data)
    if len(_encoded) > _ENCODED_MAX:
        _encoded.popitem(last=False)
    return data


class Player:
    """Plays samples as 20 ms `AudioFrame`s: once (last frame zero-padded) or looping.

    A loop wraps seamlessly — the frame that crosses the end continues with the start —
    because a gap of padding every few seconds is audible in music on hold.
    """

    def __init__(
        self, samples: Pcm, sample_rate: int, *, loop: bool = False, frame_ms: int = FRAME_MS
    ) -> None:
        if loop and len(samples) == 0:
            raise ValueError("cannot loop an empty prompt")
        self.samples = samples
        self.sample_rate = sample_rate
        self.loop = loop
        self._n = samples_per_frame(sample_rate, frame_ms)
        self._pos = 0
        self._timestamp = 0
        self._stopped = False

    @classmethod
    def from_wav(cls, path: str | Path, sample_rate: int, *, loop: bool = False) -> Player:
        """A player for a WAV file, resampled to the call's rate."""
        return cls(load_prompt(path, sample_rate), sample_rate, loop=loop)

    @property
    def done(self) -> bool:
        return self._stopped or (not self.loop and self._pos >= len(self.samples))

    def interrupt(self) -> None:
        """Stop now: the next `next_frame()` returns None."""
        self._stopped = True

    def can_encode(self, codec: G711Codec) -> bool:
        """Whether `next_encoded(codec)` may be used: a shared read-only prompt at its rate.

        A writable array may change under the player, so it is encoded frame by frame.
        """
        return not self.samples.flags.writeable and self.sample_rate == codec.sample_rate

    def next_encoded(self, codec: G711Codec) -> bytes | None:
        """The next 20 ms already encoded for `codec`; the same bytes as encoding
        `next_frame()`, advancing the same position. None once finished or interrupted."""
        if self.done:
            return None
        data = encoded_prompt(self.samples, codec.name)
        n, total, pos = self._n, len(data), self._pos
        end = pos + n
        if end <= total:
            out = data[pos:end]
            self._pos = end % total if self.loop else end
        elif self.loop:
            out = (data[pos:] + data * (n // total + 1))[:n]
            self._pos = end % total
        else:
            silent = (ULAW_ENCODE if codec.name == "PCMU" else ALAW_ENCODE)[0]
            out = data[pos:] + bytes([int(silent)]) * (end - total)
            self._pos = total
        self._timestamp += n
        return out

    def next_frame(self) -> AudioFrame | None:
        """The next 20 ms, or None once finished or interrupted."""
        if self.done:
            return None
        n, total = self._n, len(self.samples)
        end = self._pos + n
        if end <= total:
            chunk = self.samples[self._pos : end].copy()
            self._pos = end % total if self.loop else end
        elif self.loop:
            idx = np.arange(self._pos, end) % total
            chunk = self.samples[idx]
            self._pos = end % total
        else:
            chunk = np.zeros(n, dtype=np.int16)
            chunk[: total - self._pos] = self.samples[self._pos :]
            self._pos = total
        frame = AudioFrame(chunk, self.sample_rate, self._timestamp)
        self._timestamp += n
        return frame


class ToneGenerator:
    """Sums of sines with an on/off cadence (ringback, busy, beeps), phase-continuous.

    `cadence_ms` is (on, off); (0, 0) means steady. Endless unless `duration_ms` is given.
    """

    def __init__(
        self,
        freqs: tuple[float, ...],
        sample_rate: int,
        *,
        level_dbfs: float = -16.0,
        cadence_ms: tuple[int, int] = (0, 0),
        duration_ms: int | None = None,
    ) -> None:
        self.freqs = np.asarray(freqs, dtype=np.float64)
        self.sample_rate = sample_rate
        self._amp = 32767 * 10 ** (level_dbfs / 20)
        on, off = cadence_ms
        self._period = (on + off) * sample_rate // 1000
        self._on = on * sample_rate // 1000
        self._limit = None if duration_ms is None else duration_ms * sample_rate // 1000
        self._n = samples_per_frame(sample_rate)
        self._t = 0
        self._stopped = False

    def interrupt(self) -> None:
        self._stopped = True

    def next_frame(self) -> AudioFrame | None:
        if self._stopped or (self._limit is not None and self._t >= self._limit):
            return None
        idx = np.arange(self._t, self._t + self._n)
        phases = 2 * np.pi * np.outer(idx, self.freqs) / self.sample_rate
        y: npt.NDArray[np.float64] = self._amp * np.sin(phases).sum(axis=1)
        if self._period:
            y[(idx % self._period) >= self._on] = 0.0
        if self._limit is not None:
            y[idx >= self._limit] = 0.0
        frame = AudioFrame(np.rint(y).astype(np.int16), self.sample_rate, self._t)
        self._t += self._n
        return frame


def silence(sample_rate: int, timestamp: int = 0) -> AudioFrame:
    """One 20 ms frame of digital silence."""
    return AudioFrame(np.zeros(samples_per_frame(sample_rate), np.int16), sample_rate, timestamp)


def ringback(sample_rate: int) -> ToneGenerator:
    """North American ringback: 440 + 480 Hz, 2 s on, 4 s off."""
    return ToneGenerator((440.0, 480.0), sample_rate, level_dbfs=-19.0, cadence_ms=(2000, 4000))
