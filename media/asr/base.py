"""The speech-recognition engine interface (STYLE.md §7) and the stream that runs it.

    engine = create_engine("whisper")
    stream = engine.stream(sample_rate=8000)
    stream.push_frame(frame)          # from the 20 ms media path; never blocks
    stream.flush()                    # finish the current utterance now (end of a turn)
    stream.end_input()                # no more audio; results end after the last final
    async for result in stream:       # TranscriptResult, partials and finals
        ...

An engine only supplies a synchronous `Recognizer` per stream (Whisper, Vosk and PocketSphinx
all block for milliseconds to a second). `AsrStream` owns the rest: one worker task per stream
that hands the recogniser's calls to the engine's thread pool, so recognition never runs on
the event loop and one stream's calls never overlap.

Backpressure (STYLE.md §6). Audio waits in a bounded input buffer; when the worker is behind,
it takes everything waiting as one chunk and skips the partial result for it (a partial about
audio already superseded is worthless), counting each skip in `dropped_partials`. Results
wait in a bounded output buffer for the reader; when it is full a partial is dropped first,
and only if no partial is left is the oldest final dropped (`dropped_finals`). Past
`MAX_PENDING_AUDIO_S` of unprocessed audio the oldest is dropped (`dropped_audio_s`).

Errors: a recogniser that raises stops the stream; results already made are still delivered,
then `__anext__` raises `RecognitionError` from the original exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np

from media.frames import AudioFrame, Pcm

T = TypeVar("T")

# A reader slower than this many results is not reading live; keep the newest finals.
MAX_PENDING_RESULTS = 32
# Audio older than this behind the recogniser is dropped: a transcript that lags a live call
# by more than half a minute is no use to the agent, and memory must stay bounded per call.
MAX_PENDING_AUDIO_S = 30.0
# A worker that finds more than this much audio waiting is behind: it skips that partial.
PARTIAL_LAG_S = 0.5


class AsrError(Exception):
    """Base of speech-recognition errors.

    AsrError
     ├── ModelNotFoundError   a configured model directory or packaged model is missing
     └── RecognitionError     a stream's recogniser failed (raised from the original error)
    """


class ModelNotFoundError(AsrError):
    """The model an engine was configured with cannot be found."""


class RecognitionError(AsrError):
    """A stream's background recognition failed; `__cause__` is the original exception."""


@dataclass(frozen=True, slots=True)
class TranscriptResult:
    """A piece of transcript. `start`/`end` are seconds from the stream's first sample.

    Partials (`is_final=False`) are revisable guesses about speech still going on; a final
    replaces the partials before it. `confidence` is engine-specific (0..1) or None when the
    engine gives none. The text is personal data: it is kept out of the repr.
    """

    text: str
    is_final: bool
    start: float
    end: float
    confidence: float | None
    engine: str

    def __repr__(self) -> str:
        kind = "final" if self.is_final else "partial"
        return (
            f"TranscriptResult({kind}, {self.start:.2f}-{self.end:.2f}s, "
            f"chars={len(self.text)}, engine={self.engine!r})"
        )


class Recognizer(Protocol):
    """One stream's synchronous recogniser; every call runs in a worker thread, in order."""

    def accept(self, pcm: Pcm, want_partial: bool) -> list[TranscriptResult]:
        """Take the stream's next audio; return the results it completed. A partial is only
        wanted when the stream is caught up."""
        ...

    def flush(self) -> list[TranscriptResult]:
        """Finish the utterance in progress and return its final, if any."""
        ...

    def close(self) -> None:
        """Release per-stream resources."""
        ...


class AsrEngine(Protocol):
    """What the media path needs from an engine."""

    name: str

    def stream(self, sample_rate: int) -> AsrStream:
        """A new recognition stream for audio at `sample_rate` (8000 or 16000)."""
        ...

    def close(self) -> None:
        """Release the engine (its thread pool); streams must be closed first."""
        ...


class RecognizerEngine:
    """Base of the engines here: a model shared by all streams, a bounded thread pool.

    Subclasses implement `make_recognizer()`, which runs in the pool (it may load the model
    on first use: loading takes seconds and must not stall the event loop).
    """

    name = "base"

    def __init__(self, executor: Executor | None = None, workers: int = 2) -> None:
        self._own_executor = executor is None
        self.executor: Executor = executor or ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix=f"asr-{self.name}"
        )

    def make_recognizer(self, sample_rate: int) -> Recognizer:
        raise NotImplementedError

    def stream(self, sample_rate: int) -> AsrStream:
        return AsrStream(self, sample_rate)

    def close(self) -> None:
        if self._own_executor:
            self.executor.shutdown(wait=True, cancel_futures=True)


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


_FLUSH = _Marker("flush")
_END = _Marker("end")


class AsrStream:
    """Push audio in, iterate results out. Must be created and used on one event loop.

    The stream's worker task is owned here: `aclose()` (or `async with`) cancels and awaits
    it; iterating to the end also finishes it.
    """

    def __init__(self, engine: RecognizerEngine, sample_rate: int) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"sample_rate must be 8000 or 16000, got {sample_rate}")
        self.engine = engine
        self.sample_rate = sample_rate
        self._loop = asyncio.get_running_loop()
        self._input: deque[Pcm | _Marker] = deque()
        self._pending_samples = 0
        self._max_samples = int(MAX_PENDING_AUDIO_S * sample_rate)
        self._input_ready = asyncio.Event()
        self._output: deque[TranscriptResult] = deque()
        self._output_ready = asyncio.Event()
        self._ended = False
        self._done = False
        self._error: BaseException | None = None
        self._inflight: asyncio.Future[Any] | None = None
        self.dropped_partials = 0
        self.dropped_finals = 0
        self.dropped_audio_s = 0.0
        self._task = asyncio.create_task(self._run(), name=f"asr-{engine.name}-stream")

    # -- input -------------------------------------------------------------------------------

    def push_frame(self, frame: AudioFrame) -> None:
        """Queue a frame of audio; returns at once."""
        if self._ended:
            raise RuntimeError("push_frame() after end_input()")
        if frame.sample_rate != self.sample_rate:
            raise ValueError(f"stream is {self.sample_rate} Hz, frame is {frame.sample_rate} Hz")
        self._input.append(frame.samples)
        self._pending_samples += len(frame.samples)
        while self._pending_samples > self._max_samples:
            self._drop_oldest_audio()
        self._input_ready.set()

    def flush(self) -> None:
        """Ask for the current utterance's final now (e.g. the caller's turn ended)."""
        if self._ended:
            raise RuntimeError("flush() after end_input()")
        self._input.append(_FLUSH)
        self._input_ready.set()

    def end_input(self) -> None:
        """No more audio: the remaining audio is recognised, then iteration stops."""
        if not self._ended:
            self._ended = True
            self._input.append(_END)
            self._input_ready.set()

    def _drop_oldest_audio(self) -> None:
        for i, item in enumerate(self._input):
            if not isinstance(item, _Marker):
                del self._input[i]
                self._pending_samples -= len(item)
                self.dropped_audio_s += len(item) / self.sample_rate
                return

    # -- output ------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """The worker has stopped (input ended and recognised, failed, or closed)."""
        return self._done

    async def join(self) -> None:
        """Wait until the worker has stopped, leaving the results unread."""
        await asyncio.wait([self._task])

    def __aiter__(self) -> AsrStream:
        return self

    async def __anext__(self) -> TranscriptResult:
        while True:
            if self._output:
                return self._output.popleft()
            if self._error is not None:
                raise RecognitionError(
                    f"{self.engine.name} recognition failed: {type(self._error).__name__}"
                ) from self._error
            if self._done:
                raise StopAsyncIteration
            self._output_ready.clear()
            await self._output_ready.wait()

    def _put(self, result: TranscriptResult) -> None:
        if len(self._output) >= MAX_PENDING_RESULTS:
            if not result.is_final:
                self.dropped_partials += 1
                return
            for i, old in enumerate(self._output):
                if not old.is_final:
                    del self._output[i]
                    self.dropped_partials += 1
                    break
            else:
                self._output.popleft()
                self.dropped_finals += 1
        self._output.append(result)
        self._output_ready.set()

    # -- worker ------------------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        fut = self._loop.run_in_executor(self.engine.executor, fn, *args)
        self._inflight = fut
        # Shielded: cancelling the worker must not mark the call done while its thread still
        # runs; `_close_recognizer` waits for it.
        return await asyncio.shield(fut)

    async def _next_item(self) -> tuple[Pcm | _Marker, bool]:
        """The next input item, and whether the worker is behind (audio was waiting)."""
        while not self._input:
            self._input_ready.clear()
            await self._input_ready.wait()
        first = self._input.popleft()
        if isinstance(first, _Marker):
            return first, False
        # Catch up: everything already waiting goes in as one chunk.
        chunks = [first]
        while self._input and not isinstance(self._input[0], _Marker):
            nxt = self._input.popleft()
            assert not isinstance(nxt, _Marker)
            chunks.append(nxt)
        pcm = np.concatenate(chunks) if len(chunks) > 1 else first
        self._pending_samples -= len(pcm)
        return pcm, len(pcm) > PARTIAL_LAG_S * self.sample_rate

    async def _run(self) -> None:
        recognizer: Recognizer | None = None
        try:
            recognizer = await self._call(self.engine.make_recognizer, self.sample_rate)
            while True:
                item, behind = await self._next_item()
                if isinstance(item, _Marker):
                    results = await self._call(recognizer.flush)
                else:
                    if behind:
                        # A partial about audio this old is stale before it is made.
                        self.dropped_partials += 1
                    results = await self._call(recognizer.accept, item, not behind)
                for r in results:
                    self._put(r)
                if item is _END:
                    break
        except Exception as exc:  # re-raised to the reader by __anext__
            self._error = exc
        finally:
            # The reader sees the end only once the recogniser is closed.
            try:
                await self._close_recognizer(recognizer)
            finally:
                self._done = True
                self._output_ready.set()

    async def _close_recognizer(self, recognizer: Recognizer | None) -> None:
        # After a cancel the recogniser may still be busy in its thread: let that call end
        # before close() so the two never run at once.
        if self._inflight is not None and not self._inflight.done():
            await asyncio.wait([self._inflight])
        if recognizer is not None:
            with contextlib.suppress(Exception):
                closing = self._loop.run_in_executor(self.engine.executor, recognizer.close)
                await asyncio.shield(closing)

    async def aclose(self) -> None:
        """Stop recognising and wait for the worker to finish."""
        self._ended = True
        if not self._task.done():
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def __aenter__(self) -> AsrStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
