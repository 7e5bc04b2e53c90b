"""What a caller heard, from its recording (8 kHz): the stretches of sound, which of them are
the music on hold, where an agent's tone starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tests.pjsua.audio import RATE, Samples, aligned_correlation, dominant_frequency

FRAME = 160  # 20 ms at 8 kHz
LOUD = 500.0  # frame RMS above this is sound (speech and music are in the thousands)
MOH = Path(__file__).resolve().parents[2] / "media" / "prompts" / "moh.wav"


def frame_levels(x: Samples) -> Samples:
    """RMS of each 20 ms frame."""
    frames = x[: len(x) // FRAME * FRAME].reshape(-1, FRAME)
    levels: Samples = np.sqrt(np.mean(frames**2, axis=1))
    return levels


def runs(flags: list[bool] | np.ndarray[Any, Any], step: float, *,
         bridge: float) -> list[tuple[float, float]]:
    """(start, end) seconds of the runs of true flags, joining runs less than `bridge` apart
    (the pauses between words)."""
    out: list[tuple[float, float]] = []
    for i, flag in enumerate(flags):
        if not flag:
            continue
        t = i * step
        if out and t - out[-1][1] < bridge:
            out[-1] = (out[-1][0], t + step)
        else:
            out.append((t, t + step))
    return out


def bursts(x: Samples) -> list[tuple[float, float]]:
    """The stretches of sound in a recording, in seconds from its start."""
    return runs(frame_levels(x) > LOUD, FRAME / RATE, bridge=1.0)


def music_windows(x: Samples, music: Samples, window: int = 800) -> list[bool]:
    """Per 100 ms window: is it a piece of `music` (looped), whatever the offset?"""
    looped = np.concatenate([music, music])
    flags = []
    for start in range(0, len(x) - window + 1, window):
        piece = x[start:start + window]
        if np.sqrt(np.mean(piece**2)) < LOUD:
            flags.append(False)
            continue
        score, _ = aligned_correlation(piece, looped)
        flags.append(score > 0.8)
    return flags


def tone_onset(x: Samples, freq: float) -> float:
    """Seconds into the recording where the agent's tone starts: the first stretch of sound,
    which must be that tone."""
    found = bursts(x)
    assert found, "silence all along"
    start, end = found[0]
    piece = x[round(start * RATE):round(end * RATE)]
    assert abs(dominant_frequency(piece) - freq) < 20, (found, dominant_frequency(piece))
    return start
