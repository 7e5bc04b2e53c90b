"""One whisper worker pool for every call: oldest utterance first, short windows, batches.

    pool = UtterancePool(workers=2)     # or UtterancePool(engine=the_whisper_engine)
    pool.load()                         # blocking: the model, once per process
    service = TranscriptionService(store, pool.stream, clock)
    ...
    pool.close()

Why not the stock engine's stream? Its recogniser runs VAD *and* whisper inside one pool
call per chunk, and the pool is first-come first-served, so a cheap VAD chunk of one call
waits behind another call's whole recognition. Here each stream cuts utterances with the VAD
on the event loop (webrtcvad: µs per frame) and only finished utterances go to the shared
workers, in a priority queue ordered by when each utterance ended: under load the oldest
caller is answered first and nobody starves.

Two levers on whisper's cost, measured on this project's 2-core machines (tiny.en, int8,
the five recorded utterances through 8 kHz PCMU):

* **Short windows.** faster-whisper pads every utterance to whisper's 30 s window; the encoder
  cost is ~0.40 s of CPU of the ~0.45–0.55 s per utterance. CTranslate2 accepts a shorter
  mel input, and the encoder cost falls with it. Each utterance gets a window of its speech
  plus ≥ 3 s of silence, 10 s at the least (media.asr.whisper: `MIN_WINDOW`, `TAIL_PAD`, and
  the figures that chose them): 5 s windows cost ~25% less CPU per utterance, but whisper
  repeated itself on them (decoding loops, each done again on 30 s).
* **Batches.** A worker that finds several utterances waiting decodes up to `max_batch` of
  them in one `generate` call (padded to the longest). On CPU the decoder's steps are bound
  by reading the weights, which a batch shares: 4 a batch halved the
  decoder's CPU per utterance (0.095 -> 0.05 s) and left the encoder's as it was; 8 saved no
  more decoding and padded more windows. Under load batches fill by themselves (a worker
  takes what waited while it decoded); a lone utterance is decoded at once.
  Measured again 2026-12-07 (CPU ms per utterance, encoder / decoder, 10 s windows, one
  thread, CTranslate2 on AVX-512, a busy machine): 1 a batch 82 / 84, 2 85 / 68, 4 89 / 55,
  8 115 / 46.
  Past 4 the encoder costs more per utterance than the decoder saves, so `max_batch`
  stays 4.

Where the CPU of an utterance goes (2026-12-07, process CPU on the five recorded
utterances, 4 a batch, and py-spy / perf on the bench's calls), before -> after this date's
changes: mel spectrogram 27 -> 3 ms (numpy's OpenBLAS spun both cores for its one matrix
product; media.asr.whisper.log_mel), encoder 89-97 ms (80-83 with CTranslate2's kernels on
AVX-512, not kept: media.asr.whisper's window figures), decoder 51-57 ms (the int8
vocabulary projection and cross-attention over the window's 500 positions, ~2.2 ms a
token), resampling to 16 kHz 2.5 ms; this pool's Python under 1%.
Each call's own work on the event loop (µ-law decode, VAD, the transcriber's ring buffer)
is per 20 ms frame, not per utterance.

The decoding itself (windows, one `generate` per batch, whisper's no-speech rule, junk text)
is `media.asr.whisper.WhisperEngine.decode`, which the stock engine uses too: a file given to
`centralita transcribe` is decoded as a call's utterances are.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from media.asr.base import RecognitionError, TranscriptResult
from media.asr.whisper import WhisperEngine
from media.frames import AudioFrame
from media.vad import Utterance, UtteranceSegmenter, VadConfig, make_detector

log = logging.getLogger(__name__)

V = TypeVar("V")

# Per stream: finished utterances waiting for a worker. Past this the oldest waiting one is
# dropped (counted): a line that talks faster than it can be recognised must not grow memory.
MAX_PENDING_UTTERANCES = 16
# Jobs a worker looks at past the oldest for ones with the same hints to batch with it.
BATCH_SCAN = 8


@dataclass(order=True)
class _Job:
    priority: float
    seq: int
    utterance: Utterance = field(compare=False)
    rate: int = field(compare=False)
    hints: tuple[str, ...] = field(compare=False)
    loop: asyncio.AbstractEventLoop = field(compare=False)
    future: asyncio.Future[tuple[str, float | None]] = field(compare=False)


class UtterancePool:
    """Whisper worker threads shared by every stream of the process."""

    name = "whisper"

    def __init__(
        self,
        engine: WhisperEngine | None = None,
        *,
        vad: str = "webrtc",
        vad_config: VadConfig | None = None,
        workers: int = 2,
        max_batch: int = 4,
    ) -> None:
        self._own_engine = engine is None
        self.engine = engine or WhisperEngine("tiny.en", workers=workers)
        self.vad = vad
        self.vad_config = vad_config or VadConfig(hangover_ms=300)
        self.max_batch = max_batch
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._work, name=f"utt-pool-{i}", daemon=True)
            for i in range(workers)
        ]
        self._started = False
        self.batches = 0
        self.utterances = 0

    def load(self) -> None:
        """Load the model and start the workers (blocking: call it before serving)."""
        self.engine.load()
        self.engine.prompt()
        if not self._started:
            self._started = True
            for t in self._threads:
                t.start()

    def start(self) -> None:
        """Start the workers now and load the model beside them, without waiting (a pool
        made on a call's first use of its language: voice.language_pools). Jobs that arrive
        first wait for the model inside their worker (`decode` loads it)."""
        if self._started:
            return
        self._started = True
        threading.Thread(target=self._warm, name="utt-pool-load", daemon=True).start()
        for t in self._threads:
            t.start()

    def _warm(self) -> None:
        try:
            self.engine.load()
            self.engine.prompt()
        except Exception as exc:  # the first job fails the same way and says so to its reader
            log.warning(
                "whisper model %s did not load: %s", self.engine.model_name, type(exc).__name__
            )

    @property
    def queued(self) -> int:
        """Utterances waiting for a worker (the ASR queue's depth, for metrics)."""
        return len(self._heap)

    def stream(self, sample_rate: int, *, hints: tuple[str, ...] = ()) -> PooledStream:
        """A stream for one party (8 or 16 kHz); its VAD runs on the caller's event loop.
        `hints`: phrases the party is likely to say (media.asr.whisper: phrase hints)."""
        if not self._started:
            raise RuntimeError("UtterancePool.load() first")
        return PooledStream(self, sample_rate, hints)

    def submit(
        self, utt: Utterance, rate: int, priority: float, hints: tuple[str, ...] = ()
    ) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[tuple[str, float | None]] = loop.create_future()
        with self._cond:
            if self._stopping:
                raise RuntimeError("the utterance pool is closed")
            heapq.heappush(self._heap, _Job(priority, next(self._seq), utt, rate, hints, loop, fut))
            self._cond.notify()
        return fut

    def close(self) -> None:
        """Stop the workers (waiting jobs fail with RuntimeError); close the engine if the
        pool made it (an engine passed in belongs to whoever passed it)."""
        with self._cond:
            self._stopping = True
            waiting, self._heap = self._heap, []
            self._cond.notify_all()
        for job in waiting:
            _resolve(job, RuntimeError("the utterance pool closed"))
        for t in self._threads:
            if t.is_alive():
                t.join()
        if self._own_engine:
            self.engine.close()

    # -- worker threads --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                batch = [heapq.heappop(self._heap)]
                # One generate call takes one prompt shape (media.asr.whisper), so a batch
                # holds utterances with the oldest one's hints; a bounded look past others.
                others: list[_Job] = []
                while self._heap and len(batch) < self.max_batch and len(others) < BATCH_SCAN:
                    job = heapq.heappop(self._heap)
                    (batch if job.hints == batch[0].hints else others).append(job)
                for job in others:
                    heapq.heappush(self._heap, job)
            # A job whose stream was closed meanwhile is skipped, not decoded.
            batch = [j for j in batch if not j.future.done()]
            if not batch:
                continue
            try:
                texts = self._decode(batch)
            except Exception as exc:  # handed to each stream, which re-raises it to its reader
                for job in batch:
                    _resolve(job, exc)
                continue
            for job, out in zip(batch, texts, strict=True):
                _resolve(job, out)

    def _decode(self, batch: list[_Job]) -> list[tuple[str, float | None]]:
        # Short windows and one generate call per batch: media.asr.whisper.WhisperEngine.decode
        # (shared with `centralita transcribe`, so a file is decoded as a call would be).
        out = self.engine.decode(
            [(job.utterance.samples, job.rate) for job in batch], batch[0].hints
        )
        self.batches += 1
        self.utterances += len(batch)
        return out


def _resolve(job: _Job, value: tuple[str, float | None] | BaseException) -> None:
    def settle() -> None:
        if job.future.done():
            return
        if isinstance(value, BaseException):
            job.future.set_exception(value)
        else:
            job.future.set_result(value)

    # A RuntimeError means the stream's loop is gone: nobody is waiting any more.
    with contextlib.suppress(RuntimeError):
        job.loop.call_soon_threadsafe(settle)


class UtteranceStream(Generic[V]):
    """One party's stream: VAD here, on the caller's event loop; each finished utterance's
    recognition started at once (`_recognise`, a subclass's); finals in utterance order
    (`_final`). The backlog rule, backpressure and closing are shared by the pooled stream
    below and voice.language_pools.LanguageStream.

    A dropped or abandoned utterance's future is settled with None: "nothing said" (a pool
    worker skips a job whose future is done)."""

    def __init__(self, sample_rate: int, vad: str, vad_config: VadConfig) -> None:
        if sample_rate not in (8000, 16000):
            raise ValueError(f"sample_rate must be 8000 or 16000, got {sample_rate}")
        self.sample_rate = sample_rate
        self._loop = asyncio.get_running_loop()
        self._segmenter = UtteranceSegmenter(make_detector(vad, sample_rate), vad_config)
        self._pending: deque[tuple[Utterance, asyncio.Future[V | None]]] = deque()
        self._changed = asyncio.Event()
        self._room = asyncio.Event()  # set when the reader takes an utterance off `_pending`
        self._ended = False
        self._frame_len = max(1, sample_rate // 50)  # 20 ms
        # Utterances dropped unrecognised by the backlog rule, and their audio in 20 ms frames
        # (the transcriber adds these to its `dropped_frames`).
        self.dropped_finals = 0
        self.dropped_frames = 0

    def _recognise(self, utt: Utterance) -> asyncio.Future[V | None]:
        """Start recognising `utt` (it has just ended); its result, or None for nothing."""
        raise NotImplementedError

    def _final(self, utt: Utterance, value: V) -> TranscriptResult | None:
        """The final for `utt` recognised as `value` (None: nothing was said)."""
        raise NotImplementedError

    def push_frame(self, frame: AudioFrame) -> None:
        if self._ended:
            raise RuntimeError("push_frame() after end_input()")
        self._submit(self._segmenter.push(frame.samples))

    async def write(self, frame: AudioFrame) -> None:
        """`push_frame`, first waiting while `MAX_PENDING_UTTERANCES` wait for the reader: a
        recording or batch job goes at the workers' pace and no utterance is dropped. The
        reader must iterate meanwhile (its reading is what makes room)."""
        while len(self._pending) >= MAX_PENDING_UTTERANCES and not self._ended:
            self._room.clear()
            await self._room.wait()
        self.push_frame(frame)

    def flush(self) -> None:
        if self._ended:
            raise RuntimeError("flush() after end_input()")
        self._submit(self._segmenter.flush())

    def end_input(self) -> None:
        if not self._ended:
            self._submit(self._segmenter.flush())
            self._ended = True
            self._changed.set()

    def _submit(self, events: list[Any]) -> None:
        for ev in events:
            if not isinstance(ev, Utterance):
                continue
            if len(self._pending) >= MAX_PENDING_UTTERANCES:
                dropped, old = self._pending.popleft()
                if not old.done():  # its job is skipped; the reader sees "nothing said"
                    old.set_result(None)
                self.dropped_finals += 1
                self.dropped_frames += -(-len(dropped.samples) // self._frame_len)
            self._pending.append((ev, self._recognise(ev)))
            self._changed.set()

    def __aiter__(self) -> AsyncIterator[TranscriptResult]:
        return self._results()

    async def _results(self) -> AsyncIterator[TranscriptResult]:
        while True:
            if self._pending:
                utt, fut = self._pending[0]
                try:
                    value = await fut
                except Exception as exc:
                    raise RecognitionError(f"whisper failed: {type(exc).__name__}") from exc
                finally:
                    # Unless the backlog rule already dropped it while we waited.
                    if self._pending and self._pending[0][1] is fut:
                        self._pending.popleft()
                    self._room.set()
                result = None if value is None else self._final(utt, value)
                if result is not None:
                    yield result
                continue
            if self._ended:
                return
            self._changed.clear()
            await self._changed.wait()

    async def aclose(self) -> None:
        """Drop utterances not yet recognised (their jobs are skipped by the workers)."""
        self._ended = True
        while self._pending:
            _, fut = self._pending.popleft()
            if not fut.done():
                fut.set_result(None)
        self._changed.set()
        self._room.set()


class PooledStream(UtteranceStream[tuple[str, float | None]]):
    """One party's stream: VAD here, recognition in the pool, finals in utterance order."""

    def __init__(self, pool: UtterancePool, sample_rate: int, hints: tuple[str, ...] = ()) -> None:
        super().__init__(sample_rate, pool.vad, pool.vad_config)
        self.pool = pool
        self.hints = hints

    def _recognise(self, utt: Utterance) -> asyncio.Future[tuple[str, float | None] | None]:
        return self.pool.submit(utt, self.sample_rate, self._loop.time(), self.hints)

    def _final(self, utt: Utterance, value: tuple[str, float | None]) -> TranscriptResult | None:
        text, conf = value
        return TranscriptResult(text, True, utt.start, utt.end, conf, "whisper") if text else None
