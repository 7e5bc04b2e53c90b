"""Prompt player, music on hold, tones."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from media.dtmf_inband import DtmfDetector
from media.frames import AudioFrame
from media.player import (
    PROMPTS_DIR,
    Player,
    ToneGenerator,
    WavFormatError,
    load_prompt,
    read_wav,
    ringback,
    silence,
)


def frames_of(player: Player | ToneGenerator, limit: int = 10_000) -> list[AudioFrame]:
    out: list[AudioFrame] = []
    while (f := player.next_frame()) is not None and len(out) < limit:
        out.append(f)
    return out


def write_wav(path: Path, pcm: np.ndarray, rate: int, channels: int = 1) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def test_shipped_prompts_are_small_8k_mono() -> None:
    for name in ("welcome.wav", "moh.wav"):
        path = PROMPTS_DIR / name
        pcm, rate = read_wav(path)
        assert rate == 8000 and len(pcm) > 8000 * 2
        assert path.stat().st_size < 100_000
        assert np.abs(pcm.astype(np.int32)).max() > 2000  # not silent


def test_plays_whole_prompt_in_20ms_frames_padding_the_last() -> None:
    pcm = np.arange(1, 401, dtype=np.int16)
    frames = frames_of(Player(pcm, 8000))
    assert [len(f.samples) for f in frames] == [160, 160, 160]
    assert [f.timestamp for f in frames] == [0, 160, 320]
    joined = np.concatenate([f.samples for f in frames])
    assert np.array_equal(joined[:400], pcm) and not joined[400:].any()


def test_loop_wraps_seamlessly() -> None:
    pcm = np.arange(1, 251, dtype=np.int16)
    player = Player(pcm, 8000, loop=True)
    frames = [player.next_frame() for _ in range(5)]
    joined = np.concatenate([f.samples for f in frames if f is not None])
    assert np.array_equal(joined, np.tile(pcm, 4)[:800])
    assert not player.done


def test_interrupt_stops_on_the_next_frame() -> None:
    player = Player.from_wav(PROMPTS_DIR / "moh.wav", 8000, loop=True)
    assert player.next_frame() is not None
    player.interrupt()
    assert player.next_frame() is None and player.done


def test_from_wav_resamples_and_caches(tmp_path: Path) -> None:
    t = np.arange(16000) / 16000
    write_wav(tmp_path / "a.wav", 8000 * np.sin(2 * np.pi * 500 * t), 16000)
    at8 = load_prompt(tmp_path / "a.wav", 8000)
    assert len(at8) == 8000 and load_prompt(tmp_path / "a.wav", 8000) is at8
    assert not at8.flags.writeable
    frames = frames_of(Player.from_wav(tmp_path / "a.wav", 16000))
    assert len(frames) == 50 and all(f.sample_rate == 16000 for f in frames)


def test_bad_wavs_say_what_is_wrong(tmp_path: Path) -> None:
    write_wav(tmp_path / "st.wav", np.zeros(200), 8000, channels=2)
    with pytest.raises(WavFormatError, match="2 channel"):
        read_wav(tmp_path / "st.wav")
    write_wav(tmp_path / "cd.wav", np.zeros(200), 44100)
    with pytest.raises(WavFormatError, match="44100"):
        read_wav(tmp_path / "cd.wav")
    (tmp_path / "junk.wav").write_bytes(b"not a wav")
    with pytest.raises(WavFormatError, match="junk.wav"):
        read_wav(tmp_path / "junk.wav")


def test_tone_generator_cadence_and_continuity() -> None:
    gen = ToneGenerator((1000.0,), 8000, cadence_ms=(100, 100), duration_ms=400)
    frames = frames_of(gen)
    assert len(frames) == 20
    on = [bool(f.samples.any()) for f in frames]
    assert on == ([True] * 5 + [False] * 5) * 2
    # Phase-continuous across frames: no jump larger than the sine's own slope.
    y = np.concatenate([f.samples for f in frames[:5]]).astype(np.int32)
    assert np.abs(np.diff(y)).max() <= 2 * np.pi * 1000 / 8000 * 32767 * 10 ** (-16 / 20) + 2


def test_generated_dtmf_is_detected_and_ringback_is_not() -> None:
    det = DtmfDetector()
    key = ToneGenerator((770.0, 1336.0), 8000, level_dbfs=-10, duration_ms=100)
    events = [e for f in frames_of(key) for e in det.feed(f.samples)]
    events += det.feed(silence(8000).samples) + det.feed(silence(8000).samples)
    assert [e.digit for e in events] == ["5"]
    rb = ringback(8000)
    det = DtmfDetector()
    assert not [e for _ in range(300) if (f := rb.next_frame()) for e in det.feed(f.samples)]
