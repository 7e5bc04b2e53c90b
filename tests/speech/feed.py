"""Drive an ASR stream the way the media path does: 20 ms frames, then end of input."""

from __future__ import annotations

import pytest

from media.asr.base import AsrEngine, ModelNotFoundError, TranscriptResult
from media.asr.models import package_dir
from media.frames import AudioFrame, Pcm, samples_per_frame


async def transcribe_pcm(engine: AsrEngine, pcm: Pcm, rate: int) -> list[TranscriptResult]:
    """Every result the engine gives for `pcm`, pushed as 20 ms frames."""
    stream = engine.stream(rate)
    n = samples_per_frame(rate)
    try:
        for i in range(0, len(pcm) - n + 1, n):
            stream.push_frame(AudioFrame(pcm[i : i + n], rate, i))
        stream.end_input()
        return [r async for r in stream]
    finally:
        await stream.aclose()


def require_package(package: str, pip_name: str) -> None:
    """Skip (naming what to install) when a model wheel is missing."""
    try:
        package_dir(package, pip_name)
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))
