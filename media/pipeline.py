"""Frame processors chained by direct calls (STYLE.md §3, §6).

A call's media path is a handful of processors (decode → DTMF → VAD → ASR tap ...). With 400
calls × 50 frames/s each way, a task and a queue per processor per call would cost more than
the DSP itself, so a `Pipeline` is a plain call chain: `queue_frame()` awaits the first
processor, which awaits `push_frame()` into the next, and so on. Nothing is scheduled.

Ordering is still honoured where frames can actually wait:

* on the way in, while a processor is suspended inside an `await` a frame that arrives is held;
  held control frames go before held data, and an `InterruptFrame` discards held data;
* on the way out, frames collect in a bounded output buffer that the 20 ms ticker drains with
  `read_frame()`: control frames first, and an `InterruptFrame` empties the buffered data
  (barge-in cuts the prompt being played) before it is handed out itself.

Both buffers are bounded and drop the oldest data frame when full, counting it: stale audio is
worse than lost audio.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from media.frames import ControlFrame, Frame, InterruptFrame

# One second of 20 ms frames. Input only waits while a processor is suspended in an await;
# more than a second of backlog means that processor is stuck and old audio is worthless.
MAX_PENDING_INPUT = 50
# Half a second of output: enough to ride out a late tick, small enough that a barge-in or a
# hold never plays seconds of stale audio.
MAX_BUFFERED_OUTPUT = 25


class FrameProcessor:
    """One step of a media path.

    Subclasses override `process_frame()` and call `push_frame()` for what they emit. Frames a
    processor does not understand must be pushed on unchanged; the default does exactly that.
    `process_frame()` must not block: it runs on the event loop inside the 20 ms budget.
    """

    def __init__(self) -> None:
        self._next: FrameProcessor | None = None

    def link(self, nxt: FrameProcessor) -> FrameProcessor:
        """Send this processor's output to `nxt`; returns `nxt` so links can be chained."""
        self._next = nxt
        return nxt

    async def process_frame(self, frame: Frame) -> None:
        """Handle one frame. The default passes it through."""
        await self.push_frame(frame)

    async def push_frame(self, frame: Frame) -> None:
        """Hand `frame` to the next processor (dropped if this is the last one)."""
        if self._next is not None:
            await self._next.process_frame(frame)


class _Tail(FrameProcessor):
    def __init__(self, pipeline: Pipeline) -> None:
        super().__init__()
        self._pipeline = pipeline

    async def process_frame(self, frame: Frame) -> None:
        self._pipeline._emit(frame)


class Pipeline:
    """A chain of processors with one way in (`queue_frame`) and one way out.

    Output goes to `sink` if one is given (called synchronously, in order), otherwise it is
    buffered for `read_frame()`.
    """

    def __init__(
        self,
        processors: Iterable[FrameProcessor],
        sink: Callable[[Frame], None] | None = None,
        max_output: int = MAX_BUFFERED_OUTPUT,
        max_pending: int = MAX_PENDING_INPUT,
    ) -> None:
        self.processors = list(processors)
        self._sink = sink
        tail = _Tail(self)
        chain: list[FrameProcessor] = [*self.processors, tail]
        for a, b in zip(chain, chain[1:], strict=False):
            a.link(b)
        self._head = chain[0]
        self._running = False
        self._pending_control: deque[ControlFrame] = deque()
        self._pending_data: deque[Frame] = deque()
        self._max_pending = max_pending
        self._out_control: deque[ControlFrame] = deque()
        self._out_data: deque[Frame] = deque()
        self._max_output = max_output
        # Overflow drops (a stuck processor, a consumer not ticking) vs barge-in flushes.
        self.dropped_input = 0
        self.dropped_output = 0
        self.flushed = 0

    async def queue_frame(self, frame: Frame) -> None:
        """Feed one frame in. Returns once it (and anything held behind it) went through."""
        if isinstance(frame, ControlFrame):
            if isinstance(frame, InterruptFrame):
                self.flushed += len(self._pending_data)
                self._pending_data.clear()
            self._pending_control.append(frame)
        else:
            if len(self._pending_data) >= self._max_pending:
                self._pending_data.popleft()
                self.dropped_input += 1
            self._pending_data.append(frame)
        if self._running:
            # The coroutine that is already driving the chain will pick it up.
            return
        self._running = True
        try:
            while self._pending_control or self._pending_data:
                nxt = (
                    self._pending_control.popleft()
                    if self._pending_control
                    else self._pending_data.popleft()
                )
                await self._head.process_frame(nxt)
        finally:
            self._running = False

    def read_frame(self) -> Frame | None:
        """The next output frame, control frames first; None when nothing is buffered."""
        if self._out_control:
            return self._out_control.popleft()
        if self._out_data:
            return self._out_data.popleft()
        return None

    def drain(self) -> list[Frame]:
        """Every buffered output frame, in `read_frame()` order."""
        out: list[Frame] = []
        while (f := self.read_frame()) is not None:
            out.append(f)
        return out

    @property
    def buffered(self) -> int:
        return len(self._out_control) + len(self._out_data)

    def _emit(self, frame: Frame) -> None:
        if self._sink is not None:
            self._sink(frame)
            return
        if isinstance(frame, ControlFrame):
            if isinstance(frame, InterruptFrame):
                self.flushed += len(self._out_data)
                self._out_data.clear()
            self._out_control.append(frame)
            return
        if len(self._out_data) >= self._max_output:
            self._out_data.popleft()
            self.dropped_output += 1
        self._out_data.append(frame)
