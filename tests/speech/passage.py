"""A 40-second passage of real human speech with its references and where each sentence is.

Debian's pocketsphinx-testdata has no single recording that long, so the passage strings
together every utterance it ships with a reference transcript, in a fixed order: the five
librivox sentences (read speech, one reader), the five `cards` utterances and `goforward`
(other speakers). Between utterances there is `GAP_S` of digital silence on top of the quiet
each clip already has at its ends, so the pauses are a reader's (0.6-1.0 s), not long gaps.

Each `Sentence` knows where its speech is in the passage (`start`/`end`, seconds): the first
and last 10 ms window of its clip louder than `SPEECH_DBFS` (the clips' noise floor is
-44 to -53 dBFS, speech peaks at -7 to -21), plus the clip's offset. Tests compare
transcript times against these.

Used by tests/speech and bench/transcribe_passage.py; everything is int16 mono.
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.frames import Pcm
from media.resample import resample

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
GAP_S = 0.3
SPEECH_DBFS = -35.0
RATE = 16000  # every clip is 16 kHz


@dataclass(frozen=True)
class Sentence:
    """One utterance of the passage: its reference words and where its speech lies."""

    name: str
    reference: str
    start: float
    end: float


@dataclass(frozen=True)
class Passage:
    """The passage's audio (at `rate`) and its sentences in order."""

    pcm: Pcm
    rate: int
    sentences: list[Sentence]

    @property
    def seconds(self) -> float:
        return len(self.pcm) / self.rate

    @property
    def reference(self) -> str:
        return " ".join(s.reference for s in self.sentences)


def _transcripts(path: Path) -> dict[str, str]:
    """`<s> words </s> (id)` lines → {id: words}."""
    refs: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*(.*?)\s*\(([^)]+)\)\s*$", line)
        if m:
            words = m.group(1).replace("<s>", " ").replace("</s>", " ")
            refs[m.group(2)] = " ".join(words.split())
    return refs


def _read16k(path: Path) -> Pcm:
    if path.suffix == ".raw":  # headerless 16 kHz 16-bit little-endian mono
        return np.fromfile(path, dtype="<i2").astype(np.int16)
    with wave.open(str(path), "rb") as w:
        if (w.getsampwidth(), w.getnchannels(), w.getframerate()) != (2, 1, RATE):
            raise ValueError(f"{path}: expected 16-bit mono 16 kHz")
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def clips() -> list[tuple[str, Path, str]]:
    """(name, audio file, reference) of every utterance the passage uses, in its order."""
    librivox = _transcripts(TESTDATA / "librivox" / "transcription")
    cards = _transcripts(TESTDATA / "cards" / "cards.transcription")
    out = [(n, TESTDATA / "librivox" / f"{n}.wav", r) for n, r in sorted(librivox.items())]
    out += [(f"cards-{n}", TESTDATA / "cards" / f"{n}.wav", r) for n, r in sorted(cards.items())]
    # pocketsphinx's own tests decode goforward.raw as this sentence (goforward.gram/.kws).
    out.append(("goforward", TESTDATA / "goforward.raw", "go forward ten meters"))
    missing = [str(p) for _, p, _ in out if not p.is_file()]
    if missing or len(out) < 11:
        raise FileNotFoundError(f"pocketsphinx-testdata incomplete: missing {missing}")
    return out


def speech_span(pcm: Pcm, rate: int) -> tuple[float, float]:
    """First and last 10 ms window of `pcm` louder than SPEECH_DBFS, in seconds."""
    win = rate // 100
    n = len(pcm) // win
    frames = pcm[: n * win].astype(np.float64).reshape(n, win)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.nonzero(rms > 32768.0 * 10 ** (SPEECH_DBFS / 20))[0]
    if len(loud) == 0:
        raise ValueError("no speech in clip")
    return float(loud[0] * win / rate), float((loud[-1] + 1) * win / rate)


def passage(rate: int = 8000, gap_s: float = GAP_S) -> Passage:
    """The passage at `rate` (8000 or 16000 Hz)."""
    parts: list[Pcm] = []
    sentences: list[Sentence] = []
    at = 0
    gap = np.zeros(int(gap_s * RATE), np.int16)
    for name, path, reference in clips():
        pcm = _read16k(path)
        s, e = speech_span(pcm, RATE)
        sentences.append(Sentence(name, reference, (at / RATE) + s, (at / RATE) + e))
        parts += [pcm, gap]
        at += len(pcm) + len(gap)
    whole = np.concatenate(parts)
    if rate != RATE:
        whole = resample(whole, RATE, rate)
    return Passage(whole, rate, sentences)


def write_wav(path: Path, pcm: Pcm, rate: int) -> Path:
    """`pcm` as a 16-bit mono WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path
