"""Test audio made with real tools: espeak-ng speech, sox noise, and Debian's recorded speech.

Shared by the speech tests and the benches. Everything is int16 mono at 8 or 16 kHz.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.frames import Pcm

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
LIBRIVOX = TESTDATA / "librivox"


def have_tools() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def read_wav(path: Path) -> tuple[Pcm, int]:
    """int16 mono samples and rate of a WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono")
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)
    return pcm, rate


def _sox_to_pcm(inputs: list[str], rate: int, effects: list[str] | None = None) -> Pcm:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.wav"
        subprocess.run(
            ["sox", *inputs, "-r", str(rate), "-c", "1", "-b", "16", "-e", "signed-integer",
             str(out), *(effects or [])],
            check=True, capture_output=True,
        )
        pcm, _ = read_wav(out)
    return pcm


def speak(text: str, rate: int, voice: str = "en-us", speed: int = 160) -> Pcm:
    """`text` spoken by espeak-ng, resampled by sox to `rate`."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text],
            check=True, capture_output=True,
        )
        return _sox_to_pcm([str(raw)], rate)


def scale_to_dbfs(pcm: Pcm, dbfs: float) -> Pcm:
    """`pcm` scaled so its RMS is `dbfs` relative to full scale (32768)."""
    x = pcm.astype(np.float64)
    target = 32768.0 * 10 ** (dbfs / 20)
    x *= target / max(1e-9, float(np.sqrt(np.mean(x**2))))
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def white_noise(seconds: float, rate: int, dbfs: float = -20.0) -> Pcm:
    """sox `synth whitenoise`, scaled to an RMS of `dbfs`."""
    pcm = _sox_to_pcm(["-n"], rate, ["synth", str(seconds), "whitenoise", "vol", "0.3"])
    return scale_to_dbfs(pcm, dbfs)


def mix(a: Pcm, b: Pcm) -> Pcm:
    """Sample-wise sum of two signals (the shorter one padded with silence), clipped."""
    n = max(len(a), len(b))
    out = np.zeros(n, dtype=np.int32)
    out[: len(a)] += a
    out[: len(b)] += b
    return np.clip(out, -32768, 32767).astype(np.int16)


def silence(seconds: float, rate: int) -> Pcm:
    return np.zeros(int(round(seconds * rate)), dtype=np.int16)


def speech_bounds(pcm: Pcm, rate: int, floor_dbfs: float = -45.0) -> tuple[float, float]:
    """First and last 10 ms window whose RMS is above `floor_dbfs`: the ground truth of
    where synthetic speech (which sits on digital silence) begins and ends."""
    win = rate // 100
    n = len(pcm) // win
    frames = pcm[: n * win].astype(np.float64).reshape(n, win)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.nonzero(rms > 32768.0 * 10 ** (floor_dbfs / 20))[0]
    if len(loud) == 0:
        raise ValueError("no speech in signal")
    return float(loud[0] * win / rate), float((loud[-1] + 1) * win / rate)


@dataclass(frozen=True)
class Recording:
    """A recorded human utterance with its reference transcript."""

    name: str
    path: Path
    reference: str


def librivox_recordings() -> list[Recording]:
    """The read-speech utterances of Debian's pocketsphinx-testdata with their references."""
    refs: dict[str, str] = {}
    for line in (LIBRIVOX / "transcription").read_text().splitlines():
        m = re.match(r"\s*(.*?)\s*\(([^)]+)\)\s*$", line)
        if m:
            words = m.group(1).replace("<s>", " ").replace("</s>", " ")
            refs[m.group(2)] = " ".join(words.split())
    return [
        Recording(name, LIBRIVOX / f"{name}.wav", refs[name])
        for name in sorted(refs)
        if (LIBRIVOX / f"{name}.wav").is_file()
    ]
