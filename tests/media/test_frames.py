"""Frame dataclasses: validation, value equality, masking."""

from __future__ import annotations

import numpy as np
import pytest

from media.frames import (
    AudioFrame,
    ControlFrame,
    DataFrame,
    DtmfFrame,
    EndFrame,
    InterruptFrame,
    SilenceFrame,
    StartFrame,
    samples_per_frame,
)


def test_audio_frame_validates_rate_and_dtype() -> None:
    AudioFrame(np.zeros(160, dtype=np.int16), 8000)
    with pytest.raises(ValueError):
        AudioFrame(np.zeros(160, dtype=np.int16), 44100)
    with pytest.raises(ValueError):
        AudioFrame(np.zeros(160, dtype=np.float32), 8000)  # type: ignore[arg-type,unused-ignore]
    with pytest.raises(ValueError):
        AudioFrame(np.zeros((2, 80), dtype=np.int16), 8000)


def test_audio_frames_compare_by_value() -> None:
    a = AudioFrame(np.arange(160, dtype=np.int16), 8000, 160)
    assert a == AudioFrame(np.arange(160, dtype=np.int16), 8000, 160)
    assert a != AudioFrame(np.arange(160, dtype=np.int16), 8000, 320)
    assert a.duration_ms == 20.0


def test_silence_frame_expands_to_zeros() -> None:
    audio = SilenceFrame(20, 16000, 640).to_audio()
    assert audio == AudioFrame(np.zeros(320, dtype=np.int16), 16000, 640)
    assert samples_per_frame(8000) == 160


def test_dtmf_frame_checks_digit_and_masks_repr() -> None:
    f = DtmfFrame("5", 80, "inband")
    assert "5" not in repr(f)
    with pytest.raises(ValueError):
        DtmfFrame("x")


def test_families() -> None:
    for c in (StartFrame(), EndFrame(), InterruptFrame()):
        assert isinstance(c, ControlFrame)
    for d in (SilenceFrame(), DtmfFrame("1")):
        assert isinstance(d, DataFrame)
