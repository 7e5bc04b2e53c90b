"""The engine-independent stream: ordering, errors re-raised, backpressure, ownership."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from media.asr.base import (
    MAX_PENDING_AUDIO_S,
    MAX_PENDING_RESULTS,
    WRITE_AHEAD_S,
    ModelNotFoundError,
    RecognitionError,
    Recognizer,
    RecognizerEngine,
    TranscriptResult,
)
from media.frames import AudioFrame, Pcm

RATE = 8000


def frame(i: int = 0) -> AudioFrame:
    return AudioFrame(np.full(160, i % 100, np.int16), RATE, i * 160)


class FakeRecognizer:
    """A partial after every chunk (if wanted), a final on flush; optional delay/failure."""

    def __init__(self, delay: float = 0.0, fail_after: int | None = None) -> None:
        self.samples = 0
        self.delay = delay
        self.fail_after = fail_after
        self.calls = 0
        self.closed = False
        self.busy = threading.Lock()

    def accept(self, pcm: Pcm, want_partial: bool) -> list[TranscriptResult]:
        with self.busy:
            self.calls += 1
            if self.fail_after is not None and self.calls > self.fail_after:
                raise OSError("decoder exploded")
            time.sleep(self.delay)
            self.samples += len(pcm)
            if not want_partial:
                return []
            return [TranscriptResult("partial", False, 0.0, self.samples / RATE, None, "fake")]

    def flush(self) -> list[TranscriptResult]:
        return [TranscriptResult("final", True, 0.0, self.samples / RATE, 1.0, "fake")]

    def close(self) -> None:
        assert self.busy.acquire(blocking=False), "close() while accept() runs"
        self.busy.release()
        self.closed = True


class FakeEngine(RecognizerEngine):
    name = "fake"

    def __init__(self, **kw: object) -> None:
        super().__init__(workers=2)
        self.kw = kw
        self.made: list[FakeRecognizer] = []

    def make_recognizer(self, sample_rate: int) -> Recognizer:
        if self.kw.get("missing"):
            raise ModelNotFoundError("no model here")
        rec = FakeRecognizer(**self.kw)  # type: ignore[arg-type]
        self.made.append(rec)
        return rec


async def test_results_in_order_and_iteration_ends() -> None:
    engine = FakeEngine()
    stream = engine.stream(RATE)
    stream.push_frame(frame(0))
    stream.flush()
    stream.push_frame(frame(1))
    stream.end_input()
    results = [r async for r in stream]
    assert [(r.text, r.end) for r in results] == [
        ("partial", 0.02), ("final", 0.02), ("partial", 0.04), ("final", 0.04),
    ]
    assert stream.finished and engine.made[0].closed
    with pytest.raises(RuntimeError):
        stream.push_frame(frame(2))
    engine.close()


async def test_worker_failure_is_reraised_after_earlier_results() -> None:
    engine = FakeEngine(fail_after=1)
    stream = engine.stream(RATE)
    stream.push_frame(frame(0))
    stream.flush()
    await asyncio.sleep(0.05)  # let the first chunk go through on its own
    stream.push_frame(frame(1))
    got: list[str] = []
    with pytest.raises(RecognitionError) as info:
        async for r in stream:
            got.append(r.text)
    assert got == ["partial", "final"]
    assert isinstance(info.value.__cause__, OSError)
    assert "decoder exploded" not in str(info.value)  # the cause carries it, not our message
    assert engine.made[0].closed
    engine.close()


async def test_missing_model_surfaces_on_first_read() -> None:
    engine = FakeEngine(missing=True)
    stream = engine.stream(RATE)
    with pytest.raises(RecognitionError) as info:
        await stream.__anext__()
    assert isinstance(info.value.__cause__, ModelNotFoundError)
    engine.close()


async def test_behind_worker_skips_partials_and_counts_them() -> None:
    engine = FakeEngine(delay=0.05)
    stream = engine.stream(RATE)
    for i in range(200):  # 4 s of audio at once: the worker is behind from the start
        stream.push_frame(frame(i))
    stream.end_input()
    results = [r async for r in stream]
    assert results[-1].is_final and results[-1].end == pytest.approx(4.0)
    assert stream.dropped_partials >= 1
    assert engine.made[0].calls < 200
    engine.close()


async def test_full_output_drops_partials_before_finals() -> None:
    engine = FakeEngine()
    stream = engine.stream(RATE)
    n = MAX_PENDING_RESULTS  # as many partials and finals each: twice what fits
    for i in range(n):
        stream.push_frame(frame(i))
        stream.flush()
        await asyncio.sleep(0.005)  # keep the worker caught up so it makes partials
    stream.end_input()
    await asyncio.wait_for(stream.join(), 5)
    results = [r async for r in stream]
    # n + 1 finals (end_input flushes once more) and up to n partials met a buffer of n:
    # every partial went first, then the oldest final.
    assert len(results) == MAX_PENDING_RESULTS
    assert all(r.is_final for r in results)
    assert results[-1].end == pytest.approx(n * 0.02)
    assert stream.dropped_partials >= n - 1 and stream.dropped_finals == 1
    engine.close()


async def test_aclose_cancels_and_waits_for_the_busy_call() -> None:
    engine = FakeEngine(delay=0.2)
    async with engine.stream(RATE) as stream:
        stream.push_frame(frame(0))
        await asyncio.sleep(0.05)
    assert stream.finished and engine.made[0].closed
    engine.close()


class SlowToMake(FakeEngine):
    """An engine whose recogniser takes a while to make (a model loading)."""

    def make_recognizer(self, sample_rate: int) -> Recognizer:
        time.sleep(0.3)
        return super().make_recognizer(sample_rate)


async def test_aclose_while_the_recognizer_is_being_made_still_closes_it() -> None:
    # Found by a loaded CI run of the test above: a cancel that came before make_recognizer
    # returned left the recogniser it made open for good.
    engine = SlowToMake()
    async with engine.stream(RATE) as stream:
        stream.push_frame(frame(0))
        await asyncio.sleep(0.05)
        assert not engine.made  # still being made when the stream closes
    assert stream.finished and len(engine.made) == 1 and engine.made[0].closed
    engine.close()


async def test_rate_mismatch_is_refused() -> None:
    engine = FakeEngine()
    stream = engine.stream(16000)
    with pytest.raises(ValueError):
        stream.push_frame(frame(0))
    await stream.aclose()
    engine.close()


class LoudRunRecognizer:
    """A final per run of loud audio, timed by counting the samples it is given (as the
    engines' VAD segmenters do); records the size of each chunk it gets."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.samples = 0
        self.start: int | None = None
        self.chunks: list[int] = []

    def accept(self, pcm: Pcm, want_partial: bool) -> list[TranscriptResult]:
        time.sleep(self.delay)
        self.chunks.append(len(pcm))
        out: list[TranscriptResult] = []
        for i in range(0, len(pcm), 160):
            loud = bool(np.abs(pcm[i : i + 160]).max() > 1000)
            if loud and self.start is None:
                self.start = self.samples
            elif not loud and self.start is not None:
                out.append(TranscriptResult("run", True, self.start / RATE, self.samples / RATE,
                                            1.0, "fake"))
                self.start = None
            self.samples += 160
        return out

    def flush(self) -> list[TranscriptResult]:
        return []

    def close(self) -> None:
        pass


class LoudRunEngine(RecognizerEngine):
    name = "loud"

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__(workers=1)
        self.delay = delay
        self.made: list[LoudRunRecognizer] = []

    def make_recognizer(self, sample_rate: int) -> Recognizer:
        rec = LoudRunRecognizer(self.delay)
        self.made.append(rec)
        return rec


def loud_at(seconds: float, loud: list[tuple[float, float]]) -> list[AudioFrame]:
    frames = []
    for i in range(int(seconds * 50)):
        t = i / 50
        level = 5000 if any(a <= t < b for a, b in loud) else 0
        frames.append(AudioFrame(np.full(160, level, np.int16), RATE, i * 160))
    return frames


async def test_live_stream_drops_oldest_audio_counts_it_and_keeps_times_true() -> None:
    engine = LoudRunEngine()
    stream = engine.stream(RATE)
    # 40 s at once, faster than any recogniser: past 30 s waiting, the oldest audio goes.
    for f in loud_at(40.0, [(2.0, 3.0), (36.0, 37.0)]):
        stream.push_frame(f)
    stream.end_input()
    results = [r async for r in stream]
    dropped_s = 40.0 - MAX_PENDING_AUDIO_S
    assert stream.dropped_frames == int(dropped_s * 50)
    assert stream.dropped_audio_s == pytest.approx(dropped_s)
    # The run at 2 s was in the dropped audio; the one at 36 s is still at 36 s (the
    # recogniser, which never saw the first 10 s, put it at 26 s).
    assert [(round(r.start, 2), round(r.end, 2)) for r in results] == [(36.0, 37.0)]
    engine.close()


async def test_lossless_stream_paces_the_writer_and_drops_nothing() -> None:
    engine = LoudRunEngine(delay=0.01)
    stream = engine.stream(RATE, lossless=True)
    runs = [(0.5 + i, 0.8 + i) for i in range(2 * MAX_PENDING_RESULTS)]  # more than fit

    async def write_all() -> None:
        for f in loud_at(len(runs) + 1.0, runs):
            await stream.write(f)
        stream.end_input()

    writer = asyncio.create_task(write_all())
    await asyncio.sleep(0.3)  # a reader that starts late: the worker waits for it
    results = [r async for r in stream]
    await writer
    assert [(round(r.start, 2), round(r.end, 2)) for r in results] == [
        (a, b) for a, b in runs
    ]
    assert stream.dropped_frames == 0 and stream.dropped_finals == 0
    # Never more than the write-ahead (plus the frame that crossed it) waited at once.
    assert max(engine.made[0].chunks) <= WRITE_AHEAD_S * RATE + 160
    engine.close()
