"""`pocketsphinx` on recorded speech at 16 kHz: a rough but live transcript."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from media.asr.base import TranscriptResult
from media.asr.factory import create_engine
from media.asr.wer import wer
from media.frames import AudioFrame, samples_per_frame
from tests.speech.audio import LIBRIVOX, librivox_recordings, read_wav, silence
from tests.speech.feed import require_package, transcribe_pcm

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="apt-get install pocketsphinx-testdata"),
]


async def test_wer_at_16k() -> None:
    require_package("pocketsphinx", "pocketsphinx")
    engine = create_engine("pocketsphinx")
    refs, hyps = [], []
    try:
        for rec in librivox_recordings():
            pcm, _ = read_wav(rec.path)
            pcm = np.concatenate([silence(0.5, 16000), pcm, silence(1.0, 16000)])
            results = await transcribe_pcm(engine, pcm, 16000)
            refs.append(rec.reference)
            hyps.append(" ".join(r.text for r in results if r.is_final))
    finally:
        engine.close()
    error = wer(refs, hyps)
    print(f"pocketsphinx 16 kHz WER {error:.1%}")
    assert error <= 0.5  # design figure: 25-45%


async def test_partials_while_speaking_at_8k() -> None:
    require_package("pocketsphinx", "pocketsphinx")
    engine = create_engine("pocketsphinx")
    rec = librivox_recordings()[1]
    pcm16, _ = read_wav(rec.path)
    from media.resample import resample

    pcm = np.concatenate([silence(0.5, 8000), resample(pcm16, 16000, 8000), silence(1.0, 8000)])
    stream = engine.stream(8000)
    results: list[TranscriptResult] = []
    n = samples_per_frame(8000)
    try:
        for k, i in enumerate(range(0, len(pcm) - n + 1, n)):
            stream.push_frame(AudioFrame(pcm[i : i + n], 8000, i))
            if k % 5 == 4:
                # Paced at 0.4 of a live call: faster, and a worker that falls behind (a
                # loaded CI machine, seen once at real-time pace) by design skips partials.
                await asyncio.sleep(0.25)
        stream.end_input()
        results = [r async for r in stream]
    finally:
        await stream.aclose()
        engine.close()
    finals = [r for r in results if r.is_final]
    assert len(finals) == 1 and finals[0].text
    assert results.index(finals[0]) > 0, "no partial before the final"
