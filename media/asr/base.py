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

Backpressure (STYLE.md §6) comes in two kinds, chosen when the stream is made:

* **Live** (the default: a call's audio, which must never wait). Audio waits in a bounded
  input buffer; when the worker is behind, it takes everything waiting as one chunk and skips
  the partial result for it (a partial about audio already superseded is worthless), counting
  each skip in `dropped_partials`. Results wait in a bounded output buffer for the reader;
  when it is full a partial is dropped first, and only if no partial is left is the oldest
  final dropped (`dropped_finals`). Past `MAX_PENDING_AUDIO_S` of unprocessed audio the oldest
  frames are dropped (`dropped_frames`, `dropped_audio_s`). Load is shed in that order:
  partials, then audio, then finals, and every drop is counted.
* **Lossless** (`stream(rate, lossless=True)`: files, batch jobs, voicemail). Nothing is ever
  dropped: the writer awaits `write(frame)`, which waits while more than `WRITE_AHEAD_S` of
  audio is queued, and the worker waits for the reader when the output buffer is full.

Result times stay true after a drop: `start`/`end` count every sample pushed, dropped ones
included (the stream keeps where in the recogniser's input each drop happened and maps the
recogniser's times back), so a segment after a drop is where it was said.

Errors: a recogniser that raises stops the stream; results already made are still delivered,
then `__anext__` raises `RecognitionError` from the original exception.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import dataclasses
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
# Lossless streams: `write()` waits while this much audio is queued. Enough to keep the
# recogniser busy (it takes the queue as one chunk) without holding a whole file in memory.
WRITE_AHEAD_S = 5.0


class AsrError(Exception):
    """Base of speech-recognition errors.

    AsrError
     ├── ModelNotFoundError        a configured model directory or packaged model is missing
     ├── UnsupportedLanguageError  the model does not know the language asked for
     └── RecognitionError          a stream's recogniser failed (raised from the original error)
    """


class ModelNotFoundError(AsrError):
    """The model an engine was configured with cannot be found."""


class UnsupportedLanguageError(AsrError):
    """The engine's model cannot recognise the language asked for (tiny.en and Spanish)."""


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

    def stream(self, sample_rate: int, *, lossless: bool = False) -> AsrStream:
        """A new recognition stream for audio at `sample_rate` (8000 or 16000); `lossless`
        for files and batch jobs (see the module docstring)."""
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

    def make_recognizer(self, sample_rate: int, hints: tuple[str, ...] = ()) -> Recognizer:
        """A recogniser for one stream; `hints` are phrases the caller is likely to say
        (a menu's choices, product names): each engine uses them as it can, or not at all."""
        raise NotImplementedError

    def load(self) -> object:
        """Load the model now (blocking; off the event loop). Engines whose model loads
        lazily override it, so a missing model or a language it lacks is an error before
        any audio is pushed rather than a failed stream."""
        return None

    def stream(
        self, sample_rate: int, *, lossless: bool = False, hints: tuple[str, ...] = ()
    ) -> AsrStream:
        return AsrStream(self, sample_rate, lossless=lossless, hints=hints)

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
    it; iterating to the end also finishes it. Counters (plain attributes, for metrics):
    `dropped_frames` and `dropped_audio_s` (audio never recognised), `dropped_partials`,
    `dropped_finals`; all stay 0 on a lossless stream except `dropped_partials` (a partial
    skipped while catching up loses no words).
    """

    def __init__(
        self, engine: RecognizerEngine, sample_rate: int, *, lossless: bool = False,
        hints: tuple[str, ...] = (),
    ) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"sample_rate must be 8000 or 16000, got {sample_rate}")
        self.engine = engine
        self.hints = hints
        self.sample_rate = sample_rate
        self.lossless = lossless
        self._loop = asyncio.get_running_loop()
        self._input: deque[Pcm | _Marker] = deque()
        self._pending_samples = 0
        self._max_samples = int(MAX_PENDING_AUDIO_S * sample_rate)
        self._write_ahead = int(WRITE_AHEAD_S * sample_rate)
        self._input_ready = asyncio.Event()
        self._input_room = asyncio.Event()
        self._output: deque[TranscriptResult] = deque()
        self._output_ready = asyncio.Event()
        self._output_room = asyncio.Event()
        self._ended = False
        self._done = False
        self._error: BaseException | None = None
        self._inflight: asyncio.Future[Any] | None = None
        self._making: asyncio.Future[Recognizer] | None = None
        # Where audio was dropped, in the recogniser's input: at recogniser sample
        # `_skip_at[i]`, `_skip_total[i]` samples of the stream had been dropped in all.
        self._fed = 0
        self._skip_at: list[int] = []
        self._skip_total: list[int] = []
        self.dropped_partials = 0
        self.dropped_finals = 0
        self.dropped_frames = 0
        self.dropped_audio_s = 0.0
        self._task = asyncio.create_task(self._run(), name=f"asr-{engine.name}-stream")

    # -- input -------------------------------------------------------------------------------

    def push_frame(self, frame: AudioFrame) -> None:
        """Queue a frame of audio; returns at once. On a live stream the oldest queued audio
        gives way past `MAX_PENDING_AUDIO_S`; a lossless stream keeps it all (its writer
        should `await write()` instead, which bounds the queue)."""
        if self._ended:
            raise RuntimeError("push_frame() after end_input()")
        if frame.sample_rate != self.sample_rate:
            raise ValueError(f"stream is {self.sample_rate} Hz, frame is {frame.sample_rate} Hz")
        self._input.append(frame.samples)
        self._pending_samples += len(frame.samples)
        if not self.lossless:
            while self._pending_samples > self._max_samples:
                self._drop_oldest_audio()
        self._input_ready.set()

    async def write(self, frame: AudioFrame) -> None:
        """Queue a frame, first waiting while `WRITE_AHEAD_S` of audio is queued: the pace of
        a file or batch job is the recogniser's, and nothing is dropped. A stream that has
        failed or closed stops making the writer wait (the reader gets the error)."""
        while self._pending_samples >= self._write_ahead and not self._done:
            self._input_room.clear()
            await self._input_room.wait()
        self.push_frame(frame)

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
                self.dropped_frames += 1
                self.dropped_audio_s += len(item) / self.sample_rate
                # Everything the worker took so far precedes this audio: the recogniser will
                # see its next sample, number `_fed`, where this audio would have begun.
                total = (self._skip_total[-1] if self._skip_total else 0) + len(item)
                if self._skip_at and self._skip_at[-1] == self._fed:
                    self._skip_total[-1] = total
                else:
                    self._skip_at.append(self._fed)
                    self._skip_total.append(total)
                return

    def _stream_time(self, t: float, is_end: bool) -> float:
        """A recogniser time (seconds of the audio it was given) → seconds of the stream,
        dropped audio included. An end exactly at a drop belongs to the audio before it."""
        if not self._skip_at:
            return t
        pos = round(t * self.sample_rate)
        find = bisect.bisect_left if is_end else bisect.bisect_right
        i = find(self._skip_at, pos) - 1
        return t if i < 0 else t + self._skip_total[i] / self.sample_rate

    def _true_times(self, result: TranscriptResult) -> TranscriptResult:
        if not self._skip_at:
            return result
        return dataclasses.replace(
            result,
            start=self._stream_time(result.start, False),
            end=self._stream_time(result.end, True),
        )

    # -- output ------------------------------------------------------------------------------

    @property
    def pending_audio_s(self) -> float:
        """Audio queued for the recogniser that its worker has not taken yet, in seconds (the
        stream's queue depth: how far recognition is behind what was pushed)."""
        return self._pending_samples / self.sample_rate

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
                self._output_room.set()
                return self._output.popleft()
            if self._error is not None:
                raise RecognitionError(
                    f"{self.engine.name} recognition failed: {type(self._error).__name__}"
                ) from self._error
            if self._done:
                raise StopAsyncIteration
            self._output_ready.clear()
            await self._output_ready.wait()

    async def _wait_output_room(self) -> None:
        while len(self._output) >= MAX_PENDING_RESULTS:
            self._output_room.clear()
            await self._output_room.wait()

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

    def _submit(self, fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """`fn(*args)` on the engine's executor, as the call in flight."""
        fut = self._loop.run_in_executor(self.engine.executor, fn, *args)
        self._inflight = fut
        return fut

    async def _call(self, fn: Callable[..., T], *args: object) -> T:
        # Shielded: cancelling the worker must not mark the call done while its thread still
        # runs; `_close_recognizer` waits for it.
        return await asyncio.shield(self._submit(fn, *args))

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
        self._fed += len(pcm)
        self._input_room.set()
        return pcm, len(pcm) > PARTIAL_LAG_S * self.sample_rate

    async def _run(self) -> None:
        recognizer: Recognizer | None = None
        try:
            # Hints only when there are some: an engine written before them takes the rate.
            args = (self.sample_rate, self.hints) if self.hints else (self.sample_rate,)
            # Kept: a cancel while the engine is making it must still close what it makes.
            self._making = self._submit(self.engine.make_recognizer, *args)
            recognizer = await asyncio.shield(self._making)
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
                    if self.lossless:
                        await self._wait_output_room()
                    self._put(self._true_times(r))
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
                self._input_room.set()

    async def _close_recognizer(self, recognizer: Recognizer | None) -> None:
        # After a cancel the recogniser may still be busy in its thread: let that call end
        # before close() so the two never run at once.
        if self._inflight is not None and not self._inflight.done():
            await asyncio.wait([self._inflight])
        making = self._making
        if (recognizer is None and making is not None and making.done()
                and not making.cancelled() and making.exception() is None):
            # Cancelled while the engine was still making it: it was made all the same.
            recognizer = making.result()
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
