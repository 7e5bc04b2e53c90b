"""Fakes for transcription tests: an in-memory case store, a scripted engine, a leg.

`MemoryStore` implements the `TranscriptStore` protocol the real cases/store.py provides; the
bench uses it too (it records when each segment was stored, for latency figures).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import numpy as np

from media.asr.base import TranscriptResult
from media.frames import AudioFrame, Pcm


@dataclass(frozen=True)
class Ref:
    customer_id: int
    case_id: int
    interaction_id: int


@dataclass
class StoredSegment:
    interaction_id: int
    speaker: str
    start: float
    end: float
    text: str
    confidence: float | None
    engine: str
    stored_at: float  # loop time when add_segment ran
    language: str | None = None  # as a multilingual stream said (voice.language_pools)


@dataclass
class Interaction:
    caller: str
    call_id: str
    direction: str
    dialed: str | None
    outcome: str | None = None
    segments: list[StoredSegment] = field(default_factory=list)


class MemoryStore:
    """The case store's transcription surface, in memory."""

    def __init__(self, fail_segments: int = 0) -> None:
        self.interactions: dict[int, Interaction] = {}
        self._ids = itertools.count(1)
        self._seg_ids = itertools.count(1)
        self.fail_segments = fail_segments  # the next N add_segment calls raise

    async def start_voice_interaction(
        self, *, caller: str, call_id: str, direction: str = "inbound", dialed: str | None = None
    ) -> Ref:
        iid = next(self._ids)
        self.interactions[iid] = Interaction(caller, call_id, direction, dialed)
        return Ref(customer_id=1, case_id=1, interaction_id=iid)

    async def add_segment(
        self, interaction_id: int, *, speaker: str, start: float, end: float, text: str,
        confidence: float | None, engine: str, language: str | None = None,
    ) -> int:
        if self.fail_segments:
            self.fail_segments -= 1
            raise ConnectionError("database unavailable")
        now = asyncio.get_running_loop().time()
        self.interactions[interaction_id].segments.append(
            StoredSegment(interaction_id, speaker, start, end, text, confidence, engine, now,
                          language)
        )
        return next(self._seg_ids)

    async def end_interaction(
        self, interaction_id: int, *, outcome: str, summary: str | None = None
    ) -> None:
        self.interactions[interaction_id].outcome = outcome


class FakeStream:
    """Loud frames are speech; the first quiet frame after speech ends an utterance.

    Each speech frame yields a partial; each utterance a final "u<N>". `fail_on` makes the
    N-th final (1-based) raise instead; `final_delay` makes finals slow.
    """

    def __init__(
        self, rate: int, fail_on: int | None = None, final_delay: float = 0.0,
        texts: list[str] | None = None,
    ) -> None:
        self.rate = rate
        self.texts = texts  # the finals' texts in turn, instead of "u<N>"
        self.fail_on = fail_on
        self.final_delay = final_delay
        self.samples = 0
        self._speech_start: float | None = None
        self._speech_end = 0.0
        self._finals = 0
        self._out: deque[TranscriptResult | Exception | None] = deque()
        self._ready = asyncio.Event()
        self.ended = False
        self.closed = False
        self.frames = 0
        self.dropped_frames = 0

    def push_frame(self, frame: AudioFrame) -> None:
        if self.ended:
            raise RuntimeError("push_frame() after end_input()")
        self.frames += 1
        t0 = self.samples / self.rate
        self.samples += len(frame.samples)
        t1 = self.samples / self.rate
        if np.abs(frame.samples).max() > 1000:
            if self._speech_start is None:
                self._speech_start = t0
            self._speech_end = t1
            self._put(TranscriptResult("so far", False, self._speech_start, t1, None, "fake"))
        elif self._speech_start is not None:
            self._final()

    def flush(self) -> None:
        if self._speech_start is not None:
            self._final()

    def end_input(self) -> None:
        self.flush()
        self.ended = True
        self._out.append(None)
        self._ready.set()

    def _final(self) -> None:
        assert self._speech_start is not None
        self._finals += 1
        item: TranscriptResult | Exception
        if self._finals == self.fail_on:
            item = RuntimeError("model crashed")
        else:
            text = self.texts[self._finals - 1] if self.texts else f"u{self._finals}"
            item = TranscriptResult(
                text, True, self._speech_start, self._speech_end, 0.9, "fake"
            )
        self._speech_start = None
        self._put(item)

    def _put(self, item: TranscriptResult | Exception) -> None:
        self._out.append(item)
        self._ready.set()

    def __aiter__(self) -> AsyncIterator[TranscriptResult]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[TranscriptResult]:
        while True:
            while not self._out:
                self._ready.clear()
                await self._ready.wait()
            item = self._out.popleft()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            if item.is_final and self.final_delay:
                await asyncio.sleep(self.final_delay)
            yield item

    async def aclose(self) -> None:
        self.closed = True


class FakeEngine:
    """`stream(rate)` factory; remembers its streams. `make` customises each new stream."""

    def __init__(self, make: Callable[[int, int], FakeStream] | None = None) -> None:
        self.streams: list[FakeStream] = []
        self._make = make or (lambda rate, n: FakeStream(rate))

    def stream(self, rate: int) -> FakeStream:
        s = self._make(rate, len(self.streams))
        self.streams.append(s)
        return s


class FakeLeg:
    """A leg whose tick the test drives: `emit(samples)` calls every listener."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[AudioFrame], None]] = []

    def add_listener(self, listener: Callable[[AudioFrame], None]) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: Callable[[AudioFrame], None]) -> None:
        self.listeners.remove(listener)

    def emit(self, samples: Pcm, timestamp: int = 0) -> None:
        """One frame to every listener; `timestamp` in samples (RTP style), 0 = unknown."""
        frame = AudioFrame(samples.astype(np.int16), 8000, timestamp)
        for listener in list(self.listeners):
            listener(frame)


LOUD = np.full(160, 5000, dtype=np.int16)
QUIET = np.zeros(160, dtype=np.int16)
