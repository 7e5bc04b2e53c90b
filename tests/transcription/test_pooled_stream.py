"""The pooled whisper stream's backlog: live it drops the oldest utterance past its bound
(counted in frames), written with `write()` it drops nothing. A scripted pool stands in for
the whisper workers (the real pool is tests/transcription/test_whisper_call.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from media.frames import AudioFrame
from media.vad import Utterance, VadConfig
from voice.utterance_pool import MAX_PENDING_UTTERANCES, PooledStream

RATE = 8000
UTTERANCES = MAX_PENDING_UTTERANCES + 4


class ScriptedPool:
    """`submit()` answers "u<N>" for the N-th utterance after `delay` seconds."""

    vad = "webrtc"
    vad_config = VadConfig(hangover_ms=300)

    def __init__(self, delay: float = 0.002) -> None:
        self.delay = delay
        self.submitted = 0

    def submit(
        self, utt: Utterance, rate: int, priority: float, hints: tuple[str, ...] = ()
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        self.submitted += 1
        text = f"u{self.submitted}"

        def answer() -> None:
            if not fut.done():  # the stream may have given up on it
                fut.set_result((text, 0.9))

        loop.call_later(self.delay, answer)
        return fut


def frames() -> list[AudioFrame]:
    """UTTERANCES bursts of noise loud enough for webrtcvad, 0.5 s apart."""
    rng = np.random.default_rng(7)
    out: list[AudioFrame] = []
    for _ in range(UTTERANCES):
        loud = rng.normal(0, 6000, int(0.4 * RATE)).clip(-32768, 32767).astype(np.int16)
        for chunk in (loud, np.zeros(int(0.5 * RATE), np.int16)):
            for i in range(0, len(chunk), 160):
                out.append(AudioFrame(chunk[i : i + 160], RATE, len(out) * 160))
    return out


async def test_live_backlog_drops_the_oldest_utterance_and_counts_its_frames() -> None:
    stream = PooledStream(ScriptedPool(), RATE)  # type: ignore[arg-type]
    for f in frames():  # nobody reads meanwhile
        stream.push_frame(f)
    stream.end_input()
    texts = [r.text async for r in stream]
    assert stream.dropped_finals == UTTERANCES - MAX_PENDING_UTTERANCES
    assert len(texts) == MAX_PENDING_UTTERANCES
    assert stream.dropped_frames >= stream.dropped_finals * 20  # ≥ 0.4 s each
    await stream.aclose()


async def test_written_at_the_readers_pace_nothing_is_dropped() -> None:
    stream = PooledStream(ScriptedPool(), RATE)  # type: ignore[arg-type]

    async def write_all() -> None:
        for f in frames():
            await stream.write(f)
        stream.end_input()

    writer = asyncio.create_task(write_all())
    await asyncio.sleep(0.05)  # a reader that starts late
    texts = [r.text async for r in stream]
    await writer
    assert texts == [f"u{i}" for i in range(1, UTTERANCES + 1)]
    assert stream.dropped_finals == 0 and stream.dropped_frames == 0
    await stream.aclose()
