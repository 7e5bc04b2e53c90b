"""Resampling: frequency kept, aliases and images suppressed, chunks join seamlessly."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from media.frames import AudioFrame, Frame
from media.resample import ResampleProcessor, Resampler, resample
from tests.media.utils import audio_frames, join_audio, run_processor


def sine(freq: float, rate: int, seconds: float = 1.0, amp: float = 10000) -> npt.NDArray[np.int16]:
    t = np.arange(int(rate * seconds)) / rate
    return np.rint(amp * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def spectrum_db(x: npt.NDArray[np.int16], rate: int) -> tuple[npt.NDArray[np.float64], float]:
    """Level (dB re the strongest bin) per Hz, and the frequency of that bin."""
    w = np.hanning(len(x))
    mag = np.abs(np.fft.rfft(x * w))
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    db = 20 * np.log10(mag / mag.max() + 1e-15)
    return db, float(freqs[np.argmax(mag)])


def rms(x: npt.NDArray[np.int16]) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)))


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3000.0])
def test_up_keeps_frequency_and_level_and_suppresses_the_image(freq: float) -> None:
    x = sine(freq, 8000)
    y = resample(x, 8000, 16000)
    assert len(y) == 2 * len(x)
    db, peak = spectrum_db(y[200:], 16000)  # skip the filter's start-up
    assert peak == pytest.approx(freq, abs=2)
    image = int(8000 - freq)
    assert db[image - 5 : image + 6].max() < -60
    assert rms(y[200:]) == pytest.approx(rms(x), rel=0.02)


@pytest.mark.parametrize("freq", [300.0, 1000.0, 3000.0])
def test_down_keeps_frequency_and_level(freq: float) -> None:
    x = sine(freq, 16000)
    y = resample(x, 16000, 8000)
    assert len(y) == len(x) // 2
    _, peak = spectrum_db(y[100:], 8000)
    assert peak == pytest.approx(freq, abs=2)
    assert rms(y[100:]) == pytest.approx(rms(x), rel=0.02)


@pytest.mark.parametrize("freq", [5000.0, 6000.0, 7500.0])
def test_down_attenuates_what_would_alias(freq: float) -> None:
    x = sine(freq, 16000)
    y = resample(x, 16000, 8000)
    # Would fold to 8000 - freq; the filter must have removed it first.
    assert rms(y[100:]) < rms(x) * 10 ** (-70 / 20)


def test_twenty_ms_chunks_equal_one_piece() -> None:
    rng = np.random.default_rng(3)
    for src, dst in ((8000, 16000), (16000, 8000)):
        x = (sine(440, src) + rng.normal(0, 300, src).astype(np.int16)).astype(np.int16)
        whole = resample(x, src, dst)
        r = Resampler(src, dst)
        n = src // 50
        chunked = np.concatenate([r.process(x[i : i + n]) for i in range(0, len(x), n)])
        assert np.array_equal(chunked, whole)


def test_odd_chunks_keep_decimation_phase() -> None:
    x = sine(700, 16000, 0.1)
    whole = resample(x, 16000, 8000)
    r = Resampler(16000, 8000)
    cuts = [0, 7, 160, 161, 500, 999, len(x)]
    parts = [r.process(x[a:b]) for a, b in zip(cuts, cuts[1:], strict=False)]
    assert np.array_equal(np.concatenate(parts), whole)


def test_no_click_at_joins() -> None:
    # A smooth sine, resampled frame by frame, stays smooth: no sample-to-sample jump bigger
    # than the sine's own steepest slope (plus rounding).
    x = sine(1000, 8000)
    r = Resampler(8000, 16000)
    y = np.concatenate([r.process(x[i : i + 160]) for i in range(0, len(x), 160)])
    max_step = 2 * np.pi * 1000 / 16000 * 10000
    assert np.abs(np.diff(y[100:].astype(np.int32))).max() <= max_step + 2


def test_full_scale_saturates_instead_of_wrapping() -> None:
    x = np.where(np.arange(800) % 80 < 40, 32767, -32768).astype(np.int16)
    y = resample(x, 8000, 16000)
    assert y.dtype == np.int16
    # Overshoot (Gibbs) is clipped: the square wave's sign pattern survives.
    assert (np.sign(y[200:1400:160].astype(int)) != 0).all()


def test_rejects_other_rates() -> None:
    with pytest.raises(ValueError):
        Resampler(44100, 8000)
    with pytest.raises(ValueError):
        Resampler(8000, 16000).process_frame(AudioFrame(np.zeros(320, np.int16), 16000))


async def test_processor_converts_audio_and_timestamps_and_passes_the_rest() -> None:
    frames: list[Frame] = list(audio_frames(sine(1000, 8000, 0.2), 8000))
    out = await run_processor(ResampleProcessor(16000), frames)
    assert all(isinstance(f, AudioFrame) and f.sample_rate == 16000 for f in out)
    assert [f.timestamp for f in out if isinstance(f, AudioFrame)] == [320 * i for i in range(10)]
    assert np.array_equal(join_audio(out), resample(sine(1000, 8000, 0.2), 8000, 16000))
    same = await run_processor(ResampleProcessor(8000), frames)
    assert same == frames
