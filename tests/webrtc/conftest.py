"""Shared pieces of the WebRTC leg tests: a running media clock, tones, a frequency check."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt
import pytest

from media.ticker import MediaTicker


@pytest.fixture
async def ticker() -> AsyncIterator[MediaTicker]:
    clock = MediaTicker()
    await clock.start()
    yield clock
    await clock.stop()


def tone(freq: float, rate: int, seconds: float, amplitude: float = 6000.0
         ) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds))
    out: npt.NDArray[np.int16] = np.rint(amplitude * np.sin(2 * np.pi * freq * t / rate)
                                         ).astype(np.int16)
    return out


def rms(x: npt.NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def dominant_hz(x: npt.NDArray[np.int16], rate: int = 8000) -> float:
    """The strongest frequency of a signal (Hann-windowed FFT peak)."""
    spectrum = np.abs(np.fft.rfft(x.astype(np.float64) * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))
