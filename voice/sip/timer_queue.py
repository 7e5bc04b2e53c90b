"""Timers that all share one delay, kept in arrival order behind one loop timer.

Every UDP transaction arms a 64*T1 (32 s) timer — Timer L on an answered INVITE, Timer J on
each BYE — so at 1,500 calls/s some 100,000 handles sit in asyncio's timer heap, whose
ordering is a Python `__lt__` per comparison on every push and pop. Timers of one fixed delay
expire in the order they were armed, so a FIFO holds them at O(1) each, with only its head
in the loop's heap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from media.clock import Clock, TimerHandle


class _Entry:
    __slots__ = ("when", "callback", "args", "cancelled")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = _noop  # drop references now, not when its time comes
        self.args = ()


def _noop(*_args: Any) -> None:
    pass


class FixedDelayClock:
    """A `Clock` whose `call_later(delay)` goes to a FIFO when `delay` is the shared one.

    Any other delay is passed to the wrapped clock unchanged. Entries fire at their own time
    (the head timer is re-armed for the next entry), in the order they were armed.
    """

    def __init__(self, clock: Clock, delay: float) -> None:
        self._clock = clock
        self.delay = delay
        self._queue: deque[_Entry] = deque()
        self._head: TimerHandle | None = None
        self._firing = False  # entries armed by a callback wait for the re-arm after the loop

    def now(self) -> float:
        return self._clock.now()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        if delay != self.delay:
            return self._clock.call_later(delay, callback, *args)
        entry = _Entry(self._clock.now() + delay, callback, args)
        self._queue.append(entry)
        if self._head is None and not self._firing:
            self._head = self._clock.call_later(delay, self._fire)
        return entry

    @property
    def pending(self) -> int:
        return sum(1 for e in self._queue if not e.cancelled)

    def _fire(self) -> None:
        self._head = None
        queue = self._queue
        now = self._clock.now()
        self._firing = True
        try:
            while queue and queue[0].when <= now:
                entry = queue.popleft()
                if not entry.cancelled:
                    entry.callback(*entry.args)
        finally:
            self._firing = False
        # Skip cancelled entries at the head: no wake-up is armed just to discard them.
        while queue and queue[0].cancelled:
            queue.popleft()
        if queue:
            self._head = self._clock.call_later(queue[0].when - now, self._fire)
