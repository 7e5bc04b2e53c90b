"""Phrase hints: a menu's expected words, spoken by espeak-ng through the 8 kHz telephone band,
are heard as those words by the live whisper pool when the stream carries them as hints, and
are not without them. Measured here (tiny.en): "billing" at 175 words a minute with no lead
silence comes out "Really?", at 200 "feeling." (the issue's), "payment" after half a second
of silence "David." (175) or "Hey, man." (200); hinted, all four are heard (sometimes twice,
"billing, billing,": the comma list echoes; the menu's matcher does not mind). After half a
second of silence "billing" alone is heard unhinted too, so those cases are not used.

The audio goes the way a call's does: 8 kHz, 300-3400 Hz band, 20 ms frames through the pool's
VAD and short-window batched decode (voice.utterance_pool), then the gather's PhraseMatcher.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ivr.media.phrases import PhraseMatcher
from media.asr.vosk_engine import grammar
from media.frames import AudioFrame
from voice.transcription import open_stream
from voice.utterance_pool import UtterancePool

RATE = 8000
MENU = PhraseMatcher({
    "billing": ["billing", "invoice", "payment"], "support": ["support", "help"],
})
# name: (text, espeak-ng words a minute, seconds of silence before)
SPOKEN = {
    "billing_175": ("billing", 175, 0.0), "billing_200": ("billing", 200, 0.0),
    "payment_175": ("payment", 175, 0.5), "payment_200": ("payment", 200, 0.5),
}


def telephone_wav(text: str, path: Path, speed: int = 175, lead: float = 0.5) -> np.ndarray:
    """espeak-ng's `text` as 8 kHz mono 16-bit through a 300-3400 Hz band, `lead` seconds
    of silence before and 0.8 s after (the VAD needs an end)."""
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is needed for this test (Debian package)")
    raw = path.with_suffix(".22k.wav")
    subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(raw), text], check=True,
                   timeout=60)
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(path),
         "sinc", "300-3400", "pad", str(lead), "0.8"],
        check=True, timeout=60, capture_output=True,
    )
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


def frames(pcm: np.ndarray) -> Iterator[AudioFrame]:
    for i in range(0, len(pcm) - 159, 160):
        yield AudioFrame(pcm[i : i + 160].copy(), RATE, i)


@pytest.fixture(scope="module")
def pool() -> Iterator[UtterancePool]:
    p = UtterancePool(workers=1)
    p.load()
    yield p
    p.close()


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    d = tmp_path_factory.mktemp("hints")
    return {name: telephone_wav(text, d / f"{name}.wav", speed, lead)
            for name, (text, speed, lead) in SPOKEN.items()}


async def heard(pool: UtterancePool, pcm: np.ndarray, hints: tuple[str, ...]) -> str:
    """Everything the pool heard in `pcm`, pushed as a call's 20 ms frames."""
    stream = open_stream(pool.stream, RATE, hints)
    for f in frames(pcm):
        stream.push_frame(f)
    stream.end_input()
    texts = [r.text async for r in stream]
    await stream.aclose()
    return " ".join(texts)


@pytest.mark.parametrize("name", sorted(SPOKEN))
async def test_hinted_menu_word_is_heard(
    pool: UtterancePool, audio: dict[str, np.ndarray], name: str
) -> None:
    choice = "billing"
    without = await heard(pool, audio[name], ())
    hinted = await heard(pool, audio[name], MENU.hints)
    print(f"{name}: without hints {without!r}, with hints {hinted!r}")
    assert MENU.match(without) is None, f"unhinted already heard {choice}: test proves nothing"
    assert MENU.match(hinted) == choice


async def test_streams_with_different_hints_share_the_pool(
    pool: UtterancePool, audio: dict[str, np.ndarray]
) -> None:
    """Two calls at once, one hinted and one not: each gets its own prompt (a batch holds
    one kind), so the hinted call hears billing and the other is not changed by it."""
    hinted, plain = await asyncio.gather(
        heard(pool, audio["billing_175"], MENU.hints), heard(pool, audio["billing_175"], ()),
    )
    assert MENU.match(hinted) == "billing"
    assert MENU.match(plain) is None


def test_menu_hints_keep_every_phrase_once() -> None:
    m = PhraseMatcher({"a": ["billing", " invoice "], "b": ["billing", "help"]})
    assert m.hints == ("billing", "invoice", "help")


def test_vosk_grammar_is_the_phrases_and_unk() -> None:
    assert grammar(("Billing", "support", " ")) == '["billing", "support", "[unk]"]'
    assert grammar(()) is None


def noise(kind: str) -> np.ndarray:
    """Half a second of silence, `kind` of line noise, a second of silence."""
    rng = np.random.default_rng(1)
    if kind == "hum":
        t = np.arange(8000) / RATE
        x = (3000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    else:
        amp, seconds = {"soft": (1000, 1.0), "medium": (3000, 0.4), "loud": (8000, 0.8)}[kind]
        x = rng.normal(0, amp, int(seconds * RATE)).clip(-32768, 32767).astype(np.int16)
    return np.concatenate([np.zeros(4000, np.int16), x, np.zeros(8000, np.int16)])


@pytest.mark.parametrize("kind", ["soft", "medium", "loud", "hum"])
async def test_hints_never_make_line_noise_a_menu_choice(pool: UtterancePool, kind: str) -> None:
    """A prompt of hints invites whisper to say them: noise must still choose nothing. (Loud
    white noise came out "I'm not a fan of the game." hinted, nothing unhinted: hints make
    whisper more talkative on noise, but not into a choice.)"""
    hinted = await heard(pool, noise(kind), MENU.hints)
    print(f"{kind} noise, hinted: {hinted!r}")
    assert MENU.match(hinted) is None
