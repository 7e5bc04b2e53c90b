"""The live pool's decode windows (media.asr.whisper.WhisperEngine.features): the speech plus
at least TAIL_PAD of silence, MIN_WINDOW at the least, FULL_WINDOW at the most; the mel
spectrogram computed over the speech and one silent frame (media.asr.whisper.log_mel) equals
the fully padded window's bit for bit, with OpenBLAS on one thread (as the engine runs it)
and on its default threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest

from media.asr.whisper import (
    FULL_WINDOW,
    HOP,
    MIN_WINDOW,
    TAIL_PAD,
    WhisperEngine,
    one_blas_thread,
)
from tests.speech.audio import LIBRIVOX, librivox_recordings, read_wav

pytestmark = pytest.mark.skipif(
    not LIBRIVOX.is_dir(), reason="apt-get install pocketsphinx-testdata"
)


@pytest.fixture(scope="module")
def model() -> SimpleNamespace:
    from faster_whisper.feature_extractor import FeatureExtractor  # type: ignore[import-untyped]

    return SimpleNamespace(feature_extractor=FeatureExtractor())


def padded_window(model: SimpleNamespace, audio: np.ndarray, window: int) -> np.ndarray:
    """What faster-whisper's extractor gives for the whole window, silence included."""
    full = np.zeros(window * HOP, np.float32)
    n = min(len(audio), len(full))
    full[:n] = audio[:n].astype(np.float32) / 32768.0
    out: np.ndarray = model.feature_extractor(full)[:, :window]
    return out


@pytest.mark.parametrize("seconds", [0.6, 4.0, 29.0])
def test_the_window_is_the_speech_and_its_tail(model: SimpleNamespace, seconds: float) -> None:
    audio = np.zeros(int(seconds * 16000), np.int16)
    audio[::7] = 3000  # not silence
    feats = WhisperEngine.features(model, audio)
    frames = len(audio) // HOP
    assert feats.shape == (80, min(FULL_WINDOW, max(MIN_WINDOW, frames + TAIL_PAD)))


def window_of(audio: np.ndarray) -> int:
    return min(FULL_WINDOW, max(MIN_WINDOW, len(audio) // HOP + TAIL_PAD))


def cuts() -> list[np.ndarray]:
    """Recorded speech cut at many lengths: none, a few samples (shorter than the STFT's
    reflection), about a frame, whole clips, and past 30 s (the window's cap)."""
    clips = [read_wav(rec.path)[0] for rec in librivox_recordings()]
    rng = np.random.default_rng(16)
    out = [clips[0][:n] for n in (0, 1, 2, 150, 199, 200, 201, 202, 401, 560, 4960, 5100)]
    out += clips
    for _ in range(40):
        clip = clips[int(rng.integers(len(clips)))]
        start = int(rng.integers(0, len(clip) - 1))
        out.append(clip[start : int(rng.integers(start + 1, len(clip) + 1))])
    joined = np.concatenate(clips * 3)
    out += [joined[: int(s * 16000)] for s in (26.9, 27.0, 27.2, 29.5, 30.0, 31.0)]
    out.append((rng.standard_normal(48000) * 4000).astype(np.int16))  # loud noise
    return out


def test_the_spectrogram_over_the_speech_is_the_padded_windows(model: SimpleNamespace) -> None:
    audios = cuts()

    def on_one_blas_thread(audio: np.ndarray) -> np.ndarray:
        one_blas_thread()
        return padded_window(model, audio, window_of(audio))

    # The extractor as our engine runs it (transcribe_loop): OpenBLAS on the calling thread.
    with ThreadPoolExecutor(1) as pool:
        expected = list(pool.map(on_one_blas_thread, audios))
    # And as faster-whisper alone would: a fresh thread, OpenBLAS's default threads.
    with ThreadPoolExecutor(1) as pool:
        threaded = list(pool.map(lambda a: padded_window(model, a, window_of(a)), audios))
    for audio, want, spread in zip(audios, expected, threaded, strict=True):
        got = WhisperEngine.features(model, audio)
        assert got.shape == want.shape, len(audio)
        assert np.array_equal(got, want), (len(audio), float(np.abs(got - want).max()))
        assert np.array_equal(got, spread), (len(audio), float(np.abs(got - spread).max()))
