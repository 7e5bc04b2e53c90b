"""One 20 ms media clock for every leg in the process.

A timer per call would cost 50 wake-ups a second per call; one ticker walks every registered
leg on each tick instead, on an absolute schedule (tick N is due at start + N*20 ms, so
lateness never accumulates). If a tick starts more than one period late, the missed ticks are
skipped and counted rather than run back to back: stale audio is worse than lost audio
(STYLE.md §6).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)

PERIOD = 0.020
# Enough samples for stable p99 figures over ~80 s of ticks without unbounded growth.
LATENESS_WINDOW = 4096


class Tickable(Protocol):
    def tick(self) -> None:
        """Move 20 ms of audio in and out. Must not block or await."""
        ...


class MediaTicker:
    """Calls `tick()` on every registered participant every 20 ms."""

    def __init__(self, period: float = PERIOD, now: Callable[[], float] | None = None) -> None:
        self._period = period
        self._now = now
        self._members: dict[int, Tickable] = {}
        self._after: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None
        self.lateness: deque[float] = deque(maxlen=LATENESS_WINDOW)
        self.skipped_ticks = 0
        self.ticks = 0
        self.errors = 0

    def add(self, member: Tickable) -> None:
        self._members[id(member)] = member

    def after_tick(self, callback: Callable[[], None]) -> None:
        """Run `callback` after every member's tick, each tick: work the members queued for
        a whole batch (in-band DTMF of every leg) runs once instead of once per leg."""
        self._after.append(callback)

    def discard(self, member: Tickable) -> None:
        self._members.pop(id(member), None)

    def __len__(self) -> int:
        return len(self._members)

    @property
    def tick_index(self) -> int:
        """The schedule position of the latest tick: ticks run plus ticks skipped. A member
        that keeps a timeline (a recording) sees from it how many ticks it missed."""
        return self.ticks + self.skipped_ticks

    def member_kinds(self) -> dict[str, int]:
        """How many members of each class are on the clock (legs by kind, for metrics)."""
        out: dict[str, int] = {}
        for member in list(self._members.values()):
            name = type(member).__name__
            out[name] = out.get(name, 0) + 1
        return out

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="media-ticker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def lateness_percentile(self, q: float) -> float:
        """Tick lateness in seconds at quantile q (0..1) over the recent window."""
        if not self.lateness:
            return 0.0
        ordered = sorted(self.lateness)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        now = self._now or loop.time
        start = now()
        n = 0
        while True:
            n += 1
            due = start + n * self._period
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            late = now() - due
            if late > self._period:
                missed = int(late / self._period)
                self.skipped_ticks += missed
                n += missed
                late -= missed * self._period
            self.lateness.append(max(0.0, late))
            self.ticks += 1
            for member in list(self._members.values()):
                try:
                    member.tick()
                except Exception:
                    # One broken leg must not silence every other call in the process. Only
                    # the leg's own code gets here: its consumers are taps behind a
                    # media.taps.TapFanout, which detaches a tap that raises and never lets
                    # it take the leg off the clock.
                    self.errors += 1
                    self._members.pop(id(member), None)
                    log.exception("media tick failed; leg removed from the clock")
            for callback in self._after:
                try:
                    callback()
                except Exception:
                    self.errors += 1
                    log.exception("media after-tick callback failed")
