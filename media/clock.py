"""The injectable clock (STYLE.md §9): domain code asks it for time and timers.

`LoopClock` is the production clock over the running asyncio loop; `FakeClock` is advanced by
tests and fires due timers in time order, so timer-driven state machines (SIP transactions,
jitter buffers, IVR timeouts) are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from typing import Any, Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        ...


class LoopClock:
    """Time and timers from the running asyncio event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        return self.loop.time()

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return self.loop.call_later(max(0.0, delay), callback, *args)


class _FakeTimer:
    __slots__ = ("when", "callback", "args", "cancelled")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that only moves when `advance()` is called."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._heap: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        timer = _FakeTimer(self._now + max(0.0, delay), callback, args)
        heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
        return timer

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer that falls due, in order."""
        target = self._now + seconds
        while self._heap and self._heap[0][0] <= target:
            when, _, timer = heapq.heappop(self._heap)
            self._now = max(self._now, when)
            if not timer.cancelled:
                timer.callback(*timer.args)
        self._now = target

    @property
    def pending(self) -> int:
        return sum(1 for _, _, t in self._heap if not t.cancelled)


def settle(fut: asyncio.Future[None]) -> None:
    """Resolve `fut` unless it already is (a timer callback)."""
    if not fut.done():
        fut.set_result(None)


async def sleep(clock: Clock, seconds: float) -> None:
    """Sleep on the injected clock."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    handle = clock.call_later(seconds, settle, done)
    try:
        await done
    finally:
        handle.cancel()
