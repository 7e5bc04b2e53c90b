"""WAV generation (sox, espeak-ng) and analysis for the pjsua2 tests."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

RATE = 8000
Samples = npt.NDArray[np.float64]


def make_tone(path: Path, freq: float, seconds: float, volume: float = 0.5) -> Path:
    """Write an 8 kHz mono 16-bit sine tone with sox."""
    subprocess.run(
        [
            "sox",
            "-n",
            "-r",
            str(RATE),
            "-c",
            "1",
            "-b",
            "16",
            str(path),
            "synth",
            str(seconds),
            "sine",
            str(freq),
            "vol",
            str(volume),
        ],
        check=True,
        capture_output=True,
        timeout=20,
    )
    return path


def make_speech(path: Path, text: str) -> Path:
    """Write ``text`` spoken by espeak-ng, resampled by sox to 8 kHz mono 16-bit."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, capture_output=True, timeout=20)
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(path)],
        check=True,
        capture_output=True,
        timeout=20,
    )
    return path


def read_wav(path: Path) -> Samples:
    """Samples of a mono 16-bit WAV as floats; asserts the format pjsua2 should write."""
    with wave.open(str(path)) as w:
        assert w.getnchannels() == 1
        assert w.getsampwidth() == 2
        assert w.getframerate() == RATE
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def rms(x: Samples) -> float:
    """Root mean square level (full scale is 32768)."""
    return float(np.sqrt(np.mean(x**2))) if len(x) else 0.0


def loud_part(x: Samples, threshold: float = 1000.0, frame: int = 160) -> Samples:
    """The 20 ms frames whose RMS is above ``threshold``, concatenated."""
    frames = x[: len(x) // frame * frame].reshape(-1, frame)
    keep = np.sqrt(np.mean(frames**2, axis=1)) > threshold
    loud: Samples = frames[keep].reshape(-1)
    return loud


def dominant_frequency(x: Samples) -> float:
    """Frequency (Hz) of the strongest FFT bin of a Hann-windowed signal."""
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    spectrum[0] = 0.0
    return float(np.argmax(spectrum) * RATE / len(x))


def aligned_correlation(reference: Samples, recorded: Samples) -> tuple[float, int]:
    """Best normalized correlation of ``reference`` inside ``recorded``, and its lag."""
    n = len(reference)
    padded = np.concatenate([recorded, np.zeros(n)])
    size = 1 << int(np.ceil(np.log2(len(padded) + n)))
    xcorr = np.fft.irfft(np.fft.rfft(padded, size) * np.conj(np.fft.rfft(reference, size)), size)
    lag = int(np.argmax(xcorr[: len(recorded)]))
    window = padded[lag : lag + n]
    denom = np.linalg.norm(reference) * np.linalg.norm(window)
    return (float(np.dot(reference, window) / denom) if denom else 0.0), lag
