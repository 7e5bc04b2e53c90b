"""Test helpers for frame processors (after pipecat's `tests/utils.run_test`)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from media.frames import AudioFrame, Frame
from media.pipeline import FrameProcessor, Pipeline


async def run_processor(processor: FrameProcessor, frames_in: Iterable[Frame]) -> list[Frame]:
    """Feed `frames_in` through `processor` alone; return everything it pushed, in order."""
    out: list[Frame] = []
    pipeline = Pipeline([processor], sink=out.append)
    for frame in frames_in:
        await pipeline.queue_frame(frame)
    return out


def audio_frames(samples: np.ndarray, sample_rate: int = 8000, ms: int = 20) -> list[AudioFrame]:
    """Cut a signal into `ms` frames (last one zero-padded), with sample timestamps."""
    n = sample_rate * ms // 1000
    pcm = np.asarray(samples, dtype=np.int16)
    pad = (-len(pcm)) % n
    pcm = np.concatenate([pcm, np.zeros(pad, dtype=np.int16)])
    return [AudioFrame(pcm[i : i + n].copy(), sample_rate, i) for i in range(0, len(pcm), n)]


def join_audio(frames: Iterable[Frame]) -> np.ndarray:
    """Concatenate the samples of the audio frames among `frames`."""
    parts = [f.samples for f in frames if isinstance(f, AudioFrame)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
