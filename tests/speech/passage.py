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

`check_transcript()` holds a transcript (timed segments) against the passage: every sentence
appears once, in order, with times within a tolerance of where it is.

Used by tests/speech, tests/e2e and bench/transcribe_passage.py; everything is int16 mono.
"""

from __future__ import annotations

import re
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from media.asr.wer import normalize
from media.frames import Pcm
from media.resample import resample

TESTDATA = Path("/usr/share/pocketsphinx/test/data")
GAP_S = 0.3
SPEECH_DBFS = -35.0
# Sentences this short need one word right to count as there (see check_transcript).
SHORT_WORDS = 4
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


@dataclass(frozen=True)
class Segment:
    """A timed piece of transcript (a line of `centralita transcribe`, a stored segment)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class SentenceMatch:
    """How one sentence of the passage came out: words found exactly, which segments."""

    sentence: Sentence
    words: int
    hits: int
    segments: tuple[int, ...]


def _align(ref: list[str], hyp: list[str]) -> list[tuple[int | None, int | None]]:
    """Levenshtein alignment: (ref index, hyp index) pairs; None on the missing side."""
    n, m = len(ref), len(hyp)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]))
    pairs: list[tuple[int | None, int | None]] = []
    i, j = n, m
    while i or j:
        if i and j and d[i][j] == d[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif i and d[i][j] == d[i - 1][j] + 1:
            pairs.append((i - 1, None))
            i -= 1
        else:
            pairs.append((None, j - 1))
            j -= 1
    return pairs[::-1]


def match_sentences(p: Passage, segments: list[Segment]) -> tuple[list[SentenceMatch], int]:
    """Each sentence's words aligned to the transcript's, and the number of words the
    transcript has that no sentence accounts for (insertions: a repeated sentence shows up
    here)."""
    ref = [(w, si) for si, s in enumerate(p.sentences) for w in normalize(s.reference)]
    hyp = [(w, gi) for gi, seg in enumerate(segments) for w in normalize(seg.text)]
    hits = [0] * len(p.sentences)
    touched: list[set[int]] = [set() for _ in p.sentences]
    inserted = 0
    for ri, hj in _align([w for w, _ in ref], [w for w, _ in hyp]):
        if ri is None:
            inserted += 1
            continue
        if hj is None:
            continue
        si = ref[ri][1]
        touched[si].add(hyp[hj][1])
        hits[si] += ref[ri][0] == hyp[hj][0]
    counts = [len(normalize(s.reference)) for s in p.sentences]
    matches = [SentenceMatch(s, counts[i], hits[i], tuple(sorted(touched[i])))
               for i, s in enumerate(p.sentences)]
    return matches, inserted


def check_transcript(
    p: Passage, segments: list[Segment], tolerance_s: float = 1.0, min_hits: float = 0.5,
    max_inserted: int = 3,
) -> list[str]:
    """What is wrong with `segments` as a transcript of the passage (empty: nothing).

    * every sentence appears: at least `min_hits` of its words exactly (one word for a
      sentence of at most `SHORT_WORDS`), in order (the alignment is monotonic), and once (at
      most `max_inserted` words unaccounted for). The short ones are the `cards` recordings,
      where tiny.en through 8 kHz misreads a word or two from one run to the next ("four
      queen of clubs" came out as "4, we have close" in one SIP call of four); a sentence
      that was dropped finds no word at all, and one placed elsewhere fails the times;
    * its times: a sentence that opens a segment starts within `tolerance_s` of the
      segment's start, one that closes a segment ends within `tolerance_s` of its end, and a
      sentence inside a segment lies within the segment (give or take `tolerance_s`).
    """
    matches, inserted = match_sentences(p, segments)
    problems: list[str] = []
    if inserted > max_inserted:
        problems.append(f"{inserted} words in the transcript match no sentence (repeated?)")
    first_of: dict[int, int] = {}
    last_of: dict[int, int] = {}
    for i, m in enumerate(matches):
        for g in m.segments:
            first_of.setdefault(g, i)
            last_of[g] = i
    for i, m in enumerate(matches):
        s = m.sentence
        needed = 1 if m.words <= SHORT_WORDS else min_hits * m.words
        if m.hits < needed:
            problems.append(f"{s.name}: {m.hits}/{m.words} words found")
            continue
        first, last = segments[m.segments[0]], segments[m.segments[-1]]
        if first_of[m.segments[0]] == i:
            if abs(first.start - s.start) > tolerance_s:
                problems.append(f"{s.name}: starts at {s.start:.2f} s, its segment at "
                                f"{first.start:.2f} s")
        elif not first.start - tolerance_s <= s.start <= first.end + tolerance_s:
            problems.append(f"{s.name}: starts at {s.start:.2f} s, outside its segment "
                            f"{first.start:.2f}-{first.end:.2f} s")
        if last_of[m.segments[-1]] == i:
            if abs(last.end - s.end) > tolerance_s:
                problems.append(f"{s.name}: ends at {s.end:.2f} s, its segment at "
                                f"{last.end:.2f} s")
        elif not last.start - tolerance_s <= s.end <= last.end + tolerance_s:
            problems.append(f"{s.name}: ends at {s.end:.2f} s, outside its segment "
                            f"{last.start:.2f}-{last.end:.2f} s")
    return problems
